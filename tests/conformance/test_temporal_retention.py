"""History retention per entity type (MADINA_HISTORY_RETENTION): rows older than their type's
limit go, a day's check at a time; other types keep theirs, or the `*` limit."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings
from madina.store.history import Retention

from .conftest import BASE

NOW = datetime.now(UTC)
AGES = (10, 100, 400)
"""Days before now of each entity's three instances."""


def observed_days_ago(days: int) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed(client: TestClient) -> None:
    for entity_id, entity_type in (("urn:ngsi-ld:AirQualityObserved:1", "AirQualityObserved"),
                                   ("urn:ngsi-ld:Streetlight:1", "Streetlight"),
                                   ("urn:ngsi-ld:Thing:1", "https://example.org/types/Thing")):
        body = {"id": entity_id, "type": entity_type, "reading": [
            {"type": "Property", "value": days, "observedAt": observed_days_ago(days)}
            for days in AGES]}
        assert client.post(f"{BASE}/temporal/entities", json=body).status_code == 201


def ages(client: TestClient, entity_id: str) -> list[int]:
    answer = client.get(f"{BASE}/temporal/entities/{entity_id}", params={"attrs": "reading"})
    assert answer.status_code == 200, answer.text
    return sorted(i["value"] for i in answer.json().get("reading", []))


def test_each_type_keeps_its_own_days(client) -> None:
    seed(client)
    store = client.app.state.store
    retention = Retention.parse("AirQualityObserved=90d,https://example.org/types/Thing=30d,"
                                "*=365d")
    assert store.history.expire(retention, NOW) > 0
    assert ages(client, "urn:ngsi-ld:AirQualityObserved:1") == [10]
    assert ages(client, "urn:ngsi-ld:Thing:1") == [10]
    assert ages(client, "urn:ngsi-ld:Streetlight:1") == [10, 100]
    assert store.history.expire(retention, NOW) == 0


def test_without_a_default_other_types_are_kept(client) -> None:
    seed(client)
    client.app.state.store.history.expire(Retention.parse("Streetlight=50d"), NOW)
    assert ages(client, "urn:ngsi-ld:Streetlight:1") == [10]
    assert ages(client, "urn:ngsi-ld:AirQualityObserved:1") == [10, 100, 400]


def test_the_app_expires_history_when_it_starts(settings: Settings) -> None:
    headers = {"Authorization": f"Bearer {settings.admin_token}"}
    with TestClient(create_app(settings), headers=headers) as client:
        seed(client)
    expiring = settings.model_copy(update={"history_retention": "AirQualityObserved=50d"})
    with TestClient(create_app(expiring), headers=headers) as client:
        deadline = time.monotonic() + 10
        while ages(client, "urn:ngsi-ld:AirQualityObserved:1") != [10]:
            assert time.monotonic() < deadline, "history was not expired at start"
            time.sleep(0.05)
        assert ages(client, "urn:ngsi-ld:Streetlight:1") == [10, 100, 400]


def test_rules_and_partitions() -> None:
    rules = Retention.parse("AirQualityObserved=90d, Alert=730d, *=365d")
    assert rules.per_type == (("AirQualityObserved", 90), ("Alert", 730))
    assert rules.partition_days == 730  # no month may go while Alerts younger remain
    assert [cutoff for _, _, cutoff in rules.deletions(NOW, drops_partitions=True)] == [
        (NOW - timedelta(days=90)).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        (NOW - timedelta(days=365)).isoformat(timespec="microseconds").replace("+00:00", "Z"),
    ]
    assert Retention.parse("", 400).partition_days == 400
    assert Retention.parse("Alert=30d").partition_days is None
    for bad in ("Alert=30", "Alert=0d", "=30d", "Al ert=3d", "Alert=30d=4"):
        with pytest.raises(ValueError):
            Retention.parse(bad)
    with pytest.raises(ValueError):
        Settings(history_retention="Alert=thirty days")
