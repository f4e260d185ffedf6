"""Travel Time, Planning Time and Buffer Indices, and the daily reporting window."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.traffic.reliability import (
    ReliabilityPeriod,
    ReliabilityWindow,
    reliability,
)


def test_worked_example() -> None:
    # Four intervals at 60, 60, 30, 60 km/h on a 60 km/h road: mean travel time is 1.25 times
    # free flow; the 95th percentile pace (definition 7) is 1/60 + 0.85 · (1/30 − 1/60).
    result = reliability([1 / 60, 1 / 60, 1 / 30, 1 / 60], 60.0)
    assert result.travel_time_index == pytest.approx(1.25)
    assert result.planning_time_index == pytest.approx(1.85)
    assert result.buffer_index == pytest.approx((1.85 - 1.25) / 1.25)
    assert result.samples == 4


def test_free_flowing_road_has_unit_indices() -> None:
    result = reliability([1 / 80] * 12, 80.0)
    assert result.travel_time_index == pytest.approx(1.0)
    assert result.planning_time_index == pytest.approx(1.0)
    assert result.buffer_index == pytest.approx(0.0)
    with pytest.raises(ValueError):
        reliability([], 80.0)


@given(st.lists(st.floats(min_value=5, max_value=130), min_size=1, max_size=60))
def test_indices_stay_within_the_observed_travel_times(speeds: list[float]) -> None:
    free = 100.0
    result = reliability([1 / v for v in speeds], free)
    fastest, slowest = free / max(speeds), free / min(speeds)
    assert fastest - 1e-9 <= result.travel_time_index <= slowest + 1e-9
    assert fastest - 1e-9 <= result.planning_time_index <= slowest + 1e-9
    # BI is PTI over TTI minus one (the free-flow time cancels); it may be negative when a few
    # very slow intervals pull the mean above the 95th percentile.
    assert result.buffer_index == pytest.approx(
        result.planning_time_index / result.travel_time_index - 1, abs=1e-9
    )


def test_period_membership_and_end() -> None:
    period = ReliabilityPeriod("am", time(7), time(9))
    monday = datetime(2025, 3, 3)
    assert period.contains(monday.replace(hour=7))
    assert not period.contains(monday.replace(hour=9))
    assert not period.contains(datetime(2025, 3, 8, 8))  # Saturday
    assert period.ended(monday.replace(hour=9))
    assert not period.ended(monday.replace(hour=8, minute=59))
    with pytest.raises(ValueError):
        ReliabilityPeriod("night", time(22), time(6))


def test_window_reports_once_per_day_over_the_trailing_days() -> None:
    period = ReliabilityPeriod("am", time(7), time(9))
    window = ReliabilityWindow(period, days=2, max_samples=1000)
    for day in range(3):
        start = datetime(2025, 3, 3 + day, 7)
        for k in range(24):
            window.add(start + timedelta(minutes=5 * k), 60.0 if day < 2 else 30.0)
        assert window.report_due(start.replace(hour=8), 1) is None  # still in the period
        paces = window.report_due(start.replace(hour=9), 1)
        assert paces is not None
        assert len(paces) == (24 if day == 0 else 48)  # at most 2 days kept
        assert window.report_due(start.replace(hour=10), 1) is None  # once a day
    assert sorted(set(paces)) == [1 / 60, 1 / 30]


def test_window_needs_samples_of_the_day_and_enough_of_them() -> None:
    period = ReliabilityPeriod("am", time(7), time(9))
    window = ReliabilityWindow(period, days=5, max_samples=100)
    window.add(datetime(2025, 3, 3, 7, 30), 50.0)
    assert window.report_due(datetime(2025, 3, 4, 9), 1) is None  # nothing from Tuesday
    window.add(datetime(2025, 3, 5, 7, 30), 50.0)
    assert window.report_due(datetime(2025, 3, 5, 9), 3) is None  # 2 < 3 samples
    window.add(datetime(2025, 3, 5, 6, 0), 50.0)  # outside the period: ignored
    window.add(datetime(2025, 3, 5, 7, 0), 0.0)  # no speed: ignored
    assert window.report_due(datetime(2025, 3, 5, 9, 5), 1) is None  # already judged today
