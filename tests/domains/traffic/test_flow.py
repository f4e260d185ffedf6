"""Loop-detector relations: published arithmetic and the q = k·v identity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.traffic.flow import (
    KM_PER_MILE,
    density_from_flow,
    density_from_occupancy,
    flow_rate,
    per_mile,
    speed_from_occupancy,
)


def test_flow_rate_from_a_count() -> None:
    # 197 vehicles in 5 minutes (the Smart Data Models example) is 2364 veh/h.
    assert flow_rate(197, 300) == pytest.approx(2364.0)
    assert flow_rate(0, 60) == 0.0
    with pytest.raises(ValueError):
        flow_rate(10, 0)


def test_density_from_occupancy_and_from_flow() -> None:
    # 10 % occupancy with a 6.5 m effective length: k = 0.10 / 6.5 m = 15.38 veh/km.
    assert density_from_occupancy(0.10, 6.5) == pytest.approx(15.3846, abs=1e-4)
    # 1800 veh/h at 90 km/h is 20 veh/km.
    assert density_from_flow(1800, 90) == pytest.approx(20.0)
    with pytest.raises(ValueError):
        density_from_flow(100, 0)
    with pytest.raises(ValueError):
        density_from_occupancy(0.1, 0)


def test_single_loop_speed_and_miles() -> None:
    # q = 1200 veh/h, o = 12 %, g = 6 m: v = 1200 · 6 / (1000 · 0.12) = 60 km/h.
    assert speed_from_occupancy(1200, 0.12, 6.0) == pytest.approx(60.0)
    with pytest.raises(ValueError):
        speed_from_occupancy(1200, 0.0, 6.0)
    assert per_mile(10.0) == pytest.approx(16.09344)
    assert KM_PER_MILE == 1.609344


@given(
    flow=st.floats(min_value=1, max_value=3000),
    occupancy=st.floats(min_value=0.001, max_value=1.0),
    length=st.floats(min_value=3, max_value=25),
)
def test_estimated_speed_closes_the_fundamental_relation(
    flow: float, occupancy: float, length: float
) -> None:
    speed = speed_from_occupancy(flow, occupancy, length)
    assert density_from_flow(flow, speed) == pytest.approx(
        density_from_occupancy(occupancy, length), rel=1e-9
    )
