"""Congestion state: hysteresis and minimum duration, interval by interval."""

from __future__ import annotations

import pytest

from madina.domains.traffic.congestion import CongestionRule, CongestionState


def run(state: CongestionState, ratios: list[float | None], occupancy: float | None = None):
    return [state.update(ratio, occupancy) for ratio in ratios]


def test_needs_two_consecutive_intervals_to_enter_and_to_leave() -> None:
    state = CongestionState(CongestionRule())
    # One slow interval is a blip; two make congestion; one fast interval is not yet recovery.
    assert run(state, [0.9, 0.5, 0.9, 0.5, 0.5, 0.9, 0.8, 0.9]) == [
        False, False, False, False, True, True, False, False,
    ]


def test_threshold_values_themselves() -> None:
    rule = CongestionRule(enter_intervals=1, exit_intervals=1)
    state = CongestionState(rule)
    assert state.update(0.6, None) is False  # entry is strictly below 0.6
    assert state.update(0.5999, None) is True
    assert state.update(0.7, None) is True  # exit is strictly above 0.7
    assert state.update(0.7001, None) is False


def test_hovering_in_the_band_does_not_flicker() -> None:
    state = CongestionState(CongestionRule())
    run(state, [0.5, 0.5])
    assert state.congested
    # Between 0.6 and 0.7 it stays congested, and a run out of it must start afresh.
    assert run(state, [0.65, 0.75, 0.65, 0.75, 0.65]) == [True] * 5
    assert run(state, [0.75, 0.75]) == [True, False]


def test_occupancy_alone_decides_when_speed_is_not_measured() -> None:
    state = CongestionState(CongestionRule())
    assert [state.update(None, occ) for occ in (0.25, 0.25, 0.17, 0.10, 0.10)] == [
        False, True, True, True, False,
    ]
    assert state.update(None, None) is False


def test_fast_but_dense_is_congested() -> None:
    state = CongestionState(CongestionRule())
    assert run(state, [0.9, 0.9], occupancy=0.30) == [False, True]


@pytest.mark.parametrize(
    "bad",
    [
        {"enter_speed_ratio": 0.8, "exit_speed_ratio": 0.7},
        {"enter_occupancy": 0.1, "exit_occupancy": 0.2},
        {"enter_intervals": 0},
    ],
)
def test_inconsistent_rules_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        CongestionRule(**bad)
