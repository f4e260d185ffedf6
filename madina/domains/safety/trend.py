"""Rate of rise from recent readings, and when a rising value will reach a level.

The rate is the Theil–Sen estimator: the median of the slopes between every pair of readings
(H. Theil, "A rank-invariant method of linear and polynomial regression analysis", 1950;
P. K. Sen, "Estimates of the regression coefficient based on Kendall's tau", JASA 63, 1968).
It ignores up to ~29 % of wild readings (breakdown point 1 − 1/√2), where a least-squares line
follows a single spike from a float snagging on debris. Hydrologists use it as the robust line
for exactly that reason (G. E. Granato, "Kendall-Theil Robust Line", USGS Techniques and
Methods 4-A7, 2006). With n readings it costs n(n−1)/2 slopes, so callers bound n.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import median


def theil_sen_slope(points: Iterable[tuple[float, float]]) -> float | None:
    """Median pairwise slope of (time, value) points, value units per time unit; None with
    fewer than two distinct times, or when absurd values overflow it."""
    points = tuple(points)
    slopes = [
        (v2 - v1) / (t2 - t1)
        for i, (t1, v1) in enumerate(points)
        for t2, v2 in points[i + 1:]
        if t2 != t1
    ]
    slope = median(slopes) if slopes else None
    return slope if slope is not None and math.isfinite(slope) else None


def time_to_reach(value: float, rate: float | None, target: float) -> float | None:
    """Time until `value`, changing at `rate` per unit time, reaches `target` above it; None
    when it is not rising, or too slowly to say (already there: 0)."""
    if value >= target:
        return 0.0
    if rate is None or rate <= 0:
        return None
    eta = (target - value) / rate
    return eta if math.isfinite(eta) else None
