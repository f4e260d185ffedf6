"""The US EPA Air Quality Index: breakpoints, truncation, interpolation, categories and advice.

Source: EPA, *Technical Assistance Document for the Reporting of Daily Air Quality – the Air
Quality Index (AQI)*, EPA-454/B-24-002 (May 2024), with the 2024 PM2.5 breakpoints.

- Each pollutant's concentration is truncated first (Section IV): O3 to 0.001 ppm, PM2.5 and CO
  to 0.1 (µg/m³, ppm), PM10, SO2 and NO2 to whole units (µg/m³, ppb).
- The sub-index is the linear interpolation inside the band that holds it,
  I = (I_hi − I_lo) / (BP_hi − BP_lo) × (C − BP_lo) + I_lo, rounded to the nearest integer.
- The AQI is the highest sub-index; its pollutant is the responsible ("main") pollutant.
- O3: 8-hour values do not define an AQI of 301 or more; those come from 1-hour values, which in
  turn define nothing below 101. When both exist, the higher of the two is reported.
- SO2: 1-hour values do not define an AQI of 200 or more; those come from 24-hour values.

A concentration above a table's last breakpoint extrapolates the last band: AirNow reports such
values as "Beyond the AQI" and gives the Hazardous advice for them, which the category keeps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

# (C_lo, C_hi, I_lo, I_hi) per band, EPA-454/B-24-002, Table 6. Metric names are
# "<pollutant>_<averaging period>"; units are each pollutant's canonical unit (see units.py).
Band = tuple[float, float, int, int]

BREAKPOINTS: dict[str, tuple[Band, ...]] = {
    "o3_8h": (
        (0.000, 0.054, 0, 50),
        (0.055, 0.070, 51, 100),
        (0.071, 0.085, 101, 150),
        (0.086, 0.105, 151, 200),
        (0.106, 0.200, 201, 300),
    ),
    "o3_1h": (
        (0.125, 0.164, 101, 150),
        (0.165, 0.204, 151, 200),
        (0.205, 0.404, 201, 300),
        (0.405, 0.604, 301, 500),
    ),
    "pm25_24h": (
        (0.0, 9.0, 0, 50),
        (9.1, 35.4, 51, 100),
        (35.5, 55.4, 101, 150),
        (55.5, 125.4, 151, 200),
        (125.5, 225.4, 201, 300),
        (225.5, 325.4, 301, 500),
    ),
    "pm10_24h": (
        (0, 54, 0, 50),
        (55, 154, 51, 100),
        (155, 254, 101, 150),
        (255, 354, 151, 200),
        (355, 424, 201, 300),
        (425, 604, 301, 500),
    ),
    "co_8h": (
        (0.0, 4.4, 0, 50),
        (4.5, 9.4, 51, 100),
        (9.5, 12.4, 101, 150),
        (12.5, 15.4, 151, 200),
        (15.5, 30.4, 201, 300),
        (30.5, 50.4, 301, 500),
    ),
    "so2_1h": (
        (0, 35, 0, 50),
        (36, 75, 51, 100),
        (76, 185, 101, 150),
        (186, 304, 151, 200),
    ),
    "so2_24h": (
        (305, 604, 201, 300),
        (605, 1004, 301, 500),
    ),
    "no2_1h": (
        (0, 53, 0, 50),
        (54, 100, 51, 100),
        (101, 360, 101, 150),
        (361, 649, 151, 200),
        (650, 1249, 201, 300),
        (1250, 2049, 301, 500),
    ),
}

# Decimal places kept by truncation, per pollutant (EPA-454/B-24-002, Section IV).
TRUNCATION_DECIMALS: dict[str, int] = {
    "o3": 3, "pm25": 1, "pm10": 0, "co": 1, "so2": 0, "no2": 0,
}


@dataclass(frozen=True)
class Category:
    """One of the six AQI categories (EPA-454/B-24-002, Tables 1 and 2)."""

    rank: int  # 0 (Good) … 5 (Hazardous), indexes the cautionary statements
    name: str  # Smart Data Models' camelCase spelling of EPA's descriptor
    label: str  # EPA's descriptor
    upper: int  # highest AQI of the category (Hazardous: open-ended)
    color: str  # EPA's standard color, RGB as hex


CATEGORIES: tuple[Category, ...] = (
    Category(0, "good", "Good", 50, "#00E400"),
    Category(1, "moderate", "Moderate", 100, "#FFFF00"),
    Category(2, "unhealthyForSensitiveGroups", "Unhealthy for Sensitive Groups", 150, "#FF7E00"),
    Category(3, "unhealthy", "Unhealthy", 200, "#FF0000"),
    Category(4, "veryUnhealthy", "Very Unhealthy", 300, "#8F3F97"),
    Category(5, "hazardous", "Hazardous", 10**9, "#7E0023"),
)

# Cautionary statements per pollutant and category rank, "" where EPA gives none. Wording of the
# Technical Assistance Document's cautionary-statement table (EPA-454/B-18-007, Table 4, carried
# as Table 5 of EPA-454/B-24-002); a city that words its advice differently replaces it in its
# settings (`AirQualitySettings.health_advice`).
_O3_GROUPS = (
    "People with lung disease (such as asthma), children, older adults, people who are active "
    "outdoors (including outdoor workers), people with certain genetic variants, and people "
    "with diets limited in certain nutrients"
)
_PM_GROUPS = (
    "People with heart or lung disease, older adults, children, and people of lower "
    "socioeconomic status"
)
_CO_GROUPS = "People with heart disease, such as angina,"
_SO2_GROUPS = "Children, people with asthma, or other lung diseases,"
_NO2_GROUPS = "People with asthma, children and older adults"

CAUTIONARY_STATEMENTS: dict[str, tuple[str, ...]] = {
    "o3": (
        "",
        "Unusually sensitive people should consider reducing prolonged or heavy outdoor "
        "exertion.",
        f"{_O3_GROUPS} should reduce prolonged or heavy outdoor exertion.",
        f"{_O3_GROUPS} should avoid prolonged or heavy outdoor exertion; everyone else should "
        "reduce prolonged or heavy outdoor exertion.",
        f"{_O3_GROUPS} should avoid all outdoor exertion; everyone else should reduce outdoor "
        "exertion.",
        "Everyone should avoid all outdoor exertion.",
    ),
    "pm": (
        "",
        "Unusually sensitive people should consider reducing prolonged or heavy exertion.",
        f"{_PM_GROUPS} should reduce prolonged or heavy exertion.",
        f"{_PM_GROUPS} should avoid prolonged or heavy exertion; everyone else should reduce "
        "prolonged or heavy exertion.",
        f"{_PM_GROUPS} should avoid all physical activity outdoors. Everyone else should avoid "
        "prolonged or heavy exertion.",
        "Everyone should avoid all physical activity outdoors; people with heart or lung "
        "disease, older adults, children, and people of lower socioeconomic status should "
        "remain indoors and keep activity levels low.",
    ),
    "co": (
        "",
        "",
        f"{_CO_GROUPS} should limit heavy exertion and avoid sources of CO, such as heavy "
        "traffic.",
        f"{_CO_GROUPS} should limit moderate exertion and avoid sources of CO, such as heavy "
        "traffic.",
        f"{_CO_GROUPS} should avoid exertion and sources of CO, such as heavy traffic.",
        f"{_CO_GROUPS} should avoid exertion and sources of CO, such as heavy traffic; everyone "
        "else should limit heavy exertion.",
    ),
    "so2": (
        "",
        "",
        "People with asthma should consider limiting outdoor exertion.",
        f"{_SO2_GROUPS} should limit outdoor exertion.",
        f"{_SO2_GROUPS} should avoid outdoor exertion; everyone else should reduce outdoor "
        "exertion.",
        f"{_SO2_GROUPS} should remain indoors; everyone else should avoid outdoor exertion.",
    ),
    "no2": (
        "",
        "Unusually sensitive individuals should consider limiting prolonged exertion "
        "especially near busy roads.",
        f"{_NO2_GROUPS} should limit prolonged exertion especially near busy roads.",
        f"{_NO2_GROUPS} should avoid prolonged exertion near roadways; everyone else should "
        "limit prolonged exertion especially near busy roads.",
        f"{_NO2_GROUPS} should avoid all outdoor exertion; everyone else should avoid prolonged "
        "exertion especially near busy roads.",
        f"{_NO2_GROUPS} should remain indoors; everyone else should avoid all outdoor exertion.",
    ),
}

# The statement table each pollutant reads (PM2.5 and PM10 share EPA's particle statements).
ADVICE_GROUP: dict[str, str] = {
    "o3": "o3", "pm25": "pm", "pm10": "pm", "co": "co", "so2": "so2", "no2": "no2",
}

_TOP_OF_O3_8H = 0.200  # ppm: above it, only 1-hour O3 defines the AQI
_TOP_OF_SO2_1H = 304  # ppb: above it, only 24-hour SO2 defines the AQI
_SO2_1H_CAP = 200  # AQI a 1-hour SO2 above 304 ppb stands for when 24-hour SO2 cannot say more


def truncate(value: float, decimals: int) -> float:
    """`value` cut (not rounded) to `decimals` places, as EPA requires before interpolating.

    A relative nudge of 1e-9 absorbs binary representation error, so 0.07 ppm stays 0.070 and
    does not become 0.069 through 0.06999999999999999.
    """
    scale = 10**decimals
    return math.floor(value * scale * (1 + 1e-9) + 1e-9) / scale


def round_half_up(value: float) -> int:
    """Nearest integer, halves upwards (EPA rounds 125.5 to 126; Python's round() would not)."""
    return math.floor(value + 0.5)


def interpolate(concentration: float, bands: tuple[Band, ...]) -> int | None:
    """The sub-index of an already truncated concentration, or None below the table's first
    breakpoint (1-hour O3 under 0.125 ppm, 24-hour SO2 under 305 ppb)."""
    if concentration < bands[0][0]:
        return None
    for c_lo, c_hi, i_lo, i_hi in bands:
        if concentration <= c_hi:
            # A custom table may leave a gap between bands: its values count as the band start.
            position = max(concentration, c_lo) - c_lo
            return round_half_up((i_hi - i_lo) / (c_hi - c_lo) * position + i_lo)
    c_lo, c_hi, i_lo, i_hi = bands[-1]
    return round_half_up((i_hi - i_lo) / (c_hi - c_lo) * (concentration - c_lo) + i_lo)


def category(aqi: int) -> Category:
    """The category an AQI value falls in."""
    for candidate in CATEGORIES:
        if aqi <= candidate.upper:
            return candidate
    return CATEGORIES[-1]


class SubIndex(NamedTuple):
    """One pollutant's part of the AQI and the averaging period that produced it."""

    pollutant: str
    value: int
    metric: str  # "o3_8h", "pm25_nowcast", … (the concentration the value came from)


def ozone_sub_index(
    eight_hour: float | None, one_hour: float | None, breakpoints: Mapping[str, tuple[Band, ...]]
) -> SubIndex | None:
    """The O3 sub-index from 8-hour and/or 1-hour concentrations (ppm), the higher when both say
    something. An 8-hour value above 0.200 ppm defers to the 1-hour value."""
    best: SubIndex | None = None
    if eight_hour is not None:
        truncated = truncate(max(eight_hour, 0.0), TRUNCATION_DECIMALS["o3"])
        if truncated <= _TOP_OF_O3_8H:
            value = interpolate(truncated, breakpoints["o3_8h"])
            if value is not None:
                best = SubIndex("o3", value, "o3_8h")
    if one_hour is not None:
        truncated = truncate(max(one_hour, 0.0), TRUNCATION_DECIMALS["o3"])
        value = interpolate(truncated, breakpoints["o3_1h"])
        if value is not None and (best is None or value > best.value):
            best = SubIndex("o3", value, "o3_1h")
    return best


def sulfur_dioxide_sub_index(
    one_hour: float | None, day: float | None, breakpoints: Mapping[str, tuple[Band, ...]]
) -> SubIndex | None:
    """The SO2 sub-index (ppb): 1-hour values up to 304 ppb; above that, the 24-hour value for an
    AQI of 201 or more, and 200 when the 24-hour average stays under 305 ppb or is unknown (the
    1-hour value alone shows the top of the Unhealthy band is reached, no more)."""
    decimals = TRUNCATION_DECIMALS["so2"]
    day_index = None
    if day is not None:
        day_index = interpolate(truncate(max(day, 0.0), decimals), breakpoints["so2_24h"])
    if one_hour is not None:
        truncated = truncate(max(one_hour, 0.0), decimals)
        if truncated <= _TOP_OF_SO2_1H:
            value = interpolate(truncated, breakpoints["so2_1h"])
            return None if value is None else SubIndex("so2", value, "so2_1h")
        if day_index is not None:
            return SubIndex("so2", day_index, "so2_24h")
        return SubIndex("so2", _SO2_1H_CAP, "so2_1h")
    if day_index is not None:
        return SubIndex("so2", day_index, "so2_24h")
    return None


def simple_sub_index(
    pollutant: str, metric: str, concentration: float,
    breakpoints: Mapping[str, tuple[Band, ...]], table: str | None = None,
) -> SubIndex | None:
    """The sub-index of a pollutant with a single table (PM, CO, NO2). `table` names the
    breakpoints when they differ from `metric` (a PM NowCast reads the 24-hour table)."""
    bands = breakpoints[table or metric]
    value = interpolate(truncate(max(concentration, 0.0), TRUNCATION_DECIMALS[pollutant]), bands)
    return None if value is None else SubIndex(pollutant, value, metric)


class UsAqi(NamedTuple):
    """The reported AQI: the highest sub-index, its category and the pollutant responsible."""

    value: int
    category: Category
    responsible: str
    sub_indices: tuple[SubIndex, ...]


def overall(sub_indices: list[SubIndex]) -> UsAqi | None:
    """The AQI from its sub-indices (EPA-454/B-24-002, "How to handle values from multiple
    pollutants"): the highest wins; on a tie, the first pollutant in the given order."""
    if not sub_indices:
        return None
    top = sub_indices[0]
    for sub_index in sub_indices:
        if sub_index.value > top.value:
            top = sub_index
    return UsAqi(top.value, category(top.value), top.pollutant, tuple(sub_indices))


def cautionary_statement(
    pollutant: str, rank: int, statements: Mapping[str, tuple[str, ...]] = CAUTIONARY_STATEMENTS
) -> str:
    """EPA's cautionary statement for a pollutant at a category rank ("" when EPA gives none)."""
    return statements[ADVICE_GROUP[pollutant]][rank]
