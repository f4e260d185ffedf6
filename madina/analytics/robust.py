"""Robust location, spread and outlier scores for small samples kept by reactive services.

Median and MAD resist the very outliers a detector looks for, where a mean and standard deviation
would be dragged towards them. The modified z-score and its 3.5 cut-off are from B. Iglewicz and
D. C. Hoaglin, "How to Detect and Handle Outliers", ASQC Basic References in Quality Control vol. 16
(1993), section 3.3: M = 0.6745 (x - median) / MAD, where 0.6745 is the 0.75 quantile of the
standard normal, so that M reads like an ordinary z-score for normal data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MODIFIED_Z_CONSTANT = 0.6745
"""Φ⁻¹(0.75): scales the MAD to the standard deviation of a normal sample (Iglewicz-Hoaglin)."""


def median(values: Sequence[float]) -> float:
    """The middle value (mean of the two middle ones for an even count); ValueError when empty."""
    return percentile(values, 50.0)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks.

    This is Hyndman and Fan's definition 7 (R's and NumPy's default), so results match what an
    analyst reproduces in a spreadsheet or notebook."""
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} outside 0-100")
    ordered = sorted(values)
    return sorted_percentile(ordered, q)


def sorted_percentile(ordered: Sequence[float], q: float) -> float:
    """`percentile` of a sample the caller already keeps sorted (no copy, no sort)."""
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def median_absolute_deviation(values: Sequence[float], center: float | None = None) -> float:
    """MAD: the median of the absolute deviations from the median (unscaled)."""
    mid = median(values) if center is None else center
    return median([abs(v - mid) for v in values])


def modified_z_score(value: float, center: float, mad: float, mad_floor: float = 0.0) -> float:
    """Iglewicz-Hoaglin modified z-score of `value` against a sample's median and MAD.

    `mad_floor` keeps a flat history (MAD 0: a quiet night, a constant load) from turning every
    small wiggle into an infinite score; callers set it from the scale of their measure."""
    spread = max(mad, mad_floor)
    if spread <= 0.0:
        if value == center:
            return 0.0
        return math.copysign(math.inf, value - center)
    return MODIFIED_Z_CONSTANT * (value - center) / spread
