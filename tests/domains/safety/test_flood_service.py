"""The flood service end to end: gauge readings in → derived attributes, Alert entities and CAP
messages out, through raise → update → clear."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from madina.domains.safety import cap
from madina.domains.safety.config import SafetySettings
from madina.domains.safety.flood_service import FloodService
from madina.domains.safety.model import Area
from madina.domains.safety.public_warning import warning_from_alert
from madina.domains.writes import Write

GAUGE = "urn:ngsi-ld:WaterObserved:vantaa-1"
T0 = datetime(2026, 4, 1, tzinfo=UTC)
SETTINGS = {"flood": {"gauges": {GAUGE: {"advisory": 1.0, "watch": 1.5, "warning": 2.0,
                                         "danger": 2.5}}}}


def reading(height: Any, minutes: float, *, entity_id: str = GAUGE,
            entity_type: str = "WaterObserved", attribute: str = "height",
            **extra: Any) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {"id": entity_id, "type": entity_type,
            "name": {"type": "Property", "value": "Vantaa at Oulunkylä"},
            attribute: {"type": "Property", "value": height, "observedAt": at},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [24.9655, 60.2251]}},
            **extra}


def feed(service: FloodService, heights: list[float], every: float = 15.0,
         start: float = 0.0) -> list[list[Write]]:
    return [service.react(reading(h, start + i * every), T0 + timedelta(minutes=start + i * every))
            for i, h in enumerate(heights)]


def derived(writes: list[Write]) -> dict[str, Any]:
    observed = [w for w in writes if w.entity_type != "Alert"]
    assert len(observed) == 1 and observed[0].entity_id == GAUGE
    return observed[0].attributes


def alerts(writes: list[Write]) -> list[Write]:
    return [w for w in writes if w.entity_type == "Alert"]


@pytest.fixture
def service() -> FloodService:
    return FloodService(SafetySettings.from_dict(SETTINGS))


@pytest.mark.parametrize(("height", "level", "raised"), [
    (0.99, "normal", False), (1.0, "advisory", True), (1.49, "advisory", True),
    (1.5, "watch", True), (1.99, "watch", True), (2.0, "warning", True),
    (2.49, "warning", True), (2.5, "danger", True),
])
def test_the_level_on_both_sides_of_every_threshold(service, height, level, raised) -> None:
    writes = service.react(reading(height, 0), T0)
    assert derived(writes)["floodWarningLevel"] == {
        "type": "Property", "value": level, "observedAt": "2026-04-01T00:00:00Z"}
    assert bool(alerts(writes)) == raised


def test_raise_update_clear(service) -> None:
    rising = feed(service, [0.8, 0.9, 1.0, 1.3, 1.6, 2.1])
    [alert] = alerts(rising[2])
    digest = hashlib.sha1(GAUGE.encode()).hexdigest()[:8]
    assert alert.entity_id == f"urn:ngsi-ld:Alert:madina-flood-{digest}-20260401T003000Z"
    assert alert.attributes["severity"]["value"] == "low"
    assert alerts(rising[3]) == []  # same level: nothing to announce
    assert [alerts(w)[0].attributes["severity"]["value"] for w in rising[4:]] == \
        ["medium", "high"]
    assert {w.entity_id for ws in rising for w in alerts(ws)} == {alert.entity_id}
    falling = feed(service, [1.7, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], start=90)
    assert alerts(falling[0]) == []  # waiting lower_after (30 min) before going down
    lowered, cleared = [w for ws in falling for w in alerts(ws)]
    assert alerts(falling[2]) == [lowered]  # 30 min at or above watch, below warning
    assert lowered.attributes["data"]["value"]["level"] == "watch"
    assert alerts(falling[5]) == [cleared]  # then 30 min below every level
    assert cleared.entity_id == alert.entity_id
    assert cleared.attributes["data"]["value"]["level"] == "cleared"
    assert cleared.attributes["validTo"]["value"]["@value"] == "2026-04-01T02:45:00Z"
    messages = service.take_messages()
    assert [m.msg_type for m in messages] == ["Alert", "Update", "Update", "Update", "Cancel"]
    assert [m.infos[0].severity for m in messages] == [
        "Minor", "Moderate", "Severe", "Moderate", "Moderate"]
    for i, message in enumerate(messages):
        assert message.references == tuple(m.reference() for m in messages[:i])
        cap.validate(cap.message_xml(message))
    assert messages[-1].infos[0].response_types == ("AllClear",)


def test_a_new_rise_after_a_clear_is_a_new_warning(service) -> None:
    first = alerts(feed(service, [1.2])[0])[0].entity_id
    feed(service, [0.5, 0.5, 0.5], start=15)
    second = alerts(feed(service, [1.2], start=60)[0])[0].entity_id
    assert first != second
    assert [m.msg_type for m in service.take_messages()] == ["Alert", "Cancel", "Alert"]


def test_rate_of_rise_and_time_to_the_next_level(service) -> None:
    writes = feed(service, [1.0, 1.1, 1.2, 1.3])  # +0.1 m every 15 min
    attributes = derived(writes[-1])
    rate = 0.1 / 900
    assert attributes["waterLevelRiseRate"]["value"] == pytest.approx(rate)
    assert attributes["waterLevelRiseRate"]["unitCode"] == "MTS"
    assert attributes["nextFloodWarningLevel"]["value"] == "watch"
    assert attributes["timeToNextFloodWarningLevel"]["value"] == pytest.approx(0.2 / rate)
    assert attributes["timeToNextFloodWarningLevel"]["unitCode"] == "SEC"
    assert "waterLevelRiseRate" not in derived(writes[1])  # fewer than 3 readings
    steady = derived(feed(service, [1.3, 1.3, 1.3, 1.3], start=60)[-1])
    assert steady["nextFloodWarningLevel"]["value"] == "none"
    assert "timeToNextFloodWarningLevel" not in steady


def test_the_rate_ignores_a_spike(service) -> None:
    attributes = derived(feed(service, [1.0, 1.1, 3.9, 1.3, 1.4])[-1])
    assert attributes["waterLevelRiseRate"]["value"] == pytest.approx(0.1 / 900)


def test_the_warning_texts_tell_the_reading_and_the_projection(service) -> None:
    feed(service, [1.6, 1.7, 1.8])
    feed(service, [2.0], start=45)
    alert, update = service.take_messages()
    assert alert.infos[0].headline == "Flood watch: Vantaa at Oulunkylä"
    assert update.infos[0].description == (
        "The water level at Vantaa at Oulunkylä was 2.00 m at 2026-04-01T00:45:00Z, at or "
        "above the warning level (2.00 m). It is rising by 47 cm per hour and will reach the "
        "danger level (2.50 m) in about 1 h 04 min.")  # Theil-Sen: median of 6 slopes
    area = update.infos[0].areas[0]
    assert area.circles == ((60.2251, 24.9655, 1.0),)


def test_renewal_keeps_a_long_warning_alive(service) -> None:
    feed(service, [2.1] * 14, every=15)  # 3 h 15 min at the warning level
    messages = service.take_messages()
    assert [m.msg_type for m in messages] == ["Alert", "Update"]
    assert messages[1].sent - messages[0].sent == timedelta(hours=3)
    assert messages[1].infos[0].expires == messages[1].sent + timedelta(hours=6)


def test_flood_monitoring_entities_bring_their_own_levels() -> None:
    service = FloodService()
    station = "urn:ngsi-ld:FloodMonitoring:FWR013"
    levels = {"alertLevel": {"type": "Property", "value": 10.0},
              "dangerLevel": {"type": "Property", "value": 25.0}}

    def monitor(level: float, minutes: float) -> list[Write]:
        entity = reading(level, minutes, entity_id=station, entity_type="FloodMonitoring",
                         attribute="currentLevel", **levels)
        return service.react(entity, T0 + timedelta(minutes=minutes))

    writes = monitor(9.99, 0)
    assert writes[0].attributes["floodWarningLevel"]["value"] == "normal"
    writes = monitor(10.0, 15)
    assert writes[0].entity_type == "FloodMonitoring"
    assert writes[0].attributes["floodWarningLevel"]["value"] == "warning"
    assert alerts(writes)[0].attributes["severity"]["value"] == "high"
    assert monitor(25.0, 30)[0].attributes["floodWarningLevel"]["value"] == "danger"


def test_configured_levels_win_over_the_entity_s_own() -> None:
    station = "urn:ngsi-ld:FloodMonitoring:FWR013"
    service = FloodService(SafetySettings.from_dict(
        {"flood": {"gauges": {station: {"danger": 5.0}}}}))
    entity = reading(10.0, 0, entity_id=station, entity_type="FloodMonitoring",
                     attribute="currentLevel",
                     alertLevel={"type": "Property", "value": 20.0})
    assert service.react(entity, T0)[0].attributes["floodWarningLevel"]["value"] == "danger"


def test_a_gauge_without_levels_still_gets_its_rate() -> None:
    service = FloodService()
    writes = feed(service, [1.0, 1.1, 1.2])
    assert [w.entity_type for ws in writes for w in ws] == ["WaterObserved"]
    assert set(writes[-1][0].attributes) == {"waterLevelRiseRate"}
    assert writes[0] == []


def test_a_default_level_table_covers_unconfigured_gauges() -> None:
    service = FloodService(SafetySettings.from_dict(
        {"flood": {"default_levels": {"warning": 3.0}}}))
    other = "urn:ngsi-ld:WaterObserved:other"
    writes = service.react(reading(3.2, 0, entity_id=other), T0)
    assert writes[0].attributes["floodWarningLevel"]["value"] == "warning"


def test_a_configured_area_is_used() -> None:
    area = {"description": "Oulunkylä riverside",
            "polygons": [[[60.22, 24.96], [60.23, 24.97], [60.22, 24.98], [60.22, 24.96]]]}
    service = FloodService(SafetySettings.from_dict(
        {"flood": {**SETTINGS["flood"], "areas": {GAUGE: area}}}))
    feed(service, [1.2])
    [message] = service.take_messages()
    assert message.infos[0].areas == (Area(
        "Oulunkylä riverside",
        polygons=(((60.22, 24.96), (60.23, 24.97), (60.22, 24.98), (60.22, 24.96)),)),)


def test_the_alert_entity_reads_back_as_the_warning(service) -> None:
    [alert] = alerts(feed(service, [2.2])[0])
    warning = warning_from_alert({"id": alert.entity_id, "type": "Alert", **alert.attributes})
    assert (warning.level, warning.source_id, warning.hazard.key) == ("warning", GAUGE, "flood")
    assert warning.location == {"type": "Point", "coordinates": [24.9655, 60.2251]}


@pytest.mark.parametrize("entity", [
    {"id": GAUGE, "type": "WaterObserved"},
    reading("high", 0), reading(None, 0), reading(float("nan"), 0), reading(True, 0),
    reading(float("inf"), 0), {"type": "WaterObserved", "height": {"value": 1.0}},
    {"id": GAUGE, "type": ["WaterObserved"], "height": {"value": 1.0}},
    {"id": GAUGE, "type": "WeatherObserved", "height": {"value": 1.0}},
    {"id": GAUGE, "type": "WaterObserved", "height": "1.0"},
    {"id": GAUGE, "type": "WaterObserved", "height": []},
])
def test_unreadable_entities_are_skipped(service, entity) -> None:
    assert service.react(entity, T0) == []


def test_late_and_duplicate_readings_change_nothing(service) -> None:
    feed(service, [1.2, 1.3])
    assert service.react(reading(0.1, 15), T0 + timedelta(hours=1)) == []
    assert service.react(reading(5.0, 5), T0 + timedelta(hours=1)) == []
    assert [m.msg_type for m in service.take_messages()] == ["Alert"]


def test_reading_time_falls_back_to_date_observed_then_now(service) -> None:
    entity = reading(1.2, 0)
    del entity["height"]["observedAt"]
    entity["dateObserved"] = {"type": "Property",
                              "value": {"@type": "DateTime", "@value": "2026-04-01T03:00:00Z"}}
    assert derived(service.react(entity, T0))["floodWarningLevel"]["observedAt"] == \
        "2026-04-01T03:00:00Z"
    del entity["dateObserved"]
    now = T0 + timedelta(hours=5)
    assert derived(service.react(entity, now))["floodWarningLevel"]["observedAt"] == \
        "2026-04-01T05:00:00Z"


def test_memory_is_bounded_and_keeps_gauges_with_active_warnings() -> None:
    settings = SafetySettings.from_dict({"flood": {"default_levels": {"warning": 2.0},
                                                   "max_gauges": 3}})
    service = FloodService(settings)
    service.react(reading(2.5, 0, entity_id="urn:g:active"), T0)
    for i in range(10):
        service.react(reading(0.5, i + 1, entity_id=f"urn:g:{i}"), T0)
    assert len(service._gauges) == 3
    writes = service.react(reading(0.1, 120, entity_id="urn:g:active"),
                           T0 + timedelta(hours=2))
    service.react(reading(0.1, 200, entity_id="urn:g:active"), T0 + timedelta(hours=3))
    assert [m.msg_type for m in service.take_messages()] == ["Alert", "Cancel"]
    assert writes
