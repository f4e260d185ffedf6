"""NowCast: EPA's and AirNow's worked examples, the 2-of-3 rule, the weight floor and bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.environment.nowcast import (
    ozone_nowcast,
    pm_nowcast,
    weight_factor,
)


def test_epa_pm_example() -> None:
    """EPA's *Computing the NowCast* example: hourly PM2.5 (oldest first) 50 80 75 90 82 53 64
    74 21 10 16 13; range 80 over a maximum of 90 gives w = 0.11, floored to 0.5; NowCast
    17.4 µg/m³."""
    oldest_first = [50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13]
    assert pm_nowcast(oldest_first[::-1]) == pytest.approx(17.4, abs=0.05)


def test_airnow_ozone_example_with_a_missing_hour() -> None:
    """AirNow's 2016 ozone NowCast example (ppb, most recent first, hour 5 missing): range 58 over
    80 gives w = 0.275 (no floor for ozone); the weighted sum is 89.925, divided by the weights
    of the hours present."""
    hours = [63, 69, 80, 74, 60, None, 35, 22]
    weights = sum(0.275**i for i in (0, 1, 2, 3, 4, 6, 7))
    assert ozone_nowcast(hours) == pytest.approx(89.925 / weights, rel=1e-4)
    assert ozone_nowcast(hours) == pytest.approx(65.27, abs=0.01)


def test_steady_air_is_a_plain_average() -> None:
    hours = [10.0, 10.0, 10.0, 10.0]
    assert weight_factor(hours, 0.5) == 1.0
    assert pm_nowcast(hours) == 10.0
    assert pm_nowcast([10.0, 11.0, 12.0, None, 13.0]) == pytest.approx(
        (10 + 11 * 10 / 13 + 12 * (10 / 13) ** 2 + 13 * (10 / 13) ** 4)
        / (1 + 10 / 13 + (10 / 13) ** 2 + (10 / 13) ** 4))


@pytest.mark.parametrize(("hours", "valid"), [
    ([5.0, 5.0, 5.0], True),
    ([5.0, None, 5.0], True),
    ([None, 5.0, 5.0], True),
    ([None, None, 5.0, 5.0, 5.0], False),
    ([5.0, None, None, 5.0, 5.0], False),
    ([5.0], False),
    ([], False),
])
def test_two_of_the_three_most_recent_hours_are_required(
    hours: list[float | None], valid: bool
) -> None:
    assert (pm_nowcast(hours) is not None) is valid
    assert (ozone_nowcast(hours) is not None) is valid


def test_only_the_last_twelve_hours_count() -> None:
    assert pm_nowcast([20.0] * 12 + [1000.0]) == 20.0
    assert ozone_nowcast([20.0] * 8 + [1000.0]) == 20.0


def test_weight_floor_applies_to_pm_not_ozone() -> None:
    hours = [100.0, 10.0, 10.0]
    assert weight_factor(hours, 0.5) == 0.5
    assert weight_factor(hours, 0.0) == pytest.approx(0.1)
    assert pm_nowcast(hours) == pytest.approx((100 + 10 * 0.5 + 10 * 0.25) / 1.75)
    assert ozone_nowcast(hours) == pytest.approx((100 + 10 * 0.1 + 10 * 0.01) / 1.11)


def test_negative_noise_counts_as_zero() -> None:
    assert pm_nowcast([-2.0, -1.0, None]) == 0.0
    assert pm_nowcast([4.0, -4.0, 4.0]) == pytest.approx((4 + 0 + 4 * 0.25) / 1.75)


def test_ozone_at_zero_without_the_current_hour_has_no_answer() -> None:
    # min 0 gives w = 0: only the current hour would weigh, and it is missing
    assert ozone_nowcast([None, 5.0, 0.0]) is None


hourly = st.lists(st.one_of(st.none(), st.floats(0, 1000)), min_size=3, max_size=12)


@given(hourly)
def test_nowcast_stays_within_the_hours_it_averages(hours: list[float | None]) -> None:
    result = pm_nowcast(hours)
    present = [value for value in hours if value is not None]
    if result is None:
        assert sum(value is not None for value in hours[:3]) < 2
        return
    assert min(present) - 1e-9 <= result <= max(present) + 1e-9
