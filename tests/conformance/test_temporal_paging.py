"""Paging long histories (clause 6.3.10): past the instance limit the answer is 206 Partial
Content, every attribute cut to one common time range, which `Content-Range: date-time
<first>-<last>/<size>` names; forwards from the oldest, or backwards (lastN) from the newest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings

from .conftest import BASE

LIMIT = 4
CAR = "urn:ngsi-ld:Vehicle:paged"
START = datetime(2020, 1, 1, tzinfo=UTC)


def at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def small(settings: Settings) -> Iterator[TestClient]:
    """A broker sending at most LIMIT instances per attribute; `speed` has ten instances a
    minute apart, `fuel` six, every other minute from minute 1."""
    limited = settings.model_copy(update={"temporal_max_instances": LIMIT})
    headers = {"Authorization": f"Bearer {settings.admin_token}"}
    with TestClient(create_app(limited), headers=headers) as client:
        body = {"id": CAR, "type": "Vehicle",
                "speed": [{"type": "Property", "value": m, "observedAt": at(m)}
                          for m in range(10)],
                "fuel": [{"type": "Property", "value": 100 + m, "observedAt": at(m)}
                         for m in range(1, 12, 2)]}
        assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201
        yield client


def get(client: TestClient, **params: Any):
    return client.get(f"{BASE}/temporal/entities/{CAR}", params=params)


def minutes(attribute: list[dict[str, Any]]) -> list[int]:
    return [instance["value"] % 100 for instance in attribute]


def test_forwards_from_the_oldest_to_a_common_end(small) -> None:
    answer = get(small)
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == f"date-time {at(0)}-{at(3)}/*"
    body = answer.json()
    assert minutes(body["speed"]) == [0, 1, 2, 3]
    assert minutes(body["fuel"]) == [1, 3]  # cut at speed's fourth instance


def test_following_the_range_reads_everything_once(small) -> None:
    seen: dict[str, list[int]] = {"speed": [], "fuel": []}
    time_at = at(0)
    for _ in range(10):
        answer = get(small, timerel="after", timeAt=time_at)
        for name in seen:
            seen[name] += [m for m in minutes(answer.json().get(name, []))
                           if not seen[name] or m > seen[name][-1]]
        if answer.status_code == 200:
            break
        assert answer.status_code == 206
        first, last = answer.headers["Content-Range"].removeprefix("date-time ").split("/")[0] \
            .split("Z-")
        assert first + "Z" == time_at
        time_at = last
    assert seen == {"speed": list(range(10)), "fuel": list(range(1, 12, 2))}


def test_backwards_with_last_n_beyond_the_limit(small) -> None:
    answer = get(small, lastN="8")
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == f"date-time {at(11)}-{at(6)}/8"
    body = answer.json()
    assert minutes(body["speed"]) == [6, 7, 8, 9]
    assert minutes(body["fuel"]) == [7, 9, 11]  # cut at speed's fourth newest instance


def test_backwards_range_starts_at_the_query_end(small) -> None:
    answer = get(small, lastN="6", timerel="before", timeAt=at(30))
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == f"date-time {at(30)}-{at(6)}/6"


def test_an_attribute_cut_away_entirely_stays_as_an_empty_list(small) -> None:
    early = {"id": CAR, "type": "Vehicle", "level": [
        {"type": "Property", "value": 7, "observedAt": at(50)}]}
    assert small.post(f"{BASE}/temporal/entities", json=early).status_code == 204
    body = get(small).json()
    assert body["level"] == []


def test_last_n_within_the_limit_is_complete(small) -> None:
    answer = get(small, lastN="3")
    assert answer.status_code == 200 and "Content-Range" not in answer.headers
    assert minutes(answer.json()["speed"]) == [7, 8, 9]


def test_a_history_within_the_limit_is_complete(small) -> None:
    answer = get(small, timerel="after", timeAt=at(7), attrs="speed")
    assert answer.status_code == 200 and "Content-Range" not in answer.headers


def test_temporal_values_and_queries_are_paged_alike(small) -> None:
    simplified = get(small, options="temporalValues")
    assert simplified.status_code == 206
    assert [v for v, _ in simplified.json()["speed"]["values"]] == [0, 1, 2, 3]
    listed = small.get(f"{BASE}/temporal/entities", params={"type": "Vehicle"})
    assert listed.status_code == 206
    assert listed.headers["Content-Range"] == f"date-time {at(0)}-{at(3)}/*"


def test_aggregation_periods_are_paged(small) -> None:
    answer = get(small, aggrMethods="sum", aggrPeriodDuration="PT1M", attrs="speed")
    assert answer.status_code == 206
    assert [t[0] for t in answer.json()["speed"]["sum"]] == [0, 1, 2, 3]
    assert answer.headers["Content-Range"] == f"date-time {at(0)}-{at(3)}/*"
