"""Travel-time reliability of a segment over a recurring period (e.g. weekday mornings).

FHWA, "Travel Time Reliability: Making It There On Time, All The Time" (FHWA-HOP-06-070, 2006)
and the Urban Mobility Report define, for the trips made in a period over many days:

- Travel Time Index  TTI = mean travel time / free-flow travel time;
- Planning Time Index PTI = 95th-percentile travel time / free-flow travel time;
- Buffer Index        BI = (95th-percentile travel time − mean travel time) / mean travel time.

A loop detector sees speed, not trips, so the travel time over the segment is its length over the
speed. The length cancels in every ratio, so the indices are computed on paces (h/km, 1/v):
TTI = mean(1/v) · v_free — the mean of travel times, i.e. the harmonic mean of speeds, as it must
be. Each observation interval counts once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, time

from madina.analytics.robust import percentile

WEEKDAYS = frozenset(range(5))
"""Monday to Friday (datetime.weekday numbering)."""


@dataclass(frozen=True)
class ReliabilityPeriod:
    """A daily window in the city's local time, on the given weekdays (0 = Monday)."""

    name: str
    start: time
    end: time
    weekdays: frozenset[int] = WEEKDAYS

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"period {self.name}: start must be before end (same day)")
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError(f"period {self.name}: weekdays must be within 0-6")

    def contains(self, local: datetime) -> bool:
        """Whether a local time falls in the window (start inclusive, end exclusive)."""
        return local.weekday() in self.weekdays and self.start <= local.time() < self.end

    def ended(self, local: datetime) -> bool:
        """Whether the window of `local`'s day is over (and that day has one at all)."""
        return local.weekday() in self.weekdays and local.time() >= self.end


@dataclass(frozen=True)
class Reliability:
    """The three FHWA indices and how many intervals they rest on."""

    travel_time_index: float
    planning_time_index: float
    buffer_index: float
    samples: int


def reliability(paces_h_per_km: list[float], free_flow_kmh: float) -> Reliability:
    """TTI, PTI and BI from interval paces (1/speed) and the free-flow speed."""
    if not paces_h_per_km:
        raise ValueError("no travel-time samples")
    if free_flow_kmh <= 0:
        raise ValueError("free-flow speed must be positive")
    mean_pace = sum(paces_h_per_km) / len(paces_h_per_km)
    pace_95 = percentile(paces_h_per_km, 95.0)
    return Reliability(
        travel_time_index=mean_pace * free_flow_kmh,
        planning_time_index=pace_95 * free_flow_kmh,
        buffer_index=(pace_95 - mean_pace) / mean_pace,
        samples=len(paces_h_per_km),
    )


class ReliabilityWindow:
    """One segment's paces in one period over the last `days` days (bounded by `max_samples`),
    and which day's indices were last reported, so each day's are reported once, when its window
    closes."""

    __slots__ = ("_samples", "days", "last_reported_day", "period")

    def __init__(self, period: ReliabilityPeriod, days: int, max_samples: int) -> None:
        self.period = period
        self.days = days
        self._samples: deque[tuple[int, float]] = deque(maxlen=max_samples)
        self.last_reported_day = -1

    def add(self, local: datetime, speed_kmh: float) -> None:
        """Keep the interval's pace if it falls in the period."""
        if speed_kmh > 0 and self.period.contains(local):
            self._samples.append((local.toordinal(), 1.0 / speed_kmh))

    def report_due(self, local: datetime, min_samples: int) -> list[float] | None:
        """The paces of the last `days` days once today's window has closed and not been reported
        yet (None otherwise, or when fewer than `min_samples` are kept)."""
        today = local.toordinal()
        if today <= self.last_reported_day or not self.period.ended(local):
            return None
        oldest = today - self.days + 1
        while self._samples and self._samples[0][0] < oldest:
            self._samples.popleft()
        if not self._samples or self._samples[-1][0] != today:
            return None
        self.last_reported_day = today
        if len(self._samples) < min_samples:
            return None
        return [pace for _, pace in self._samples]
