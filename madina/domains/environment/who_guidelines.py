"""WHO global air quality guidelines (2021): which short-term guideline levels a station exceeds.

Source: WHO, *WHO global air quality guidelines: particulate matter (PM2.5 and PM10), ozone,
nitrogen dioxide, sulfur dioxide and carbon monoxide* (2021), Table 0.1 (recommended AQG levels).

Short-term levels, µg/m³ (CO in µg/m³ here, 4 mg/m³): PM2.5 24-hour 15, PM10 24-hour 45, NO2
24-hour 25, SO2 24-hour 40, O3 8-hour 100 (the guideline reads it as the daily maximum 8-hour
mean), CO 24-hour 4000. The 24-hour levels are stated as 99th percentiles, i.e. 3–4 exceedance
days a year are tolerated: a station flagged here exceeds the level over the window, which a city
counts over a year to judge the guideline.

The long-term levels (annual PM2.5 5, PM10 15, NO2 10; O3 peak season 60) need a year of data and
are not judged by the running windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

# Metric ("<pollutant>_<window>") → guideline level in µg/m³.
SHORT_TERM_GUIDELINES: dict[str, float] = {
    "pm25_24h": 15.0,
    "pm10_24h": 45.0,
    "no2_24h": 25.0,
    "so2_24h": 40.0,
    "o3_8h": 100.0,
    "co_24h": 4000.0,
}


class GuidelineCheck(NamedTuple):
    """Exceeded metrics (in the order given) and every checked metric's concentration / level."""

    exceeded: tuple[str, ...]
    ratios: dict[str, float]


def check_guidelines(
    concentrations: Mapping[str, float], guidelines: Mapping[str, float] = SHORT_TERM_GUIDELINES
) -> GuidelineCheck:
    """Compare windowed concentrations (µg/m³, keyed by metric) with the guideline levels; a
    concentration above its level exceeds it (at the level, it does not)."""
    exceeded: list[str] = []
    ratios: dict[str, float] = {}
    for metric, concentration in concentrations.items():
        level = guidelines.get(metric)
        if level is None:
            continue
        ratios[metric] = round(concentration / level, 3)
        if concentration > level:
            exceeded.append(metric)
    return GuidelineCheck(tuple(exceeded), ratios)
