"""Congestion state of a road segment, with hysteresis and a minimum duration.

A segment is congested when its speed falls well below free flow or its occupancy passes the
critical value: v / v_free < 0.6, or occupancy above ≈ 15–20 % (Madina's standards sheet, §5;
the critical occupancy is where loop flow-occupancy plots peak, F. L. Hall, "Traffic Stream
Characteristics", ch. 2 of *Traffic Flow Theory*, TRB monograph, revised 1997).

A single noisy interval must not flip the state, and a segment hovering at the threshold must not
flicker: the state changes only after `enter_intervals` consecutive intervals past the entry
thresholds (or `exit_intervals` past the exit thresholds), and the exit thresholds sit on the free
side of the entry ones (hysteresis band). An interval inside the band keeps the state and restarts
both counts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CongestionRule:
    """Entry and exit thresholds; `exit_*` must lie on the free side of `enter_*`."""

    enter_speed_ratio: float = 0.6
    exit_speed_ratio: float = 0.7
    enter_occupancy: float = 0.20
    exit_occupancy: float = 0.15
    enter_intervals: int = 2
    exit_intervals: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.enter_speed_ratio <= self.exit_speed_ratio:
            raise ValueError("need 0 < enter_speed_ratio <= exit_speed_ratio")
        if not 0 < self.exit_occupancy <= self.enter_occupancy <= 1:
            raise ValueError("need 0 < exit_occupancy <= enter_occupancy <= 1")
        if self.enter_intervals < 1 or self.exit_intervals < 1:
            raise ValueError("interval counts must be at least 1")


class CongestionState:
    """One segment's state; `update` takes one interval and answers whether it is congested."""

    __slots__ = ("_enter_run", "_exit_run", "congested", "rule")

    def __init__(self, rule: CongestionRule) -> None:
        self.rule = rule
        self.congested = False
        self._enter_run = 0
        self._exit_run = 0

    def update(self, speed_ratio: float | None, occupancy: float | None) -> bool:
        """Feed one interval (speed / free-flow speed, occupancy 0-1; None when not measured)."""
        rule = self.rule
        if speed_ratio is None and occupancy is None:
            return self.congested
        entering = (speed_ratio is not None and speed_ratio < rule.enter_speed_ratio) or (
            occupancy is not None and occupancy > rule.enter_occupancy
        )
        leaving = (speed_ratio is None or speed_ratio > rule.exit_speed_ratio) and (
            occupancy is None or occupancy < rule.exit_occupancy
        )
        if entering:
            self._enter_run += 1
            self._exit_run = 0
        elif leaving:
            self._exit_run += 1
            self._enter_run = 0
        else:
            self._enter_run = self._exit_run = 0
        if not self.congested and self._enter_run >= rule.enter_intervals:
            self.congested = True
        elif self.congested and self._exit_run >= rule.exit_intervals:
            self.congested = False
        return self.congested
