"""Simulated time: the replay runs `speed` times faster than the wall clock from a chosen start,
but never ahead of the present — measurements stamped in the future are refused by the city's
services, as they would be from a real sensor — so once it catches up it goes on in real time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

CITY_ZONE = ZoneInfo("Europe/Helsinki")
DEFAULT_START_HOUR = 5
"""The replay starts at 05:00 of the day before: the scripted events of the day come within its
first minutes at the default speed."""


def default_start(now: datetime | None = None) -> datetime:
    """05:00 Helsinki time yesterday, in UTC."""
    local = (now or datetime.now(UTC)).astimezone(CITY_ZONE)
    day = (local - timedelta(days=1)).date()
    start = datetime(day.year, day.month, day.day, DEFAULT_START_HOUR, tzinfo=CITY_ZONE)
    return start.astimezone(UTC)


class SimClock:
    def __init__(self, start: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._wall0 = time.monotonic()

    def begin(self) -> None:
        """Start counting from now: the simulated start is this moment, not the clock's making
        (setting a city up takes a while, and at high speed a while is hours)."""
        self._wall0 = time.monotonic()

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._wall0) * self.speed
        return min(self.start + timedelta(seconds=elapsed), datetime.now(UTC))
