"""Running averages of one pollutant at one station, kept incrementally from `observedAt`.

Observations land in clock-hour buckets (sum and count, so sub-hourly sensors average into their
hour); windows are means of the hourly means, as EPA and the EU average hourly values. The series
keeps the last `capacity` hours in a ring: an observation out of order lands in its own hour as
long as that hour is still kept; an older one is refused; a gap is simply hours without a value.
An instant already counted is refused too, so redelivered events and unchanged attributes of a
re-sent entity do not count twice.

Completeness rules (how many hours a window needs before its mean is valid):
- 8-hour means: 6 of 8 hours (75 %), with the hours present as divisor (40 CFR Part 50,
  Appendix I §2.1.1 and Appendix P; Directive 2008/50/EC, Annex VII).
- 24-hour means: 18 of 24 hours (75 %) (AirNow-Tech, *Daily and Hourly AQI*; the EEA's rule
  for the index's PM running mean).
- NowCast: 2 of the 3 most recent hours (see nowcast.py).
"""

from __future__ import annotations

from typing import NamedTuple

HOUR = 3600


class HourlySeries:
    """Hourly means of the last `capacity` hours of one pollutant at one station."""

    __slots__ = (
        "_counts", "_hours", "_means", "_seen", "_sums", "capacity", "latest_hour", "version",
    )

    def __init__(self, capacity: int = 24) -> None:
        self.capacity = capacity
        self.latest_hour = -1
        self.version = 0  # counts accepted observations: a window computed at a version holds
        self._hours = [-1] * capacity
        self._sums = [0.0] * capacity
        self._counts = [0] * capacity
        self._means: list[float | None] = [None] * capacity
        # The instants already counted in each hour: one int (the usual case, hourly data) or a
        # set once a second instant lands in the same hour.
        self._seen: list[int | set[int] | None] = [None] * capacity

    def add(self, second: int, value: float) -> bool:
        """Count `value` observed at `second` (Unix time); False when refused (too old for the
        ring, or an instant already counted)."""
        hour = second // HOUR
        if hour <= self.latest_hour - self.capacity:
            return False
        slot = hour % self.capacity
        if self._hours[slot] != hour:
            self._hours[slot] = hour
            self._sums[slot] = value
            self._counts[slot] = 1
            self._seen[slot] = second
        else:
            seen = self._seen[slot]
            if isinstance(seen, int):
                if seen == second:
                    return False
                self._seen[slot] = {seen, second}
            elif seen is not None:
                if second in seen:
                    return False
                seen.add(second)
            self._sums[slot] += value
            self._counts[slot] += 1
        self._means[slot] = self._sums[slot] / self._counts[slot]
        if hour > self.latest_hour:
            self.latest_hour = hour
        self.version += 1
        return True

    def recent(self, end_hour: int, hours: int) -> list[float | None]:
        """Hourly means of the `hours` hours ending at `end_hour`, most recent first, None where
        an hour has no value (`hours` is at most the capacity)."""
        # Slots in most-recent-first order, compared with the hours they should hold; a series
        # reporting every hour matches throughout, and the check stays in C.
        start = end_hour % self.capacity
        tags = self._hours[start::-1] + self._hours[:start:-1]
        means = self._means[start::-1] + self._means[:start:-1]
        expected = list(range(end_hour, end_hour - self.capacity, -1))
        if tags != expected:
            means = [mean if tag == hour else None
                     for mean, tag, hour in zip(means, tags, expected, strict=True)]
        return means[:hours]


class WindowMean(NamedTuple):
    """A window's mean (None when too few hours) and how many of its hours are present."""

    value: float | None
    present: int


def window_mean(recent_hours: list[float | None], length: int, minimum: int) -> WindowMean:
    """The mean of the first `length` hourly means (most recent first), valid with at least
    `minimum` of them present; the hours present are the divisor."""
    window = recent_hours[:length]
    missing = window.count(None)
    if missing:
        window = [value for value in window if value is not None]
    present = length - missing
    return WindowMean(sum(window) / present if present >= minimum and present else None, present)
