"""Free-flow speed learned per segment from its own quiet intervals.

The HCM defines free-flow speed as the mean speed of passenger cars under low to moderate flow
(HCM 7th Ed., Ch. 12: flows up to 1,000 pc/h/ln); map-data providers learn it as a high percentile
of speeds observed outside rush hours. Here: the `percentile` (85th by default, the traffic
engineer's usual "speed most drivers choose") of speeds seen in intervals whose occupancy is at or
below `max_occupancy`, over the last `capacity` such intervals.

Until enough quiet intervals are seen the learned value would be noise, so it is shrunk towards a
configured prior (a segment's posted speed, say) as if the prior were `prior_weight` observations:
v = (n·p + w·prior) / (n + w). With no data it is the prior; with many it is the percentile.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

from madina.analytics.robust import sorted_percentile


class FreeFlowSpeed:
    """Bounded learner: a FIFO of the latest quiet speeds plus the same values kept sorted."""

    __slots__ = ("_order", "_sorted", "capacity", "max_occupancy", "percentile", "prior",
                 "prior_weight")

    def __init__(
        self,
        prior_kmh: float,
        prior_weight: float = 20.0,
        percentile: float = 85.0,
        max_occupancy: float = 0.10,
        capacity: int = 500,
    ) -> None:
        if prior_kmh <= 0 or prior_weight < 0 or capacity < 1:
            raise ValueError("need prior_kmh > 0, prior_weight >= 0, capacity >= 1")
        self.prior = prior_kmh
        self.prior_weight = prior_weight
        self.percentile = percentile
        self.max_occupancy = max_occupancy
        self.capacity = capacity
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def observe(self, speed_kmh: float | None, occupancy: float | None) -> None:
        """Learn from one interval if it is quiet (low occupancy) and has a positive speed."""
        if speed_kmh is None or speed_kmh <= 0 or occupancy is None:
            return
        if occupancy > self.max_occupancy:
            return
        if len(self._order) == self.capacity:
            oldest = self._order.popleft()
            del self._sorted[bisect_left(self._sorted, oldest)]
        self._order.append(speed_kmh)
        insort(self._sorted, speed_kmh)

    @property
    def samples(self) -> int:
        return len(self._sorted)

    @property
    def speed(self) -> float:
        """The current estimate in km/h."""
        n = len(self._sorted)
        if n == 0:
            return self.prior
        learned = sorted_percentile(self._sorted, self.percentile)
        return (n * learned + self.prior_weight * self.prior) / (n + self.prior_weight)
