"""Concentration units: UN/CEFACT codes as Smart Data Models send them, converted to the unit each
index is defined in.

Smart Data Models give a pollutant's unit as a UN/CEFACT common code in `unitCode`: `GQ` µg/m³,
`GP` mg/m³, `59` ppm, `61` ppb. The US AQI is defined in ppm (O3, CO), ppb (SO2, NO2) and µg/m³
(PM) (EPA-454/B-24-002, Table 6); the European index and the WHO guidelines in µg/m³. Each
pollutant is therefore kept in its *canonical* unit, the one of the US AQI table, so that EPA's
truncation rules apply to the number the station reported and not to a value that went through a
float round trip.

Between mass concentration and mixing ratio, µg/m³ = ppb × M / Vm, with M the molar mass (g/mol)
and Vm the molar volume of an ideal gas. The default Vm is 24.45 L/mol, the 25 °C / 1 atm value
of EPA's and OSHA's conversion formula (ppm = mg/m³ × 24.45 / M); RT/p at 298.15 K is 24.465
L/mol (0.06 % apart). EU law standardises gaseous pollutants at 293 K and 101.3 kPa (Directive
2008/50/EC, Annex VI), Vm ≈ 24.04 L/mol: a city reporting to the EEA sets that in its settings.
"""

from __future__ import annotations

MICROGRAMS_PER_CUBIC_METRE = "GQ"
MILLIGRAMS_PER_CUBIC_METRE = "GP"
PARTS_PER_MILLION = "59"
PARTS_PER_BILLION = "61"

# Canonical unit per pollutant: the unit of its US AQI breakpoints (EPA-454/B-24-002, Table 6).
CANONICAL_UNIT: dict[str, str] = {
    "pm25": MICROGRAMS_PER_CUBIC_METRE,
    "pm10": MICROGRAMS_PER_CUBIC_METRE,
    "o3": PARTS_PER_MILLION,
    "co": PARTS_PER_MILLION,
    "so2": PARTS_PER_BILLION,
    "no2": PARTS_PER_BILLION,
}

# Molar masses (g/mol) from the IUPAC 2021 conventional atomic weights
# (C 12.011, N 14.007, O 15.999, S 32.06).
MOLAR_MASS: dict[str, float] = {
    "o3": 47.997,
    "no2": 46.005,
    "so2": 64.058,
    "co": 28.010,
}

DEFAULT_MOLAR_VOLUME = 24.45  # L/mol at 25 °C, 1 atm (EPA/OSHA conversion convention)

# How many µg/m³ one unit of the code is, for mass concentrations; how many ppb, for mixing ratios.
_MASS_FACTOR = {MICROGRAMS_PER_CUBIC_METRE: 1.0, MILLIGRAMS_PER_CUBIC_METRE: 1000.0}
_RATIO_FACTOR = {PARTS_PER_BILLION: 1.0, PARTS_PER_MILLION: 1000.0}


class UnitError(ValueError):
    """A unit code that is unknown, or that cannot express this pollutant (PM in ppb)."""


def to_canonical(pollutant: str, value: float, unit_code: str, molar_volume: float) -> float:
    """`value` in `unit_code`, converted to the pollutant's canonical unit (`CANONICAL_UNIT`)."""
    target = CANONICAL_UNIT[pollutant]
    if unit_code == target:
        return value
    if unit_code in _MASS_FACTOR:
        micrograms = value * _MASS_FACTOR[unit_code]
        if target in _MASS_FACTOR:
            return micrograms / _MASS_FACTOR[target]
        ppb = micrograms * molar_volume / MOLAR_MASS[pollutant]
        return ppb / _RATIO_FACTOR[target]
    if unit_code in _RATIO_FACTOR:
        if target not in _RATIO_FACTOR:
            raise UnitError(f"{pollutant} is a particle mass, not a mixing ratio ({unit_code})")
        return value * _RATIO_FACTOR[unit_code] / _RATIO_FACTOR[target]
    raise UnitError(f"unknown unit code {unit_code!r} for {pollutant}")


def to_micrograms(pollutant: str, canonical_value: float, molar_volume: float) -> float:
    """A canonical concentration in µg/m³, the unit of the European index and WHO guidelines."""
    unit = CANONICAL_UNIT[pollutant]
    if unit in _MASS_FACTOR:
        return canonical_value * _MASS_FACTOR[unit]
    ppb = canonical_value * _RATIO_FACTOR[unit]
    return ppb * MOLAR_MASS[pollutant] / molar_volume
