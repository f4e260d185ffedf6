"""Free-flow speed learning: the prior, the shrinkage, the percentile and the bound."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.traffic.free_flow import FreeFlowSpeed


def test_prior_until_quiet_intervals_arrive() -> None:
    learner = FreeFlowSpeed(prior_kmh=50.0)
    assert learner.speed == 50.0
    learner.observe(80.0, 0.30)  # busy: not free flow
    learner.observe(None, 0.02)
    learner.observe(0.0, 0.02)
    assert learner.samples == 0 and learner.speed == 50.0


def test_shrinks_towards_the_prior_as_data_grows() -> None:
    learner = FreeFlowSpeed(prior_kmh=50.0, prior_weight=10.0, percentile=85.0)
    for _ in range(10):
        learner.observe(70.0, 0.05)
    # 10 samples of 70 against a prior worth 10 samples of 50: halfway.
    assert learner.speed == pytest.approx(60.0)
    for _ in range(990):
        learner.observe(70.0, 0.05)
    assert learner.speed == pytest.approx((500 * 70 + 10 * 50) / 510)


def test_is_the_85th_percentile_of_quiet_speeds() -> None:
    learner = FreeFlowSpeed(prior_kmh=50.0, prior_weight=0.0, capacity=100)
    for speed in range(1, 101):  # 1..100 km/h
        learner.observe(float(speed), 0.01)
    # Definition 7: position 0.85 · 99 = 84.15 → 85 + 0.15.
    assert learner.speed == pytest.approx(85.15)


def test_keeps_only_the_latest_capacity_samples() -> None:
    learner = FreeFlowSpeed(prior_kmh=50.0, prior_weight=0.0, percentile=50.0, capacity=3)
    for speed in (10.0, 20.0, 30.0, 90.0, 90.0):
        learner.observe(speed, 0.01)
    assert learner.samples == 3
    assert learner.speed == 90.0  # 30, 90, 90


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        FreeFlowSpeed(prior_kmh=0)
    with pytest.raises(ValueError):
        FreeFlowSpeed(prior_kmh=50, capacity=0)


@given(
    prior=st.floats(min_value=10, max_value=130),
    speeds=st.lists(st.floats(min_value=1, max_value=150), max_size=40),
)
def test_estimate_stays_between_the_prior_and_the_data(prior: float, speeds: list[float]) -> None:
    learner = FreeFlowSpeed(prior_kmh=prior, capacity=30)
    for speed in speeds:
        learner.observe(speed, 0.05)
    kept = speeds[-30:]
    low, high = min([prior, *kept]), max([prior, *kept])
    assert low - 1e-9 <= learner.speed <= high + 1e-9
