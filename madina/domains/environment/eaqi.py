"""The European Air Quality Index (EEA): six levels per pollutant, the station's level being the
poorest of its pollutants.

Two band sets, µg/m³, upper bounds of Good … Very poor (Extremely poor is everything above):

- "2024": the revision aligned with the WHO 2021 guidelines (ETC HE Report 2024/17, in use on
  the EEA's index since 2024).
- "2021": the bands the EEA published from 2021 to 2023, still used by many apps.

Averaging (EEA, *European Air Quality Index*, "Averaging time for pollutants"): hourly
concentrations for NO2, O3 and SO2; for PM10 and PM2.5 the 24-hour running mean of the past 24
hours, valid with at least 18 of the 24 hours. Values above the top of the Extremely poor band
(PM2.5 800, PM10 1200, NO2 1000, O3 800, SO2 1250 µg/m³) are "typically found to be erroneous"
and left out of the index. A concentration equal to a band's upper bound belongs to that band
("0–5" includes 5).

Health messages: the EEA's recommendations for the general population and for sensitive
populations (adults and children with respiratory problems, adults with heart conditions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

POLLUTANTS = ("pm25", "pm10", "no2", "o3", "so2")

LEVELS: tuple[str, ...] = (
    "good", "fair", "moderate", "poor", "veryPoor", "extremelyPoor",
)

# Upper bounds (µg/m³) of the first five levels.
BANDS: dict[str, dict[str, tuple[float, ...]]] = {
    "2024": {
        "pm25": (5, 15, 50, 90, 140),
        "pm10": (15, 45, 120, 195, 270),
        "no2": (10, 25, 60, 100, 150),
        "o3": (60, 100, 120, 160, 180),
        "so2": (20, 40, 125, 190, 275),
    },
    "2021": {
        "pm25": (10, 20, 25, 50, 75),
        "pm10": (20, 40, 50, 100, 150),
        "no2": (40, 90, 120, 230, 340),
        "o3": (50, 100, 130, 240, 380),
        "so2": (100, 200, 350, 500, 750),
    },
}

# Above these, a measurement is taken for an error and does not count (EEA).
PLAUSIBLE_MAXIMUM: dict[str, float] = {
    "pm25": 800, "pm10": 1200, "no2": 1000, "o3": 800, "so2": 1250,
}

HEALTH_MESSAGES: dict[str, tuple[str, str]] = {  # level: (general population, sensitive)
    "good": (
        "The air quality is good. Enjoy your usual outdoor activities.",
        "The air quality is good. Enjoy your usual outdoor activities.",
    ),
    "fair": (
        "Enjoy your usual outdoor activities.",
        "Enjoy your usual outdoor activities.",
    ),
    "moderate": (
        "Enjoy your usual outdoor activities.",
        "Consider reducing intense outdoor activities, if you experience symptoms.",
    ),
    "poor": (
        "Consider reducing intense activities outdoors, if you experience symptoms such as sore "
        "eyes, a cough or sore throat.",
        "Consider reducing physical activities, particularly outdoors, especially if you "
        "experience symptoms.",
    ),
    "veryPoor": (
        "Consider reducing intense activities outdoors, if you experience symptoms such as sore "
        "eyes, a cough or sore throat.",
        "Reduce physical activities, particularly outdoors, especially if you experience "
        "symptoms.",
    ),
    "extremelyPoor": (
        "Reduce physical activities outdoors.",
        "Avoid physical activities outdoors.",
    ),
}


class EuropeanIndex(NamedTuple):
    """The station's level, the pollutant that set it, and every pollutant's own level."""

    level: str
    rank: int
    responsible: str
    levels: dict[str, str]


def european_index(
    concentrations: Mapping[str, float],
    bands: Mapping[str, tuple[float, ...]],
    plausible_maximum: Mapping[str, float] = PLAUSIBLE_MAXIMUM,
) -> EuropeanIndex | None:
    """The index from concentrations in µg/m³ (already averaged as the index requires), or None
    when no pollutant has a usable value. On a tie, the first pollutant given wins."""
    worst_rank = -1
    responsible = ""
    levels: dict[str, str] = {}
    top = len(LEVELS) - 1
    for pollutant, concentration in concentrations.items():
        upper_bounds = bands.get(pollutant)
        if upper_bounds is None or concentration > plausible_maximum.get(pollutant, float("inf")):
            continue
        rank = top
        for index, upper in enumerate(upper_bounds):
            if concentration <= upper:
                rank = index
                break
        levels[pollutant] = LEVELS[rank]
        if rank > worst_rank:
            worst_rank, responsible = rank, pollutant
    if worst_rank < 0:
        return None
    return EuropeanIndex(LEVELS[worst_rank], worst_rank, responsible, levels)
