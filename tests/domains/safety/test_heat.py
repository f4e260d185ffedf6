"""The NWS heat index: the published chart, the two adjustments, the simple formula below 80 °F,
and the invariants a heat index keeps."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.safety.heat import celsius, fahrenheit, heat_index_c, heat_index_f

# NWS heat index chart (NWS Tulsa, srh.noaa.gov/tsa/?n=heatindex): (°F, RH %, chart °F).
# Rothfusz fits Steadman's table within ±1.3 °F and the chart is rounded: ±1.5 °F.
NWS_CHART = [
    (80, 40, 80), (84, 40, 83), (86, 50, 88), (88, 60, 95), (90, 40, 91), (90, 50, 95),
    (90, 70, 106), (92, 55, 101), (94, 75, 124), (96, 65, 121), (98, 50, 113),
    (100, 40, 109), (102, 45, 119), (104, 55, 137), (106, 40, 124), (108, 45, 137),
    (110, 40, 136), (86, 85, 102), (88, 80, 106), (90, 80, 113), (84, 75, 92),
]


@pytest.mark.parametrize(("t", "rh", "chart"), NWS_CHART)
def test_the_nws_chart(t: float, rh: float, chart: float) -> None:
    assert heat_index_f(t, rh) == pytest.approx(chart, abs=1.5)


def rothfusz(t: float, rh: float) -> float:
    """The regression alone, written out independently (WPC heat index equation page)."""
    return (-42.379 + 2.04901523 * t + 10.14333127 * rh - 0.22475541 * t * rh
            - 6.83783e-3 * t ** 2 - 5.481717e-2 * rh ** 2 + 1.22874e-3 * t ** 2 * rh
            + 8.5282e-4 * t * rh ** 2 - 1.99e-6 * t ** 2 * rh ** 2)


@pytest.mark.parametrize(("t", "rh", "adjusted"), [
    # RH < 13 % and 80 ≤ T ≤ 112 °F: minus [(13 − RH)/4]·√([17 − |T − 95|]/17)
    (95.0, 5.0, -2.0),
    (100.0, 10.0, -0.75 * math.sqrt(12 / 17)),
    (112.0, 0.0, 0.0),  # √0 at the edge of the range
    (113.0, 5.0, None),  # outside the range: no adjustment
    (100.0, 13.0, None),  # RH 13 % itself: none
    # RH > 85 % and 80 ≤ T ≤ 87 °F: plus [(RH − 85)/10]·[(87 − T)/5]
    (82.0, 95.0, 1.0),
    (86.0, 90.0, 0.1),
    (87.0, 100.0, 0.0),
    (88.0, 95.0, None),
    (84.0, 85.0, None),  # RH 85 % itself: none
])
def test_the_two_adjustments(t: float, rh: float, adjusted: float | None) -> None:
    assert heat_index_f(t, rh) == pytest.approx(rothfusz(t, rh) + (adjusted or 0.0), abs=1e-9)


@pytest.mark.parametrize(("t", "rh"), [(70.0, 50.0), (75.0, 30.0), (60.0, 90.0), (78.0, 40.0)])
def test_below_80f_the_simple_formula_applies(t: float, rh: float) -> None:
    simple = 0.5 * (t + 61.0 + (t - 68.0) * 1.2 + rh * 0.094)
    assert (simple + t) / 2 < 80
    assert heat_index_f(t, rh) == pytest.approx(simple)


def test_the_switch_to_the_regression_is_where_the_average_reaches_80f() -> None:
    # T = 80 °F, RH = 40 %: simple 79.58, average 79.79 < 80 → simple; at 81 °F the average
    # is 80.9 → regression.
    assert heat_index_f(80.0, 40.0) == pytest.approx(79.58)
    assert heat_index_f(81.0, 40.0) == pytest.approx(rothfusz(81.0, 40.0))


def test_celsius_wraps_fahrenheit() -> None:
    assert celsius(fahrenheit(37.0)) == pytest.approx(37.0)
    assert fahrenheit(100.0) == 212.0
    # 35 °C = 95 °F, 50 %: between the chart's 103 (94 °F) and 108 (96 °F), ≈ 105.5 °F = 40.8 °C
    assert heat_index_c(35.0, 50.0) == pytest.approx(celsius(heat_index_f(95.0, 50.0)))
    assert heat_index_c(35.0, 50.0) == pytest.approx(40.8, abs=0.5)


@given(st.floats(90.0, 110.0), st.floats(40.0, 85.0), st.floats(0.01, 5.0))
def test_hotter_is_never_less_hot_in_the_regression_domain(t: float, rh: float,
                                                           step: float) -> None:
    assert heat_index_f(t + step, rh) >= heat_index_f(t, rh)


@given(st.floats(90.0, 110.0), st.floats(40.0, 80.0), st.floats(0.01, 5.0))
def test_more_humid_is_never_less_hot_in_the_regression_domain(t: float, rh: float,
                                                               step: float) -> None:
    assert heat_index_f(t, rh + step) >= heat_index_f(t, rh)


@given(st.floats(-40.0, 130.0), st.floats(0.0, 100.0))
def test_always_finite(t: float, rh: float) -> None:
    assert math.isfinite(heat_index_f(t, rh))


@given(st.floats(40.0, 75.0), st.floats(0.0, 100.0))
def test_close_to_the_air_when_it_is_not_hot(t: float, rh: float) -> None:
    assert abs(heat_index_f(t, rh) - t) < 10.0
