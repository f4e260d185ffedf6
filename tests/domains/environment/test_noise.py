"""Noise indicators: energetic averaging, L_den (Directive 2002/49/EC, Annex I), periods and the
WHO 2018 guideline levels."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.environment import noise


def test_energetic_mean() -> None:
    assert noise.energetic_mean([(60.0, 1.0), (70.0, 1.0)]) == pytest.approx(67.40, abs=0.005)
    assert noise.energetic_mean([(55.0, 3600.0), (55.0, 60.0)]) == pytest.approx(55.0)
    # durations weigh: 70 dB for 1 s and 40 dB for 999 s
    assert noise.energetic_mean([(70.0, 1.0), (40.0, 999.0)]) == pytest.approx(
        10 * math.log10((1e7 + 999 * 1e4) / 1000))
    with pytest.raises(ValueError):
        noise.energetic_mean([])


def test_lden_of_a_constant_level_adds_the_penalties() -> None:
    # 10·lg((12 + 4·10^0.5 + 8·10)/24) = 6.395 dB above the level itself
    assert noise.lden(60.0, 60.0, 60.0) == pytest.approx(66.395, abs=0.001)


def test_lden_worked_example() -> None:
    # 10·lg((12·10^6.5 + 4·10^6.7 + 8·10^6.5)/24) for L_day 65, L_evening 62, L_night 55
    assert noise.lden(65.0, 62.0, 55.0) == pytest.approx(65.404, abs=0.001)


def test_lden_with_a_shortened_evening() -> None:
    # evening 19–22 (3 h), night 22–07 (9 h): 10·lg((12·10^6.5 + 3·10^6.7 + 9·10^6.5)/24)
    assert noise.lden(65.0, 62.0, 55.0, 12, 3, 9) == pytest.approx(65.306, abs=0.001)


@pytest.mark.parametrize(("hour", "period"), [
    (6, "night"), (7, "day"), (18, "day"), (19, "evening"), (22, "evening"), (23, "night"),
    (0, "night"),
])
def test_default_periods(hour: int, period: str) -> None:
    assert noise.period_of(hour, 7, 19, 23) == period


@pytest.mark.parametrize(("hour", "period"), [
    (5, "night"), (6, "day"), (17, "day"), (18, "evening"), (21, "evening"), (22, "night"),
])
def test_shifted_periods(hour: int, period: str) -> None:
    assert noise.period_of(hour, 6, 18, 22) == period
    assert noise.period_lengths(6, 18, 22) == (12, 4, 8)


def test_periods_across_midnight() -> None:
    assert noise.period_lengths(7, 19, 0) == (12, 5, 7)
    assert noise.period_of(23, 7, 19, 0) == "evening"
    assert noise.period_of(0, 7, 19, 0) == "night"


@pytest.mark.parametrize(("source", "lden", "lnight"), [
    ("roadTraffic", 53.0, 45.0), ("railway", 54.0, 44.0), ("aircraft", 45.0, 40.0),
])
def test_who_2018_levels(source: str, lden: float, lnight: float) -> None:
    assert noise.WHO_NOISE_GUIDELINES[source] == {"Lden": lden, "Lnight": lnight}


def test_guideline_exceedances() -> None:
    road = noise.WHO_NOISE_GUIDELINES["roadTraffic"]
    assert noise.guideline_exceedances({"Lden": 53.0, "Lnight": 45.1}, road) == ("Lnight",)
    assert noise.guideline_exceedances({"Lden": 60.0}, road) == ("Lden",)
    wind = noise.WHO_NOISE_GUIDELINES["windTurbines"]
    assert noise.guideline_exceedances({"Lden": 50.0, "Lnight": 50.0}, wind) == ("Lden",)


levels = st.floats(20, 120)


@given(levels, levels, levels)
def test_lden_is_bounded_by_its_penalised_periods(day: float, evening: float, night: float) -> None:
    result = noise.lden(day, evening, night)
    assert min(day, evening + 5, night + 10) - 1e-9 <= result <= max(day, evening + 5, night + 10)
    assert noise.lden(day + 1, evening, night) > result
