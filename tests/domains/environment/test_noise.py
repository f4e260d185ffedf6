"""Noise indicators: energetic averaging, L_den (Directive 2002/49/EC, Annex I), periods and the
WHO 2018 guideline levels."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.environment import noise


def energetic_mean(levels_and_seconds: list[tuple[float, float]]) -> float:
    """What the service does with a period's intervals: sum energy × time, level of the mean."""
    total = sum(noise.energy(level) * seconds for level, seconds in levels_and_seconds)
    return noise.level(total / sum(seconds for _, seconds in levels_and_seconds))


def test_energetic_mean() -> None:
    assert energetic_mean([(60.0, 1.0), (70.0, 1.0)]) == pytest.approx(67.40, abs=0.005)
    assert energetic_mean([(55.0, 3600.0), (55.0, 60.0)]) == pytest.approx(55.0)
    # durations weigh: 70 dB for 1 s and 40 dB for 999 s
    assert energetic_mean([(70.0, 1.0), (40.0, 999.0)]) == pytest.approx(
        10 * math.log10((1e7 + 999 * 1e4) / 1000))


def test_lden_of_a_constant_level_adds_the_penalties() -> None:
    # 10·lg((12 + 4·10^0.5 + 8·10)/24) = 6.395 dB above the level itself
    assert noise.lden(60.0, 60.0, 60.0) == pytest.approx(66.395, abs=0.001)


def test_lden_worked_example() -> None:
    # 10·lg((12·10^6.5 + 4·10^6.7 + 8·10^6.5)/24) for L_day 65, L_evening 62, L_night 55
    assert noise.lden(65.0, 62.0, 55.0) == pytest.approx(65.404, abs=0.001)


def test_lden_with_a_shortened_evening() -> None:
    # evening 19–22 (3 h), night 22–07 (9 h): 10·lg((12·10^6.5 + 3·10^6.7 + 9·10^6.5)/24)
    assert noise.lden(65.0, 62.0, 55.0, 12, 3, 9) == pytest.approx(65.306, abs=0.001)


@pytest.mark.parametrize(("starts", "lengths"), [
    ((7, 19, 23), (12, 4, 8)),  # Directive 2002/49/EC, Annex I
    ((6, 18, 22), (12, 4, 8)),  # all starts moved an hour earlier
    ((7, 19, 22), (12, 3, 9)),  # evening shortened by an hour, night lengthened
    ((7, 19, 0), (12, 5, 7)),  # across midnight
])
def test_period_lengths(starts: tuple[int, int, int], lengths: tuple[int, int, int]) -> None:
    assert noise.period_lengths(*starts) == lengths


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
