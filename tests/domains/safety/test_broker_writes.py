"""What the safety services write is accepted by the broker as the domain runtime applies it
(batch upsert, updating existing entities), on both engines: derived attributes land on the
gauge and the station, Alert entities are created, updated and closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from madina.config import Settings
from madina.context.broker import Broker
from madina.domains.safety.config import SafetySettings
from madina.domains.safety.flood_service import FloodService
from madina.domains.safety.heat_service import HeatService
from madina.domains.writes import Write
from madina.store.base import EntityQuery, EntitySelector
from tests.context.entity_helpers import DEFAULT, Terms

GAUGE = "urn:ngsi-ld:WaterObserved:vantaa-1"
STATION = "urn:ngsi-ld:WeatherObserved:kaisaniemi"
T0 = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.fixture
def broker(settings: Settings) -> Iterator[Broker]:
    store = settings.store()
    store.open()
    try:
        yield Broker(store)
    finally:
        store.close()


def apply(broker: Broker, writes: list[Write]) -> None:
    """As madina.domains.runtime.DomainRuntime.process commits a batch's writes."""
    items = [({"id": w.entity_id, "type": w.entity_type, **w.attributes}, Terms())
             for w in writes]
    result = broker.batch_upsert("", items, replace=False)
    assert result.errors == []


def value(broker: Broker, entity_id: str, name: str):
    attribute = broker.store.get("", entity_id)[DEFAULT + name][0]
    return attribute.get("value", attribute.get("object"))


def test_flood_writes_through_a_whole_warning(broker: Broker) -> None:
    service = FloodService(SafetySettings.from_dict(
        {"flood": {"gauges": {GAUGE: {"advisory": 1.0, "warning": 2.0}}}}))
    alert_ids = set()
    heights = [0.8, 0.9, 1.1, 1.6, 2.2, 2.2, 1.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    for i, height in enumerate(heights):
        at = T0 + timedelta(minutes=15 * i)
        entity = {"id": GAUGE, "type": "WaterObserved",
                  "height": {"type": "Property", "value": height, "observedAt": at.isoformat()},
                  "location": {"type": "GeoProperty",
                               "value": {"type": "Point", "coordinates": [24.96, 60.22]}}}
        writes = service.react(entity, at)
        apply(broker, writes)
        alert_ids |= {w.entity_id for w in writes if w.entity_type == "Alert"}
        if i == 4:
            assert value(broker, GAUGE, "floodWarningLevel") == "warning"
            assert value(broker, GAUGE, "nextFloodWarningLevel") == "none"  # the top level
        if i == 3:
            assert value(broker, GAUGE, "nextFloodWarningLevel") == "warning"
            assert value(broker, GAUGE, "timeToNextFloodWarningLevel") > 0
    assert value(broker, GAUGE, "floodWarningLevel") == "normal"
    assert value(broker, GAUGE, "waterLevelRiseRate") == 0.0  # an hour at 0.5 m
    [alert_id] = alert_ids
    assert value(broker, alert_id, "subCategory") == "flood"
    assert value(broker, alert_id, "alertSource") == GAUGE
    assert value(broker, alert_id, "data")["level"] == "cleared"
    assert value(broker, alert_id, "validTo") == {"@type": "DateTime",
                                                  "@value": "2026-04-01T02:45:00Z"}


def test_heat_writes(broker: Broker) -> None:
    service = HeatService()
    for i in range(6):
        at = T0 + timedelta(minutes=30 * i)
        apply(broker, service.react({
            "id": STATION, "type": "WeatherObserved",
            "temperature": {"type": "Property", "value": 35.0, "observedAt": at.isoformat()},
            "relativeHumidity": {"type": "Property", "value": 0.55},
        }, at))
    assert value(broker, STATION, "heatRisk") == "danger"
    alerts, _ = broker.store.query(
        "", EntityQuery(selectors=[EntitySelector(types=DEFAULT + "Alert")]))
    [alert] = alerts
    assert alert[DEFAULT + "severity"][0]["value"] == "high"
    assert alert[DEFAULT + "subCategory"][0]["value"] == "highTemperature"
