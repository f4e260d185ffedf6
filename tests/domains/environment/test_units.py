"""Unit codes to canonical units, at the configured molar volume."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.domains.environment.units import (
    CANONICAL_UNIT,
    DEFAULT_MOLAR_VOLUME,
    UnitError,
    to_canonical,
    to_micrograms,
)

V = DEFAULT_MOLAR_VOLUME


@pytest.mark.parametrize(("pollutant", "value", "code", "expected"), [
    ("o3", 70.0, "61", 0.070),  # ppb → ppm
    ("o3", 0.070, "59", 0.070),
    ("o3", 100.0, "GQ", 100 * 24.45 / 47.997 / 1000),  # µg/m³ → ppm at 25 °C
    ("no2", 100.0, "GQ", 100 * 24.45 / 46.005),  # µg/m³ → ppb
    ("no2", 0.1, "59", 100.0),  # ppm → ppb
    ("so2", 1.0, "GP", 1000 * 24.45 / 64.058),  # mg/m³ → ppb
    ("co", 1.15, "GP", 1150 * 24.45 / 28.010 / 1000),  # mg/m³ → ppm, ≈ 1.004
    ("co", 900.0, "61", 0.9),
    ("pm25", 0.035, "GP", 35.0),  # mg/m³ → µg/m³
    ("pm10", 40.0, "GQ", 40.0),
])
def test_conversions(pollutant: str, value: float, code: str, expected: float) -> None:
    assert to_canonical(pollutant, value, code, V) == pytest.approx(expected)


def test_the_molar_volume_is_the_citys_choice() -> None:
    at_20_celsius = to_canonical("no2", 100.0, "GQ", 24.04)
    assert at_20_celsius == pytest.approx(100 * 24.04 / 46.005)
    assert at_20_celsius < to_canonical("no2", 100.0, "GQ", V)


def test_particles_have_no_mixing_ratio() -> None:
    with pytest.raises(UnitError):
        to_canonical("pm25", 10.0, "61", V)


def test_unknown_codes_are_refused() -> None:
    with pytest.raises(UnitError):
        to_canonical("o3", 10.0, "KGM", V)


def test_micrograms_of_canonical_values() -> None:
    assert to_micrograms("o3", 0.070, V) == pytest.approx(70 * 47.997 / 24.45)
    assert to_micrograms("co", 1.0, V) == pytest.approx(1000 * 28.010 / 24.45)
    assert to_micrograms("pm10", 33.0, V) == 33.0


@given(st.sampled_from(sorted(CANONICAL_UNIT)), st.floats(0, 1e5))
def test_round_trip_through_micrograms(pollutant: str, micrograms: float) -> None:
    canonical = to_canonical(pollutant, micrograms, "GQ", V)
    assert to_micrograms(pollutant, canonical, V) == pytest.approx(micrograms, rel=1e-9, abs=1e-9)
