"""Incident detector: raise after persistence, follow, clear; what must not raise an alarm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from madina.domains.traffic.incidents import (
    IncidentDetector,
    IncidentRule,
    IntervalSample,
    severity,
)
from madina.domains.traffic.settings import DEFAULT_SEVERITY_BANDS

T0 = datetime(2025, 3, 3, 10, tzinfo=UTC)
STEP = timedelta(minutes=5)


def normal(i: int) -> IntervalSample:
    """Steady free flow with a little alternating noise."""
    wiggle = (-1) ** i
    return IntervalSample(T0 + i * STEP, 1000.0 + 20 * wiggle, 0.08 + 0.004 * wiggle,
                          85.0 + 2 * wiggle)


def queued(i: int, speed: float = 15.0) -> IntervalSample:
    return IntervalSample(T0 + i * STEP, 400.0, 0.45, speed)


def warm(detector: IncidentDetector, intervals: int = 12) -> int:
    for i in range(intervals):
        assert detector.step(normal(i)) is None
    return intervals


def test_lifecycle_raise_follow_clear() -> None:
    detector = IncidentDetector(IncidentRule())
    i = warm(detector)
    assert detector.step(queued(i)) is None  # one interval: persistence not met yet
    raised = detector.step(queued(i + 1))
    assert raised is not None and raised.phase == "raised"
    assert raised.onset == T0 + i * STEP
    assert raised.baseline.speed_kmh == pytest.approx(85.0, abs=2.1)
    assert raised.ratio == pytest.approx(15.0 / raised.baseline.speed_kmh)
    assert raised.spatial is False
    ongoing = detector.step(queued(i + 2, speed=40.0))
    assert ongoing is not None and ongoing.phase == "ongoing"
    assert detector.active
    first_good = detector.step(normal(i + 3))
    assert first_good is not None and first_good.phase == "ongoing"  # one good interval
    cleared = detector.step(normal(i + 4))
    assert cleared is not None and cleared.phase == "cleared"
    assert cleared.recovered_at == T0 + (i + 3) * STEP
    assert not detector.active
    assert detector.step(normal(i + 5)) is None


def test_a_single_bad_interval_is_not_an_incident() -> None:
    detector = IncidentDetector(IncidentRule())
    i = warm(detector)
    assert detector.step(queued(i)) is None
    assert detector.step(normal(i + 1)) is None
    assert not detector.active


def test_gradual_build_up_is_recurrent_congestion_not_an_incident() -> None:
    detector = IncidentDetector(IncidentRule())
    i = warm(detector)
    # Speed falls by 4 km/h and occupancy rises by 1.5 points per interval for an hour.
    for k in range(1, 13):
        sample = IntervalSample(T0 + (i + k) * STEP, 1000.0, 0.08 + 0.015 * k, 85.0 - 4 * k)
        assert detector.step(sample) is None


def test_no_decision_before_enough_history() -> None:
    detector = IncidentDetector(IncidentRule(min_history=8))
    for i in range(7):
        detector.step(normal(i))
    assert detector.step(queued(7)) is None
    assert detector.step(queued(8)) is None


def test_downstream_congested_means_a_queue_not_an_incident() -> None:
    rule = IncidentRule()
    detector = IncidentDetector(rule)
    i = warm(detector)
    # California #7: downstream also occupied (DOCC ≥ T3): a bottleneck queue, no alarm.
    jammed = IntervalSample(T0, 500.0, 0.40, 20.0)
    assert detector.step(queued(i), jammed) is None
    assert detector.step(queued(i + 1), jammed) is None
    assert not detector.active
    # Downstream running empty beyond a blockage: the same step is confirmed as an incident.
    detector = IncidentDetector(rule)
    i = warm(detector)
    empty = IntervalSample(T0, 300.0, 0.03, 88.0)
    assert detector.step(queued(i), empty) is None
    raised = detector.step(queued(i + 1), empty)
    assert raised is not None and raised.phase == "raised" and raised.spatial



@pytest.mark.parametrize(
    ("upstream", "downstream", "confirmed"),
    [
        (0.45, 0.20, False),  # DOCC = T3: downstream counts as occupied
        (0.45, 0.1999, True),
        (0.25, 0.15, True),  # OCCDF 0.10 = T1, OCCRDF 0.40 = T2: both inclusive
        (0.25, 0.151, False),  # OCCDF just under T1
    ],
)
def test_california_thresholds_at_their_boundaries(
    upstream: float, downstream: float, confirmed: bool
) -> None:
    detector = IncidentDetector(IncidentRule())
    i = warm(detector)
    there = IntervalSample(T0, 300.0, downstream, 80.0)
    for k in range(2):
        update = detector.step(IntervalSample(T0 + (i + k) * STEP, 400.0, upstream, 15.0), there)
    assert (update is not None) is confirmed


def test_incident_lasts_while_upstream_stays_much_denser_than_downstream() -> None:
    detector = IncidentDetector(IncidentRule())
    i = warm(detector)
    empty = IntervalSample(T0, 300.0, 0.03, 88.0)
    detector.step(queued(i), empty)
    detector.step(queued(i + 1), empty)
    assert detector.active
    # Speed back but occupancy still 0.45 against 0.03 downstream: OCCRDF ≥ T2, not cleared.
    dense = IntervalSample(T0 + (i + 2) * STEP, 900.0, 0.45, 80.0)
    for _ in range(4):
        update = detector.step(dense, empty)
        assert update is not None and update.phase == "ongoing"
    for k in range(2):
        update = detector.step(normal(i + 3 + k), normal(i + 3 + k))
    assert update is not None and update.phase == "cleared"


def test_flow_drop_counts_when_speed_is_not_measured() -> None:
    detector = IncidentDetector(IncidentRule())
    for i in range(12):
        detector.step(IntervalSample(T0 + i * STEP, 1000.0 + 20 * (-1) ** i, 0.08, None))
    detector.step(IntervalSample(T0 + 12 * STEP, 300.0, 0.45, None))
    raised = detector.step(IntervalSample(T0 + 13 * STEP, 300.0, 0.45, None))
    assert raised is not None and raised.ratio == pytest.approx(0.3, abs=0.01)


def test_stale_history_is_forgotten() -> None:
    detector = IncidentDetector(IncidentRule())
    warm(detector)
    # Two hours later the old history says nothing about now: learn again first.
    later = 12 + 24
    assert detector.step(queued(later)) is None
    assert detector.step(queued(later + 1)) is None
    assert not detector.active


@pytest.mark.parametrize(
    ("ratio", "level"),
    [(0.1, "critical"), (0.2, "high"), (0.39, "high"), (0.4, "medium"), (0.59, "medium"),
     (0.6, "low"), (0.95, "low"), (None, "medium")],
)
def test_severity_bands(ratio: float | None, level: str) -> None:
    assert severity(ratio, DEFAULT_SEVERITY_BANDS) == level


def test_rule_validation() -> None:
    with pytest.raises(ValueError):
        IncidentRule(min_history=30, history_intervals=20)
    with pytest.raises(ValueError):
        IncidentRule(persistence=0)
    with pytest.raises(ValueError):
        IncidentRule(recovery_ratio=1.5)
