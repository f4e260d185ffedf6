"""Named levels over a measured value, and the hysteresis that keeps a warning from flickering.

A level begins at its threshold (a reading equal to the threshold is in the level). Going up,
the reading must stay in a higher level for `raise_after` before the level rises (zero: at
once, as for water: a warning must not wait); going down, it must stay below the current
level's threshold minus `hysteresis` for `lower_after`. This is the usual operational rule for
gauge alarms (an alarm deadband plus an on/off delay, e.g. ISA-18.2 "deadband" and "on-delay /
off-delay"), and for heat the NWS practice of requiring the criteria to persist for a period
("Excessive Heat" products: a heat index above the threshold for at least N hours or days).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

NONE = -1
"""The level index of a reading below every threshold."""


@dataclass(frozen=True)
class Levels:
    """Level names and the thresholds where they begin, in rising order."""

    names: tuple[str, ...]
    thresholds: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.thresholds):
            raise ValueError("every level needs exactly one threshold")
        if len(set(self.names)) != len(self.names):
            raise ValueError("level names must differ")
        if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)):
            raise ValueError(f"level thresholds must rise strictly: {self.thresholds}")

    def index(self, value: float) -> int:
        """The highest level whose threshold `value` reaches; NONE below all."""
        return bisect_right(self.thresholds, value) - 1

    def name(self, index: int, below: str = "normal") -> str:
        return below if index == NONE else self.names[index]


@dataclass(frozen=True)
class Hysteresis:
    """How a level changes: deadband in the value's unit, delays in seconds."""

    deadband: float = 0.0
    raise_after: float = 0.0
    lower_after: float = 0.0
    max_gap: float | None = None
    """Readings further apart than this (seconds) restart a pending change's clock: a station
    silent for hours has not shown that the value stayed there."""


@dataclass(slots=True)
class LevelState:
    """One source's level and the change waiting to be confirmed (mutable, a few fields)."""

    level: int = NONE
    pending: int = NONE
    pending_since: float | None = None
    last_time: float | None = None


def track(state: LevelState, value: float, at: float, levels: Levels,
          rule: Hysteresis) -> bool:
    """Feed one reading taken at `at` (epoch seconds); True when the level changed.

    Readings not newer than the last one are ignored (duplicates, late arrivals): the state
    only moves forward in time. A pending rise keeps the lowest level seen while it waited (what
    was sustained), a pending fall the highest."""
    if state.last_time is not None:
        if at <= state.last_time:
            return False
        if rule.max_gap is not None and at - state.last_time > rule.max_gap:
            state.pending_since = None
    state.last_time = at
    current = state.level
    reached = levels.index(value)
    if reached > current:
        target, delay, rising = reached, rule.raise_after, True
    else:
        held = levels.index(value + rule.deadband)
        if held >= current:
            state.pending_since = None
            return False
        target, delay, rising = held, rule.lower_after, False
    if state.pending_since is None or (state.pending > current) != rising:
        state.pending, state.pending_since = target, at
    else:
        state.pending = min(state.pending, target) if rising else max(state.pending, target)
    if at - state.pending_since >= delay:
        state.level = state.pending
        state.pending_since = None
        return True
    return False
