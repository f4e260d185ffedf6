"""The demo city's generators: deterministic for a seed, and the scripted day does what the
demo promises (a flood, a pollution episode, a heat spell, an incident in the recording)."""

from __future__ import annotations

import itertools
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from madina.domains.environment import epa_aqi
from madina.domains.safety.heat import heat_index_c
from madina.services.open311.catalogue import parse_catalogue
from madina.sim import city, recording, reports, scenario, sensors
from madina.sim.clock import CITY_ZONE, SimClock, default_start
from madina.sim.replay import MAX_GROUPS_PER_MESSAGE, CitySimulation

DAY = datetime(2026, 6, 10, 0, 0, tzinfo=CITY_ZONE)  # a Wednesday


def _readings(seed: int) -> list[tuple[str, dict[str, str] | None]]:
    found = []
    for sensor in sensors.build(recording.load(), seed):
        for minutes in (0, 7 * 60 + 30, 9 * 60, 14 * 60 + 15):
            found.append((sensor.device_id, sensor.read(DAY + timedelta(minutes=minutes))))
    return found


def test_every_sensor_reads_the_same_for_the_same_seed_and_differently_for_another() -> None:
    first = _readings(7)
    assert first == _readings(7)
    other = _readings(8)
    loops = {device for device, _ in first if device.startswith(sensors.LOOP.apikey)}
    differing = {d for (d, a), (_, b) in zip(first, other, strict=True) if a != b}
    assert differing and not differing & loops  # loops replay the recording, whatever the seed
    kinds = {device.split("-")[0] for device in differing}
    assert {"air", "noise", "meter", "gauge", "weather"} <= kinds


def test_citizens_reports_are_deterministic_per_seed() -> None:
    start = DAY.astimezone(UTC)
    day = reports.reports_between(1, start, start + timedelta(days=1))
    assert day == reports.reports_between(1, start, start + timedelta(days=1))
    assert day != reports.reports_between(2, start, start + timedelta(days=1))
    assert 30 < len(day) < 200
    assert {r.service_code for r in day} == {"pothole", "streetlight", "litter"}
    assert all(r.at < r.close_at for r in day)
    # Asking in pieces finds the same reports as asking for the whole day.
    pieces = [r for h in range(24) for r in reports.reports_between(
        1, start + timedelta(hours=h), start + timedelta(hours=h + 1))]
    assert pieces == day


def test_the_storm_surge_crosses_the_alert_and_danger_levels_and_recedes() -> None:
    levels = [scenario.sea_level(h / 12, 1026, "kauppatori") for h in range(24 * 12)]
    above_alert = [i / 12 for i, level in enumerate(levels) if level >= scenario.ALERT_LEVEL_M]
    assert 5.5 <= above_alert[0] <= 6.5  # within the demo's first minutes at the default speed
    assert max(levels) >= scenario.DANGER_LEVEL_M
    assert above_alert[-1] < 11
    assert levels[-1] < scenario.ALERT_LEVEL_M


def test_the_heat_spell_holds_the_heat_index_at_danger_for_two_hours() -> None:
    danger = [h / 12 for h in range(24 * 12)
              if heat_index_c(scenario.temperature(h / 12, 1026),
                              scenario.relative_humidity(h / 12, 1026) * 100) >= 39.4]
    assert danger and danger[-1] - danger[0] >= 2
    assert 12 <= danger[0] <= 14


def test_the_pollution_episode_makes_the_morning_air_unhealthy_at_the_busiest_street() -> None:
    stations = [s for s in sensors.build(recording.load(), 1026) if s.kind is sensors.AIR]
    assert len(stations) >= 3

    def worst_no2_aqi(hour: float) -> int:
        worst = 0
        for station in stations:
            no2_ppb = float(station.read(DAY + timedelta(hours=hour))["no2"]) / 1.88
            index = epa_aqi.simple_sub_index("no2", "no2_1h", no2_ppb, epa_aqi.BREAKPOINTS)
            worst = max(worst, index.value if index else 0)
        return worst

    assert worst_no2_aqi(9.0) > 100
    assert worst_no2_aqi(14.0) <= 100
    assert worst_no2_aqi(3.0) <= 50


def test_the_recording_covers_the_day_and_shows_the_lane_closure() -> None:
    recorded = recording.load()
    assert len(recorded.segments()) >= 30
    for series in recorded.minutes.values():
        assert len(series) == recording.MINUTES_PER_DAY
        assert sum(row is not None for row in series) == recording.MINUTES_PER_DAY
    incident = recorded.incident
    start, end = incident["start_s"] // 60, incident["end_s"] // 60
    lanes = recorded.segments()[incident["segment"]]
    kerb = recorded.minutes[lanes[0].id]
    closed = recorded.minutes[lanes[incident["closed_lane"]].id]

    def speeds(series, first, last):
        return [row.speed_kmh for row in series[first:last] if row.speed_kmh is not None]

    before = statistics.median(speeds(kerb, start - 60, start))
    during = statistics.median(speeds(kerb, start + 5, end))
    assert during < 0.5 * before
    assert sum(row.vehicles for row in closed[start + 2:end]) == 0
    peak = sum(r.vehicles for d in recorded.detectors for r in recorded.minutes[d.id][480:540])
    night = sum(r.vehicles for d in recorded.detectors for r in recorded.minutes[d.id][180:240])
    assert peak > 5 * night


def test_the_open311_catalogue_is_one_madina_accepts_with_a_department_per_district() -> None:
    document = city.catalogue()
    parsed = parse_catalogue(document)
    assert len(parsed.departments) == len(city.geodata.layer("districts")["features"])
    assert {s.code for s in parsed.services} == {"pothole", "streetlight", "litter"}


def test_static_entities_and_devices_describe_real_places() -> None:
    recorded = recording.load()
    entities = city.static_entities(recorded)
    segments = [e for e in entities if e["type"] == "RoadSegment"]
    assert len(segments) == len(recorded.segments())
    assert all(e["location"]["value"]["type"] == "LineString" for e in segments)
    buildings = [e for e in entities if e["type"] == "Building"]
    assert buildings and all(e["floorArea"]["value"] > 1000 for e in buildings)
    all_sensors = sensors.build(recorded, 1026)
    assert len({s.device_id for s in all_sensors}) == len(all_sensors)
    meters = [s for s in all_sensors if s.kind is sensors.METER]
    assert {m.static[0]["value"] for m in meters} == {b["id"] for b in buildings}
    assert all(m.static[1]["value"]["district"] for m in meters)


def test_an_energy_register_only_counts_up_across_midnight() -> None:
    meter = next(s for s in sensors.build(recording.load(), 3) if s.kind is sensors.METER)
    readings = [float(meter.read(DAY + timedelta(minutes=15 * n))["e"]) for n in range(2 * 96)]
    steps = [b - a for a, b in itertools.pairwise(readings)]
    assert all(step > 0 for step in steps)
    midnight = steps[95]  # 23:45 → 00:00 of the next day
    assert midnight == pytest.approx(steps[94], rel=0.2)  # no jump where the day's count restarts


def test_the_replay_publishes_each_reading_once_and_skips_when_far_behind() -> None:
    simulation = CitySimulation("http://unused", "t", "mqtt://unused", speed=60, seed=1,
                                start=DAY)
    loop = next(s for s in simulation.sensors if s.kind is sensors.LOOP)
    period = timedelta(seconds=loop.kind.period_s)
    start = DAY.astimezone(UTC)
    now = start + period / 2
    assert simulation.due(loop, now) == [start]  # at first, the latest only
    assert simulation.due(loop, now) == []
    later = now + 3 * period
    assert simulation.due(loop, later) == [start + n * period for n in (1, 2, 3)]
    far = later + (MAX_GROUPS_PER_MESSAGE + 10) * period
    assert len(simulation.due(loop, far)) == MAX_GROUPS_PER_MESSAGE
    assert simulation.stats.skipped == 10


def test_the_clock_runs_fast_from_its_start_but_never_ahead_of_the_present() -> None:
    start = default_start()
    assert start.astimezone(CITY_ZONE).hour == 5
    assert datetime.now(UTC) - start > timedelta(hours=5)
    clock = SimClock(datetime.now(UTC) - timedelta(seconds=1), speed=100_000)
    assert clock.now() <= datetime.now(UTC)
    with pytest.raises(ValueError):
        SimClock(start, speed=0)


def test_the_demo_cities_domain_settings_load_into_every_domain(tmp_path) -> None:
    from madina.domains.services import DOMAINS, domain_services

    path = tmp_path / "domains.toml"
    path.write_text(city.domains_config(), encoding="utf-8")
    services = domain_services(DOMAINS, path)
    traffic = next(s for s in services if type(s).__name__ == "TrafficService")
    assert traffic.settings.timezone == "Europe/Helsinki"
    assert len(traffic.settings.segments) == len(recording.load().segments())
    energy = next(s for s in services if type(s).__name__ == "EnergyService")
    assert all(b.floor_area_m2 and b.district for b in energy.settings.buildings.values())
