"""The aggregated temporal representation (clause 4.5.19): every aggregation method, computed
by the database, against a Python reference on random histories; period edges for hours, days
and calendar months; PT0S as the whole range."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import BASE

METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
ORIGIN = datetime(2026, 3, 1, tzinfo=UTC)
ENTITY_NUMBER = count()


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def post_history(client, entity_id: str, instances: list[tuple[Any, datetime]],
                 attr: str = "reading", **extra: Any) -> None:
    body = {"id": entity_id, "type": "Sensor", attr: [
        {"type": "Property", "value": value, "observedAt": iso(at), **extra}
        for value, at in instances
    ]}
    response = client.post(f"{BASE}/temporal/entities", json=body)
    assert response.status_code == 201, response.text


def aggregated(client, entity_id: str, methods: str, period: str, **params: Any) -> dict:
    response = client.get(f"{BASE}/temporal/entities/{entity_id}", params={
        "aggrMethods": methods, "aggrPeriodDuration": period, **params})
    assert response.status_code == 200, response.text
    return response.json()


def reference(values: list[Any]) -> dict[str, Any]:
    """What each method means (clause 4.5.19): counts over every value, the rest over the
    numbers only (booleans are not numbers), sample standard deviation."""
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]

    def key(value: Any) -> tuple:
        if isinstance(value, bool):
            return ("boolean", value)
        if isinstance(value, int | float):
            return ("number", float(value))
        return ("text", value)

    return {
        "totalCount": len(values),
        "distinctCount": len({key(v) for v in values}),
        "sum": math.fsum(numbers) if numbers else None,
        "avg": statistics.fmean(numbers) if numbers else None,
        "min": min(numbers) if numbers else None,
        "max": max(numbers) if numbers else None,
        "stddev": statistics.stdev(numbers) if len(numbers) > 1 else None,
        "sumsq": math.fsum(n * n for n in numbers) if numbers else None,
    }


def close(got: Any, expected: Any, method: str) -> bool:
    if expected is None or got is None:
        return got is expected
    if method in ("totalCount", "distinctCount"):
        return got == expected
    scale = max(1.0, abs(expected))
    tolerance = 1e-6 if method == "stddev" else 1e-9
    return math.isclose(got, expected, rel_tol=tolerance, abs_tol=tolerance * scale)


values = st.one_of(
    st.integers(-10**6, 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from(["low", "high", "ok"]),
    st.booleans(),
)
histories = st.lists(
    st.tuples(values, st.integers(0, 3 * 24 * 3600 - 1)), min_size=1, max_size=40
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories, period_hours=st.sampled_from([1, 6, 24]))
def test_every_method_matches_the_reference(client, history, period_hours) -> None:
    entity_id = f"urn:ngsi-ld:Sensor:aggr-{next(ENTITY_NUMBER)}"
    instances = [(value, ORIGIN + timedelta(seconds=offset)) for value, offset in history]
    post_history(client, entity_id, instances)
    answer = aggregated(client, entity_id, ",".join(METHODS), f"PT{period_hours}H",
                        timerel="after", timeAt=iso(ORIGIN))
    buckets: dict[int, list[Any]] = {}
    for value, offset in history:
        buckets.setdefault(offset // (period_hours * 3600), []).append(value)
    attribute = answer["reading"]
    assert attribute["type"] == "Property"
    for method in METHODS:
        triples = attribute[method]
        assert [t[1] for t in triples] == [
            iso(ORIGIN + timedelta(hours=period_hours * b)).replace(".000000", "")
            for b in sorted(buckets)
        ], method
        for (got, _, end), bucket in zip(triples, sorted(buckets), strict=True):
            expected = reference(buckets[bucket])[method]
            assert close(got, expected, method), (method, bucket, got, expected)
            assert end == iso(
                ORIGIN + timedelta(hours=period_hours * (bucket + 1))
            ).replace(".000000", "")


def test_hourly_edges_put_an_instance_on_the_edge_in_the_later_period(client) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    post_history(client, "urn:ngsi-ld:Sensor:edges", [
        (1, start), (2, start + timedelta(minutes=59, seconds=59, microseconds=999999)),
        (10, start + timedelta(hours=1)), (20, start + timedelta(hours=2, minutes=30)),
    ])
    answer = aggregated(client, "urn:ngsi-ld:Sensor:edges", "sum,totalCount", "PT1H")
    assert answer["reading"]["sum"] == [
        [3.0, "2026-03-01T00:00:00Z", "2026-03-01T01:00:00Z"],
        [10.0, "2026-03-01T01:00:00Z", "2026-03-01T02:00:00Z"],
        [20.0, "2026-03-01T02:00:00Z", "2026-03-01T03:00:00Z"],
    ]
    assert [t[0] for t in answer["reading"]["totalCount"]] == [2, 1, 1]


def test_daily_periods_start_at_time_at(client) -> None:
    start = datetime(2026, 3, 1, 6, tzinfo=UTC)
    post_history(client, "urn:ngsi-ld:Sensor:daily", [
        (5, start), (7, start + timedelta(hours=17)), (9, start + timedelta(days=1, hours=1)),
    ])
    answer = aggregated(client, "urn:ngsi-ld:Sensor:daily", "avg,min,max", "P1D",
                        timerel="between", timeAt="2026-03-01T00:00:00Z",
                        endTimeAt="2026-03-03T00:00:00Z")
    reading = answer["reading"]
    assert reading["avg"] == [[6.0, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"],
                              [9.0, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"]]
    assert [t[0] for t in reading["min"]] == [5.0, 9.0]
    assert [t[0] for t in reading["max"]] == [7.0, 9.0]


def test_monthly_periods_follow_the_calendar(client) -> None:
    """P1M from 31 January: the next periods start on the last day of February, then on 31
    March (each edge is the origin plus n months, never a drifting sum)."""
    instances = [(1, datetime(2026, 1, 31, tzinfo=UTC)), (2, datetime(2026, 2, 27, tzinfo=UTC)),
                 (4, datetime(2026, 2, 28, 12, tzinfo=UTC)),
                 (8, datetime(2026, 3, 30, tzinfo=UTC)), (16, datetime(2026, 3, 31, tzinfo=UTC))]
    post_history(client, "urn:ngsi-ld:Sensor:monthly", instances)
    answer = aggregated(client, "urn:ngsi-ld:Sensor:monthly", "sum", "P1M")
    assert answer["reading"]["sum"] == [
        [3.0, "2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"],
        [12.0, "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"],
        [16.0, "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"],
    ]


def test_pt0s_is_one_period_over_the_whole_range(client) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    post_history(client, "urn:ngsi-ld:Sensor:whole", [
        (1, start), (2, start + timedelta(days=40)), (6, start + timedelta(days=400))])
    whole = aggregated(client, "urn:ngsi-ld:Sensor:whole", "sum,totalCount", "PT0S")
    assert whole["reading"]["sum"] == [[9.0, "2026-03-01T00:00:00Z", "2027-04-05T00:00:00Z"]]
    between = aggregated(client, "urn:ngsi-ld:Sensor:whole", "sum", "P0D", timerel="between",
                         timeAt="2026-02-01T00:00:00Z", endTimeAt="2026-05-01T00:00:00Z")
    assert between["reading"]["sum"] == [[3.0, "2026-02-01T00:00:00Z", "2026-05-01T00:00:00Z"]]
    implied = client.get(f"{BASE}/temporal/entities/urn:ngsi-ld:Sensor:whole",
                         params={"aggrMethods": "max"}).json()
    assert implied["reading"]["max"] == [[6.0, "2026-03-01T00:00:00Z", "2027-04-05T00:00:00Z"]]


def test_text_values_are_counted_but_not_summed(client) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    post_history(client, "urn:ngsi-ld:Sensor:status", [
        ("ok", start), ("fault", start + timedelta(minutes=1)), ("ok", start + timedelta(minutes=2))
    ], attr="status")
    answer = aggregated(client, "urn:ngsi-ld:Sensor:status",
                        "totalCount,distinctCount,avg,max", "PT1H")
    status = answer["status"]
    assert status["totalCount"][0][0] == 3
    assert status["distinctCount"][0][0] == 2
    assert status["avg"][0][0] is None
    assert status["max"][0][0] is None


def test_relationship_changes_are_counted(client) -> None:
    body = {"id": "urn:ngsi-ld:Car:parked", "type": "Car", "parkedIn": [
        {"type": "Relationship", "object": "urn:ngsi-ld:Parking:1",
         "observedAt": "2026-03-01T08:00:00Z"},
        {"type": "Relationship", "object": "urn:ngsi-ld:Parking:2",
         "observedAt": "2026-03-01T09:00:00Z"},
        {"type": "Relationship", "object": "urn:ngsi-ld:Parking:1",
         "observedAt": "2026-03-01T10:00:00Z"},
    ]}
    assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201
    answer = aggregated(client, "urn:ngsi-ld:Car:parked", "totalCount,distinctCount", "P1D")
    assert answer["parkedIn"]["type"] == "Relationship"
    assert answer["parkedIn"]["totalCount"][0][0] == 3
    assert answer["parkedIn"]["distinctCount"][0][0] == 2


def test_each_dataset_is_aggregated_apart(client) -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    post_history(client, "urn:ngsi-ld:Sensor:datasets", [(1, start), (3, start)])
    client.post(f"{BASE}/temporal/entities/urn:ngsi-ld:Sensor:datasets/attrs", json={
        "reading": [{"type": "Property", "value": 100, "observedAt": iso(start),
                     "datasetId": "urn:ngsi-ld:Dataset:b"}]})
    answer = aggregated(client, "urn:ngsi-ld:Sensor:datasets", "avg", "PT1H")
    by_dataset = {item.get("datasetId"): item["avg"][0][0] for item in answer["reading"]}
    assert by_dataset == {None: 2.0, "urn:ngsi-ld:Dataset:b": 100.0}


def test_periods_at_the_end_of_the_calendar(client) -> None:
    """The last period's edge cannot pass 9999-12-31T23:59:59.999999Z: it stops there."""
    post_history(client, "urn:ngsi-ld:Sensor:far", [
        (1, datetime(9999, 12, 31, 22, tzinfo=UTC)), (2, datetime(9999, 12, 31, 23, tzinfo=UTC))])
    for period in ("P1D", "P1M", "P1Y", "PT0S", "PT0.5S"):
        answer = aggregated(client, "urn:ngsi-ld:Sensor:far", "sum", period)
        triples = answer["reading"]["sum"]
        assert sum(t[0] for t in triples) == 3.0, period
        assert triples[-1][2] <= "9999-12-31T23:59:59.999999Z", period
