"""The heat service end to end: WeatherObserved in → heat index, heat risk, and heat warnings that
wait for the heat to persist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from madina.domains.safety import cap
from madina.domains.safety.config import SafetySettings
from madina.domains.safety.heat import heat_index_c
from madina.domains.safety.heat_service import HeatService
from madina.domains.writes import Write

STATION = "urn:ngsi-ld:WeatherObserved:kaisaniemi"
T0 = datetime(2026, 7, 20, 9, tzinfo=UTC)


def weather(temperature: Any, humidity: Any, minutes: float, **extra: Any) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    entity = {"id": STATION, "type": "WeatherObserved",
              "name": {"type": "Property", "value": "Kaisaniemi"},
              "temperature": {"type": "Property", "value": temperature, "observedAt": at},
              "location": {"type": "GeoProperty",
                           "value": {"type": "Point", "coordinates": [24.944, 60.175]}},
              **extra}
    if humidity is not None:
        entity["relativeHumidity"] = {"type": "Property", "value": humidity, "observedAt": at}
    return entity


def hourly(service: HeatService, readings: list[tuple[float, float]], start: float = 0.0,
           every: float = 30.0) -> list[list[Write]]:
    return [service.react(weather(t, rh, start + i * every),
                          T0 + timedelta(minutes=start + i * every))
            for i, (t, rh) in enumerate(readings)]


def alerts(writes: list[list[Write]]) -> list[Write]:
    return [w for ws in writes for w in ws if w.entity_type == "Alert"]


def test_heat_index_and_risk_are_written_back() -> None:
    [write] = HeatService().react(weather(35.0, 0.5, 0), T0)
    assert write.entity_id == STATION and write.entity_type == "WeatherObserved"
    assert write.attributes["heatIndex"] == {
        "type": "Property", "value": round(heat_index_c(35.0, 50.0), 1), "unitCode": "CEL",
        "observedAt": "2026-07-20T09:00:00Z"}
    assert write.attributes["heatRisk"]["value"] == "danger"  # 40.7 °C ≥ 39.44


@pytest.mark.parametrize(("temperature", "humidity", "risk"), [
    (20.0, 0.5, "none"), (26.0, 0.4, "none"), (27.0, 0.4, "caution"),
    (31.0, 0.5, "extremeCaution"), (33.0, 0.6, "danger"), (40.0, 0.7, "extremeDanger"),
])
def test_heat_risk_categories(temperature, humidity, risk) -> None:
    [write] = HeatService().react(weather(temperature, humidity, 0), T0)
    assert write.attributes["heatRisk"]["value"] == risk


@pytest.mark.parametrize("humidity", [0.5, 50, 50.0])
def test_humidity_as_a_fraction_or_percent(humidity) -> None:
    [write] = HeatService().react(weather(35.0, humidity, 0), T0)
    assert write.attributes["heatIndex"]["value"] == round(heat_index_c(35.0, 50.0), 1)


@pytest.mark.parametrize("humidity", [-0.1, 101.0, "wet", float("nan")])
def test_unusable_humidity_gives_no_heat_index(humidity) -> None:
    assert HeatService().react(weather(35.0, humidity, 0), T0) == []


def test_a_warning_waits_for_two_hours_of_heat() -> None:
    service = HeatService()
    hot = (35.0, 0.55)  # heat index ≈ 43 °C: "danger"
    writes = hourly(service, [hot] * 5)  # 0, 30, 60, 90, 120 min
    assert [bool(alerts([w])) for w in writes] == [False, False, False, False, True]
    [alert] = alerts(writes)
    assert alert.attributes["subCategory"]["value"] == "highTemperature"
    assert alert.attributes["severity"]["value"] == "high"
    [message] = service.take_messages()
    assert message.msg_type == "Alert"
    assert message.infos[0].categories == ("Met", "Health")
    assert message.infos[0].headline == "Heat danger: Kaisaniemi"
    cap.validate(cap.message_xml(message))


def test_a_dip_restarts_the_clock() -> None:
    service = HeatService()
    hot, mild = (35.0, 0.55), (25.0, 0.5)
    writes = hourly(service, [hot, hot, hot, mild, hot, hot, hot, hot, hot])
    assert [i for i, w in enumerate(writes) if alerts([w])] == [8]


def test_a_silent_station_restarts_the_clock() -> None:
    service = HeatService()
    hot = (35.0, 0.55)
    first = hourly(service, [hot, hot])  # 0 and 30 min
    later = hourly(service, [hot] * 5, start=180)  # after a 150-minute silence
    assert alerts(first) == []
    assert [i for i, w in enumerate(later) if alerts([w])] == [4]


def test_raise_update_clear() -> None:
    service = HeatService()
    danger, extreme, cool = (35.0, 0.55), (40.0, 0.75), (24.0, 0.5)
    hourly(service, [danger] * 5)
    hourly(service, [extreme] * 5, start=150)
    hourly(service, [cool] * 4, start=300)
    messages = service.take_messages()
    assert [m.msg_type for m in messages] == ["Alert", "Update", "Cancel"]
    assert [m.infos[0].severity for m in messages] == ["Severe", "Extreme", "Extreme"]
    assert messages[2].references == (messages[0].reference(), messages[1].reference())
    assert messages[2].infos[0].urgency == "Past"
    for message in messages:
        cap.validate(cap.message_xml(message))


def test_temperature_metric_for_cities_that_warn_on_air_temperature() -> None:
    settings = SafetySettings.from_dict({"heat": {
        "metric": "temperature", "levels": {"danger": 27.0, "extremeDanger": 30.0},
        "raise_after_minutes": 0}})
    service = HeatService(settings)
    writes = hourly(service, [(26.9, 0.9), (27.0, None)])
    assert writes[0][0].attributes["heatRisk"]["value"] == "none"
    assert writes[1][0].attributes["heatRisk"]["value"] == "danger"
    assert "heatIndex" not in writes[1][0].attributes
    assert len(alerts(writes)) == 1


def test_without_humidity_the_heat_index_metric_says_nothing() -> None:
    assert HeatService().react(weather(40.0, None, 0), T0) == []


@pytest.mark.parametrize("entity", [
    {"id": STATION, "type": "WeatherObserved"},
    weather("hot", 0.5, 0), weather(None, 0.5, 0), weather(float("inf"), 0.5, 0),
    {"type": "WeatherObserved", "temperature": {"value": 30.0}},
])
def test_unreadable_entities_are_skipped(entity) -> None:
    assert HeatService().react(entity, T0) == []


def test_late_readings_are_ignored() -> None:
    service = HeatService()
    hourly(service, [(30.0, 0.5), (30.0, 0.5)])
    assert service.react(weather(45.0, 0.9, 10), T0 + timedelta(hours=1)) == []
