"""Levels, their boundaries on both sides, and the hysteresis that keeps warnings from flickering;
the Theil–Sen rate of rise and the time to the next level."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.safety.levels import NONE, Hysteresis, Levels, LevelState, track
from madina.domains.safety.trend import theil_sen_slope, time_to_reach

GAUGE = Levels(("advisory", "watch", "warning", "danger"), (1.0, 1.5, 2.0, 2.5))


@pytest.mark.parametrize(("value", "level"), [
    (-3.0, "normal"), (0.99, "normal"), (1.0, "advisory"), (1.49, "advisory"),
    (1.5, "watch"), (1.999, "watch"), (2.0, "warning"), (2.4999, "warning"),
    (2.5, "danger"), (9.0, "danger"),
])
def test_a_level_begins_at_its_threshold(value: float, level: str) -> None:
    assert GAUGE.name(GAUGE.index(value)) == level


@pytest.mark.parametrize(("names", "thresholds"), [
    (("a", "b"), (2.0, 1.0)), (("a", "b"), (1.0, 1.0)), (("a",), (1.0, 2.0)),
    (("a", "a"), (1.0, 2.0)),
])
def test_levels_must_rise_and_match_their_names(names, thresholds) -> None:
    with pytest.raises(ValueError):
        Levels(names, thresholds)


def run(values: list[float], rule: Hysteresis, step: float = 60.0,
        levels: Levels = GAUGE) -> list[str]:
    state = LevelState()
    out = []
    for i, value in enumerate(values):
        track(state, value, i * step, levels, rule)
        out.append(levels.name(state.level))
    return out


def test_rises_at_once_and_falls_only_below_the_deadband() -> None:
    rule = Hysteresis(deadband=0.05)
    assert run([1.0, 1.5, 1.46, 1.451, 1.45, 1.449, 0.96, 0.95, 0.949], rule) == [
        "advisory", "watch", "watch", "watch", "watch", "advisory", "advisory", "advisory",
        "normal"]


def test_a_fall_waits_lower_after_and_restarts_when_the_water_comes_back() -> None:
    rule = Hysteresis(deadband=0.05, lower_after=120.0)  # readings every 60 s
    assert run([2.1, 1.9, 1.9, 1.9, 1.9], rule) == [
        "warning", "warning", "warning", "watch", "watch"]
    assert run([2.1, 1.9, 1.9, 2.0, 1.9, 1.9, 1.9], rule) == [
        "warning", "warning", "warning", "warning", "warning", "warning", "watch"]


def test_a_fall_goes_to_the_highest_level_held_while_waiting() -> None:
    rule = Hysteresis(deadband=0.05, lower_after=120.0)
    assert run([2.6, 0.5, 1.7, 0.5], rule) == ["danger", "danger", "danger", "watch"]


def test_a_rise_waits_raise_after_and_announces_what_was_sustained() -> None:
    rule = Hysteresis(raise_after=120.0)
    assert run([0.5, 2.6, 1.6, 2.6, 2.6], rule) == [
        "normal", "normal", "normal", "watch", "watch"]
    assert run([0.5, 2.6, 0.5, 2.6, 2.6, 2.6], rule) == [
        "normal", "normal", "normal", "normal", "normal", "danger"]


def test_a_long_silence_restarts_a_pending_change() -> None:
    rule = Hysteresis(raise_after=120.0, max_gap=300.0)
    state = LevelState()
    for at in (0.0, 60.0, 1000.0, 1060.0, 1120.0):
        track(state, 2.6, at, GAUGE, rule)
        if at == 1060.0:
            assert state.level == NONE  # 0 s .. 1060 s is not a sustained rise: 1000 s gap
    assert GAUGE.name(state.level) == "danger"


def test_late_and_duplicate_readings_are_ignored() -> None:
    state = LevelState()
    rule = Hysteresis()
    assert track(state, 2.1, 100.0, GAUGE, rule)
    assert not track(state, 0.0, 100.0, GAUGE, rule)
    assert not track(state, 0.0, 50.0, GAUGE, rule)
    assert GAUGE.name(state.level) == "warning"
    assert track(state, 0.0, 101.0, GAUGE, rule)
    assert state.level == NONE


def test_track_reports_changes_only() -> None:
    state, rule = LevelState(), Hysteresis(deadband=0.05)
    changes = [track(state, v, float(i), GAUGE, rule)
               for i, v in enumerate([0.5, 1.2, 1.3, 2.2, 2.1, 0.2])]
    assert changes == [False, True, False, True, False, True]


@given(st.lists(st.floats(-1.0, 4.0), min_size=1, max_size=60), st.floats(0.0, 0.5))
def test_without_delays_the_level_lies_between_reached_and_held(values: list[float],
                                                                deadband: float) -> None:
    state, rule = LevelState(), Hysteresis(deadband=deadband)
    for i, value in enumerate(values):
        track(state, value, float(i), GAUGE, rule)
        assert GAUGE.index(value) <= state.level <= GAUGE.index(value + deadband)


@given(st.lists(st.floats(-1.0, 4.0), min_size=2, max_size=40), st.floats(0.01, 0.3))
def test_a_value_wandering_inside_the_deadband_never_flickers(values: list[float],
                                                              width: float) -> None:
    state, rule = LevelState(), Hysteresis(deadband=0.3)
    track(state, 2.0, 0.0, GAUGE, rule)
    for i, value in enumerate(values, start=1):
        track(state, 2.0 - (abs(value) % width), float(i), GAUGE, rule)
        assert GAUGE.name(state.level) == "warning"


# -- rate of rise ---------------------------------------------------------------------------

def test_theil_sen_recovers_a_line_and_shrugs_off_a_spike() -> None:
    line = [(t * 900.0, 1.0 + 0.0001 * t * 900.0) for t in range(8)]
    assert theil_sen_slope(line) == pytest.approx(0.0001)
    spiked = list(line)
    spiked[3] = (spiked[3][0], 9.0)  # a float snagged on debris
    assert theil_sen_slope(spiked) == pytest.approx(0.0001)


@pytest.mark.parametrize("points", [[], [(0.0, 1.0)], [(5.0, 1.0), (5.0, 2.0)]])
def test_no_rate_without_two_distinct_times(points) -> None:
    assert theil_sen_slope(points) is None


@given(st.lists(st.integers(0, 10**6), min_size=2, max_size=15, unique=True),
       st.floats(-0.01, 0.01), st.floats(-10.0, 10.0), st.floats(-5.0, 5.0))
def test_theil_sen_is_exact_on_lines_and_shift_invariant(times, slope, intercept, shift) -> None:
    points = [(float(t), intercept + slope * t) for t in times]  # readings whole seconds apart
    assert theil_sen_slope(points) == pytest.approx(slope, rel=1e-6, abs=1e-9)
    moved = [(t, v + shift) for t, v in points]
    assert theil_sen_slope(moved) == pytest.approx(theil_sen_slope(points), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(("value", "rate", "target", "eta"), [
    (1.5, 0.0001, 2.0, 5000.0), (2.0, 0.0001, 2.0, 0.0), (2.1, -1.0, 2.0, 0.0),
    (1.5, 0.0, 2.0, None), (1.5, -0.0001, 2.0, None), (1.5, None, 2.0, None),
])
def test_time_to_reach(value, rate, target, eta) -> None:
    assert time_to_reach(value, rate, target) == (pytest.approx(eta) if eta else eta)


def test_overflowing_rates_and_times_are_no_answer() -> None:
    assert theil_sen_slope([(0.0, -1.7e308), (1.0, 1.7e308)]) is None
    assert time_to_reach(0.0, 5e-324, 1.0) is None
