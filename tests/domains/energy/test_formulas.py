"""GPC scopes, indicators, metering and the weekly profile: worked examples and invariants."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.energy.baseline import SLOTS, WeeklyProfile, slot_of
from madina.domains.energy.emissions import emissions_kg, scope
from madina.domains.energy.indicators import (
    annualised,
    demand_kw,
    energy_use_intensity,
    load_factor,
)
from madina.domains.energy.metering import apportion, consumption


def test_gpc_scopes() -> None:
    assert scope("electricity") == 2
    assert scope("district_heat") == 2
    assert scope("natural_gas") == 1
    assert scope("water") is None
    # 1000 kWh of UK grid electricity in 2025 at 0.177 kg CO2e/kWh.
    assert emissions_kg(1000, 0.177) == pytest.approx(177.0)
    with pytest.raises(ValueError):
        emissions_kg(-1, 0.2)


def test_indicators_worked_examples() -> None:
    assert energy_use_intensity(420_000, 4_200) == 100.0
    assert annualised(10_000, 30) == pytest.approx(121_666.67, abs=0.01)
    assert demand_kw(5.0, 0.25) == 20.0
    # 720 kWh over a day with a 60 kW peak: average 30 kW, load factor 0.5.
    assert load_factor(720, 24, 60) == 0.5
    assert load_factor(10, 0, 5) is None
    assert load_factor(10, 5, 0) is None
    for bad in (lambda: energy_use_intensity(1, 0), lambda: annualised(1, 0),
                lambda: demand_kw(1, 0)):
        with pytest.raises(ValueError):
            bad()


def test_register_deltas() -> None:
    assert consumption(100.0, 112.5) == 12.5
    assert consumption(100.0, 100.0) == 0.0
    assert consumption(100.0, 3.0) is None  # reset or replaced meter


def test_apportion_splits_at_bucket_boundaries() -> None:
    # 10 kWh from 10:50 to 11:10 is 5 in each hour.
    start = 10 * 3600 + 50 * 60
    parts = list(apportion(10.0, start, start + 1200, 3600))
    assert parts == [(36000, pytest.approx(5.0)), (39600, pytest.approx(5.0))]
    assert list(apportion(3.0, 0, 900, 900)) == [(0, 3.0)]
    with pytest.raises(ValueError):
        list(apportion(1.0, 10, 10, 60))


@given(
    amount=st.floats(min_value=0, max_value=1e6),
    start=st.integers(min_value=0, max_value=10**9),
    length=st.integers(min_value=1, max_value=10**6),
    bucket=st.sampled_from([60, 900, 3600]),
)
def test_apportion_keeps_the_total(amount: float, start: int, length: int, bucket: int) -> None:
    parts = list(apportion(amount, start, start + length, bucket))
    assert sum(share for _, share in parts) == pytest.approx(amount, rel=1e-9, abs=1e-9)
    assert all(b % bucket == 0 for b, _ in parts)
    assert [b for b, _ in parts] == sorted({b for b, _ in parts})


def test_hour_of_week_slots() -> None:
    assert slot_of(datetime(2025, 3, 3, 0, 30)) == 0  # Monday
    assert slot_of(datetime(2025, 3, 9, 23, 59)) == SLOTS - 1  # Sunday
    assert slot_of(datetime(2025, 3, 5, 14)) == 2 * 24 + 14


def test_weekly_profile_keeps_the_last_weeks() -> None:
    profile = WeeklyProfile(weeks=3)
    assert profile.expect(5, 10.0, 0.1) is None
    for value in (100.0, 10.0, 11.0, 12.0):
        profile.add(5, value)
    assert sorted(profile.history(5)) == [10.0, 11.0, 12.0]  # 100 fell out of the ring
    expectation = profile.expect(5, 14.0, 0.1)
    assert expectation is not None
    assert (expectation.median, expectation.mad, expectation.weeks) == (11.0, 1.0, 3)
    assert expectation.score == pytest.approx(0.6745 * 3)
    assert profile.history(6) == []
    with pytest.raises(ValueError):
        WeeklyProfile(0)
