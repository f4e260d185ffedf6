"""A building's own weekly profile, and how unusual an hour is against it.

Buildings run on a week: offices empty at night and at weekends, schools on term timetables. The
expected use of an hour is what the building used in the same hour of the week in recent weeks —
the time-of-week baseline of J. L. Mathieu, P. N. Price, S. Kiliccote and M. A. Piette,
"Quantifying changes in building electricity use, with application to demand response", IEEE
Trans. Smart Grid 2(3), 2011 (LBNL), here without the temperature term. Each of the 168
hour-of-week slots keeps the last `weeks` values; an hour is scored by the modified z-score of
Iglewicz and Hoaglin (1993) against its slot (median and MAD, robust to the anomalies sought).

Memory is fixed: 168 × `weeks` doubles per building.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from datetime import datetime

from madina.analytics.robust import median, median_absolute_deviation, modified_z_score

SLOTS = 7 * 24


def slot_of(local: datetime) -> int:
    """Hour of the week, 0 = Monday 00:00-01:00, in the building's local time."""
    return local.weekday() * 24 + local.hour


@dataclass(frozen=True)
class Expectation:
    """What the slot's history says about a value."""

    median: float
    mad: float
    weeks: int
    score: float


class WeeklyProfile:
    """Ring of the last `weeks` values of every hour-of-week slot."""

    __slots__ = ("_counts", "_values", "weeks")

    def __init__(self, weeks: int) -> None:
        if weeks < 1:
            raise ValueError("weeks must be at least 1")
        self.weeks = weeks
        self._values = array("d", [math.nan]) * (SLOTS * weeks)
        self._counts = array("I", [0]) * SLOTS

    def history(self, slot: int) -> list[float]:
        count = min(self._counts[slot], self.weeks)
        base = slot * self.weeks
        return [self._values[base + i] for i in range(count)]

    def add(self, slot: int, value: float) -> None:
        base = slot * self.weeks
        self._values[base + self._counts[slot] % self.weeks] = value
        self._counts[slot] += 1

    def expect(self, slot: int, value: float, mad_floor: float) -> Expectation | None:
        """The slot's median, MAD and the value's modified z-score; None without history."""
        values = self.history(slot)
        if not values:
            return None
        center = median(values)
        mad = median_absolute_deviation(values, center)
        return Expectation(center, mad, len(values), modified_z_score(value, center, mad,
                                                                      mad_floor))
