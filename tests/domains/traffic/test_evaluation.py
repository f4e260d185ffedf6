"""Incident detection measured on a synthetic corridor with scripted incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from madina.domains.traffic.evaluation import Alarm, ScriptedIncident, evaluate, replay, score
from madina.domains.traffic.scenario import Corridor, CorridorIncident, observations
from madina.domains.traffic.service import TrafficService
from madina.domains.traffic.settings import SegmentSettings, TrafficSettings

START = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
INCIDENTS = (
    CorridorIncident(2, START + timedelta(hours=10, minutes=7), timedelta(minutes=40)),
    CorridorIncident(1, START + timedelta(days=1, hours=8, minutes=30), timedelta(minutes=30)),
    CorridorIncident(3, START + timedelta(days=1, hours=14), timedelta(minutes=25)),
    CorridorIncident(0, START + timedelta(days=2, hours=2), timedelta(minutes=45)),
    # Inside the evening queue of the recurrent bottleneck: the hard case.
    CorridorIncident(4, START + timedelta(days=2, hours=17, minutes=20), timedelta(minutes=30)),
)


@pytest.fixture(scope="module")
def corridor() -> Corridor:
    return Corridor(incidents=INCIDENTS, days=3)


@pytest.fixture(scope="module")
def replayed(corridor: Corridor) -> list:
    return observations(corridor)


def test_with_neighbours_configured(corridor: Corridor, replayed: list) -> None:
    service = TrafficService(TrafficSettings(segments=corridor.segment_settings()))
    report = evaluate(service, replayed, corridor.scripted_incidents())
    assert report.decisions == 6 * 3 * 288  # one per station and 5-minute interval
    # Every incident in free or busy traffic is found; the one inside the recurrent evening
    # queue is not (its downstream station is congested too, which California #7 reads as a
    # queue). The bottleneck station itself has no downstream detector: its daily breakdown is
    # the remaining false alarm, one per weekday.
    assert report.detected == 4
    assert report.detection_rate == pytest.approx(0.8)
    assert report.false_alarms == 3
    assert report.false_alarm_rate < 0.001
    # Two 5-minute intervals of persistence after the first affected one, plus ingestion delay.
    assert report.mean_time_to_detect_s is not None
    assert 600 <= report.mean_time_to_detect_s <= 15 * 60


def test_without_neighbours_more_false_alarms(corridor: Corridor, replayed: list) -> None:
    alone = {key: SegmentSettings(free_flow_prior_kmh=90.0) for key in corridor.segment_settings()}
    report = evaluate(TrafficService(TrafficSettings(segments=alone)), replayed,
                      corridor.scripted_incidents())
    assert report.detection_rate == 1.0
    assert report.false_alarms > 3  # the recurrent queue's spreading front at each station


def test_no_incidents_no_alarms() -> None:
    quiet = Corridor(days=2, recurrent_bottleneck=False, seed=11)
    service = TrafficService(TrafficSettings(segments=quiet.segment_settings()))
    alarms, decisions = replay(service, observations(quiet))
    assert alarms == []
    assert decisions == 6 * 2 * 288


def test_scoring_rules() -> None:
    t = START
    incidents = [
        ScriptedIncident(frozenset({"a", "b"}), t, t + timedelta(minutes=30)),
        ScriptedIncident(frozenset({"c"}), t + timedelta(hours=5), t + timedelta(hours=6)),
    ]
    alarms = [
        Alarm("b", t + timedelta(minutes=12)),
        Alarm("a", t + timedelta(minutes=10)),  # the earlier alarm sets the time to detect
        Alarm("a", t + timedelta(minutes=44)),  # within the 15-minute grace: not false
        Alarm("a", t + timedelta(minutes=46)),  # after it: false
        Alarm("c", t + timedelta(hours=4)),  # before the incident: false
    ]
    report = score(alarms, 1000, incidents)
    assert (report.incidents, report.detected, report.false_alarms) == (2, 1, 2)
    assert report.detection_rate == 0.5
    assert report.false_alarm_rate == 0.002
    assert report.times_to_detect_s == (600.0,)
    assert report.mean_time_to_detect_s == 600.0
    empty = score([], 0, [])
    assert empty.detection_rate == 0.0 and empty.false_alarm_rate == 0.0
    assert empty.mean_time_to_detect_s is None
