"""Environmental noise indicators: energetic averaging, L_day/L_evening/L_night, L_den, and the
WHO 2018 guideline levels.

L_den (Directive 2002/49/EC, the Environmental Noise Directive, Annex I):

    L_den = 10·lg( (12·10^(L_day/10) + 4·10^((L_evening+5)/10) + 8·10^((L_night+10)/10)) / 24 )

with L_day, L_evening, L_night the A-weighted long-term average levels of the day (07–19),
evening (19–23) and night (23–07) periods. Member States may move the start of the day (and so
the others) and may shorten the evening by one or two hours, lengthening the day and/or night:
the weights are then the periods' actual lengths, which `lden` takes as arguments. On days when
clocks change, a period defined on local clock hours is an hour longer or shorter; Madina
weights by the measured lengths so the formula stays an energetic mean over the whole day.

Levels over a period are combined energetically, L = 10·lg(Σ t_i·10^(L_i/10) / Σ t_i): the
service sums `energy(L_i)·t_i` and the time measured, and takes the `level` of their ratio.

WHO, *Environmental Noise Guidelines for the European Region* (2018), recommended levels:
road traffic L_den 53 dB, L_night 45 dB; railway 54 / 44; aircraft 45 / 40; wind turbines
L_den 45 (no L_night recommendation, evidence too low).
"""

from __future__ import annotations

import math

WHO_NOISE_GUIDELINES: dict[str, dict[str, float]] = {
    "roadTraffic": {"Lden": 53.0, "Lnight": 45.0},
    "railway": {"Lden": 54.0, "Lnight": 44.0},
    "aircraft": {"Lden": 45.0, "Lnight": 40.0},
    "windTurbines": {"Lden": 45.0},
}


def energy(level_db: float) -> float:
    """The relative sound energy 10^(L/10) of a level."""
    return 10.0 ** (level_db / 10.0)


def level(mean_energy: float) -> float:
    """The level (dB) of a mean relative energy."""
    return 10.0 * math.log10(mean_energy)


def lden(
    l_day: float, l_evening: float, l_night: float,
    day_hours: float = 12.0, evening_hours: float = 4.0, night_hours: float = 8.0,
    evening_penalty: float = 5.0, night_penalty: float = 10.0,
) -> float:
    """L_den from the three period levels, weighted by the periods' lengths (Annex I of
    2002/49/EC with 12/4/8 hours and penalties of 5 and 10 dB by default)."""
    total = day_hours + evening_hours + night_hours
    weighted = (
        day_hours * energy(l_day)
        + evening_hours * energy(l_evening + evening_penalty)
        + night_hours * energy(l_night + night_penalty)
    )
    return level(weighted / total)


def period_lengths(day_start: int, evening_start: int, night_start: int) -> tuple[int, int, int]:
    """Nominal hours of day, evening and night for period starts given as clock hours."""
    return (
        (evening_start - day_start) % 24,
        (night_start - evening_start) % 24,
        (day_start - night_start) % 24,
    )


def guideline_exceedances(
    indicators: dict[str, float], guidelines: dict[str, float]
) -> tuple[str, ...]:
    """The indicators ("Lden", "Lnight") above their guideline level, in guideline order."""
    return tuple(
        name for name, limit in guidelines.items()
        if name in indicators and indicators[name] > limit
    )
