"""The traffic service end to end: TrafficFlowObserved entities in, segment attributes and
Alerts out, as the domain runtime will call it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from madina.domains import entity_values as ev
from madina.domains.settings_loading import load_toml_table
from madina.domains.traffic.reliability import ReliabilityPeriod
from madina.domains.traffic.service import MAX_LANES, TrafficService
from madina.domains.traffic.settings import SegmentSettings, TrafficSettings
from madina.domains.writes import Write

EXAMPLE = Path(__file__).parents[3] / "madina/data/examples/TrafficFlowObserved.normalized.json"
SDM_ALERT_SUBCATEGORIES = {"trafficJam", "carAccident", "carStopped", "hazardOnRoad"}
SDM_SEVERITIES = {"informational", "low", "medium", "high", "critical"}
T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
DETECTOR = "urn:ngsi-ld:TrafficFlowObserved:loop-1"


def observation(
    end: datetime,
    count: float,
    occupancy: float,
    speed: float | None,
    entity_id: str = DETECTOR,
    segment: str | None = None,
) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": entity_id,
        "type": "TrafficFlowObserved",
        "dateObservedFrom": ev.date_time(end - STEP),
        "dateObservedTo": ev.date_time(end),
        "intensity": ev.prop(count),
        "occupancy": ev.prop(occupancy),
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [24.94, 60.17]}},
    }
    if speed is not None:
        entity["averageVehicleSpeed"] = ev.prop(speed)
    if segment is not None:
        entity["refRoadSegment"] = ev.rel(segment)
    return entity


def normal(i: int, **kwargs: Any) -> dict[str, Any]:
    wiggle = (-1) ** i
    return observation(T0 + i * STEP, 80 + 2 * wiggle, 0.08 + 0.004 * wiggle, 85.0 + 2 * wiggle,
                       **kwargs)


def queued(i: int, speed: float = 25.0, **kwargs: Any) -> dict[str, Any]:
    return observation(T0 + i * STEP, 30, 0.45, speed, **kwargs)


def alerts(writes: list[Write]) -> list[Write]:
    return [w for w in writes if w.entity_type == "Alert"]


def test_smart_data_models_example() -> None:
    entity = json.loads(EXAMPLE.read_text())
    now = datetime(2016, 12, 7, 11, 16, tzinfo=UTC)
    writes = TrafficService().react(entity, now)
    assert len(writes) == 1
    write = writes[0]
    assert (write.entity_id, write.entity_type) == (entity["id"], "TrafficFlowObserved")
    # 197 vehicles in 5 minutes = 2364 veh/h at 52.6 km/h: 44.94 veh/km = 72.3 veh/mi: LOS F.
    assert write.attributes["density"] == {
        "type": "Property", "value": 44.94, "observedAt": "2016-12-07T11:15:00Z",
    }
    assert write.attributes["levelOfService"]["value"] == "F"
    assert write.attributes["freeFlowSpeed"] == {
        "type": "Property", "value": 50.0, "observedAt": "2016-12-07T11:15:00Z",
        "unitCode": "KMH",
    }
    # Occupancy 0.76 is far past critical, but one interval does not make congestion.
    assert write.attributes["congested"]["value"] is False


def test_congestion_needs_two_intervals_and_is_written_each_interval() -> None:
    service = TrafficService()
    states = [
        service.react(observation(T0 + i * STEP, 40, occ, 20.0), T0)[0]
        .attributes["congested"]["value"]
        for i, occ in enumerate((0.3, 0.3, 0.3, 0.05, 0.05))
    ]
    assert states == [False, True, True, True, True]  # 20 km/h stays below 0.6 · 50
    fast = [
        service.react(observation(T0 + (5 + i) * STEP, 40, 0.05, 60.0), T0)[0]
        .attributes["congested"]["value"]
        for i in range(2)
    ]
    assert fast == [True, False]


def test_lanes_of_a_segment_are_judged_together() -> None:
    service = TrafficService()
    road = "urn:ngsi-ld:RoadSegment:main-1"
    lane1, lane2 = f"{DETECTOR}-l1", f"{DETECTOR}-l2"
    # Until a segment's lanes have shown themselves, the first lane in closes the interval.
    assert len(service.react(observation(T0, 100, 0.10, 80.0, lane1, road), T0)) == 1
    assert service.react(observation(T0, 50, 0.06, 90.0, lane2, road), T0) == []  # late
    end = T0 + STEP
    assert service.react(observation(end, 100, 0.10, 80.0, lane1, road), end) == []
    [write] = service.react(observation(end, 50, 0.06, 90.0, lane2, road), end)
    assert (write.entity_id, write.entity_type) == (road, "RoadSegment")
    # Per-lane densities 1200/80 = 15 and 600/90 = 6.67 veh/km average to 10.83.
    assert write.attributes["density"]["value"] == pytest.approx(10.83, abs=0.01)
    # The next interval closes only when both lanes are in...
    assert service.react(observation(end + STEP, 100, 0.10, 80.0, lane1, road), end) == []
    assert len(service.react(observation(end + STEP, 100, 0.1, 80.0, lane2, road), end)) == 1
    # ...unless a lane falls silent: a later interval closes the pending one, and from then on
    # the lanes that still report are the segment.
    assert service.react(observation(end + 2 * STEP, 100, 0.1, 80.0, lane1, road), end) == []
    closed = service.react(observation(end + 3 * STEP, 100, 0.1, 80.0, lane1, road), end)
    assert [w.attributes["density"]["observedAt"] for w in closed] == [
        ev.iso(end + 2 * STEP), ev.iso(end + 3 * STEP),
    ]
    assert len(service.react(observation(end + 4 * STEP, 100, 0.1, 80.0, lane1, road), end)) == 1
    # A late interval changes nothing.
    assert service.react(observation(end, 100, 0.10, 80.0, lane2, road), end) == []


def test_incident_alert_is_raised_updated_and_cleared() -> None:
    service = TrafficService()
    for i in range(12):
        assert alerts(service.react(normal(i), T0)) == []
    assert alerts(service.react(queued(12), T0)) == []
    detected_at = T0 + 13 * STEP + timedelta(seconds=20)
    [raised] = alerts(service.react(queued(13), detected_at))
    attrs = raised.attributes
    assert raised.entity_id == f"urn:ngsi-ld:Alert:traffic-incident:{DETECTOR}:" + str(
        int((T0 + 12 * STEP).timestamp())
    )
    assert attrs["category"]["value"] == "traffic"
    assert attrs["subCategory"]["value"] in SDM_ALERT_SUBCATEGORIES
    assert attrs["severity"]["value"] == "high"  # 25 of 85 km/h
    assert attrs["alertSource"] == {"type": "Relationship", "object": DETECTOR}
    assert attrs["validFrom"]["value"]["@value"] == ev.iso(T0 + 12 * STEP)
    assert attrs["dateIssued"]["value"]["@value"] == ev.iso(detected_at)
    assert attrs["location"]["value"] == {"type": "Point", "coordinates": [24.94, 60.17]}
    assert attrs["data"]["value"]["detector"] == "robust-z"
    assert "validTo" not in attrs
    # Same severity: nothing to write; worse: an update of the same Alert.
    assert alerts(service.react(queued(14, speed=26.0), T0)) == []
    [update] = alerts(service.react(queued(15, speed=5.0), T0))
    assert update.entity_id == raised.entity_id
    assert update.attributes["severity"]["value"] == "critical"
    assert set(update.attributes) == {"severity", "description", "data"}
    # Speed back: the Alert says so (low) before it clears on the second good interval.
    [recovering] = alerts(service.react(normal(16), T0))
    assert recovering.attributes["severity"]["value"] == "low"
    [cleared] = alerts(service.react(normal(17), T0))
    assert cleared.entity_id == raised.entity_id
    # Valid until the first interval back to normal; cleared once the second confirms it.
    assert cleared.attributes["validTo"]["value"]["@value"] == ev.iso(T0 + 16 * STEP)
    assert alerts(service.react(normal(18), T0)) == []


def test_downstream_neighbour_confirms() -> None:
    up, down = "urn:ngsi-ld:RoadSegment:up", "urn:ngsi-ld:RoadSegment:down"
    settings = TrafficSettings(segments={up: SegmentSettings(downstream=down)})
    service = TrafficService(settings)
    raised: list[Write] = []
    for i in range(14):
        busy = i >= 12
        upstream = queued(i, entity_id="urn:x:up", segment=up) if busy else normal(
            i, entity_id="urn:x:up", segment=up)
        downstream = observation(T0 + i * STEP, 25, 0.02, 88.0, "urn:x:down", down)
        raised += alerts(service.react(downstream, T0))
        raised += alerts(service.react(upstream, T0))
    [alert] = raised
    assert alert.attributes["alertSource"]["object"] == up
    assert alert.attributes["data"]["value"]["detector"] == "california7+robust-z"


def test_reliability_indices_when_the_period_closes() -> None:
    period = ReliabilityPeriod("am_peak", time(7), time(9))
    settings = TrafficSettings(reliability_periods=(period,), reliability_min_samples=1,
                               free_flow_prior_kmh=60.0, free_flow_prior_weight=1e9)
    service = TrafficService(settings)
    start = datetime(2025, 3, 3, 7, 5, tzinfo=UTC)
    for k in range(24):  # 07:05 … 09:00 interval ends
        speed = 30.0 if k == 5 else 60.0
        [write] = service.react(observation(start + k * STEP, 50, 0.05, speed), start)
        if k < 23:
            assert "travelTimeIndex" not in write.attributes
    [tti] = write.attributes["travelTimeIndex"]
    assert tti["datasetId"] == "urn:ngsi-ld:ReliabilityPeriod:am_peak"
    # One interval at half speed in 24: mean travel time 25/24 of free flow; the 95th
    # percentile is still free flow, so the buffer is negative (the mean is the worse of the two).
    assert tti["value"] == pytest.approx(25 / 24, abs=1e-3)
    assert write.attributes["planningTimeIndex"][0]["value"] == pytest.approx(1.0)
    assert write.attributes["bufferIndex"][0]["value"] == pytest.approx(24 / 25 - 1, abs=1e-3)


def test_unusable_input_is_skipped() -> None:
    service = TrafficService()
    assert service.react({"type": "TrafficFlowObserved"}, T0) == []
    assert service.react({"id": DETECTOR, "type": "TrafficFlowObserved"}, T0) == []
    bad = observation(T0, 10, 1.5, -3.0)  # occupancy above 1, negative speed
    bad["intensity"] = ev.prop("many")
    assert service.react(bad, T0) == []
    nan = observation(T0, 10, 0.1, float("nan"))
    [write] = service.react(nan, T0)
    assert "density" in write.attributes  # from occupancy, speed ignored


def test_memory_is_bounded() -> None:
    service = TrafficService(TrafficSettings(max_segments=2))
    for n in range(5):
        service.react(observation(T0, 10, 0.1, 50.0, entity_id=f"urn:x:{n}"), T0)
    assert service.tracked_segments == 2
    # Thousands of "lanes" on one road: the first MAX_LANES are kept, the rest ignored.
    road = "urn:ngsi-ld:RoadSegment:flooded"
    written = 0
    for n in range(MAX_LANES + 10):
        written += len(service.react(observation(T0 + STEP, 10, 0.1, 50.0, f"urn:l:{n}", road),
                                     T0))
    assert written == 1  # the first lane closed the (new segment's) first interval
    later = [observation(T0 + 2 * STEP, 10, 0.1, 50.0, f"urn:l:{n}", road)
             for n in range(MAX_LANES + 10)]
    closes = [len(service.react(entity, T0)) for entity in later]
    assert closes.index(1) == MAX_LANES - 1 and sum(closes) == 1


def test_settings_from_a_toml_table(tmp_path: Path) -> None:
    path = tmp_path / "madina.toml"
    path.write_text(
        """
[domains.traffic]
timezone = "Europe/Helsinki"
free_flow_prior_kmh = 40
los_bands = [["A", 7], ["B", 11]]
congestion = { enter_speed_ratio = 0.5, exit_speed_ratio = 0.8 }
incidents = { z_threshold = 4.0, max_history_gap = 45 }
reliability_periods = [{ name = "am", start = "06:30", end = "09:00", weekdays = [0, 1] }]

[domains.traffic.segments."urn:ngsi-ld:RoadSegment:a"]
downstream = "urn:ngsi-ld:RoadSegment:b"
"""
    )
    settings = TrafficSettings.from_mapping(load_toml_table(path, "domains.traffic"))
    assert settings.zone.key == "Europe/Helsinki"
    assert settings.los_bands == (("A", 7.0), ("B", 11.0))
    assert settings.congestion.exit_speed_ratio == 0.8
    assert settings.incidents.max_history_gap == timedelta(minutes=45)
    assert settings.reliability_periods[0].start == time(6, 30)
    assert settings.segment("urn:ngsi-ld:RoadSegment:a").downstream == "urn:ngsi-ld:RoadSegment:b"
    assert settings.segment("urn:other").downstream is None
    assert load_toml_table(path, "domains.energy") == {}


@pytest.mark.parametrize(
    "bad",
    [
        {"free_flow_prior_kmh": 0},
        {"timezone": "Mars/Olympus"},
        {"speed_limit": 50},
        {"congestion": {"enter_after": 3}},
        {"los_bands": [["A", 20], ["B", 10]]},
    ],
)
def test_bad_settings_fail_at_start(bad: dict) -> None:
    with pytest.raises(ValueError):
        TrafficSettings.from_mapping(bad)
