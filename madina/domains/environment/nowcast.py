"""EPA's NowCast: a real-time stand-in for the 24-hour PM (or 8-hour O3) average.

PM (EPA-454/B-24-002, "How the NowCast is calculated"; EPA fact sheet *PM NowCast*, 2017):
over the last 12 hourly concentrations, w = 1 − (c_max − c_min) / c_max, floored at 0.5; the
NowCast is Σ w^i·c_i / Σ w^i, i being how many hours ago c_i was measured (0 for the current
hour), summing over the hours present. It is only valid when at least 2 of the 3 most recent hours
are present (AirNow-Tech, *The NowCast for PM2.5 and PM10*). It works on the raw hourly values;
the result is truncated like any AQI concentration afterwards.

O3 (AirNow, *Updates to Ozone Real-time Reporting*, 21 April 2016): the same weighted mean over
the last 8 hours with no floor on w and the same 2-of-3 rule. Since August 2019 AirNow prefers a
partial-least-squares prediction trained on each site's last two weeks and falls back to this
weighted mean when that model cannot run; Madina implements the weighted mean, which needs no
per-site training.

Negative hourly values (instrument noise around zero) count as 0, which keeps w within [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import mul

PM_HOURS = 12
PM_MINIMUM_WEIGHT = 0.5
O3_HOURS = 8
O3_MINIMUM_WEIGHT = 0.0


def weight_factor(present: Sequence[float], minimum: float) -> float:
    """w = 1 − range / max over the hours present, floored at `minimum`; 1 when all are zero."""
    highest = max(present)
    if highest <= 0.0:
        return 1.0
    return max(1.0 - (highest - max(min(present), 0.0)) / highest, minimum)


def nowcast(
    hourly: Sequence[float | None],
    hours: int = PM_HOURS,
    minimum_weight: float = PM_MINIMUM_WEIGHT,
    recent_required: int = 2,
) -> float | None:
    """The NowCast of hourly concentrations given most recent first (`hourly[0]` is the current
    hour, None where an hour is missing), or None when fewer than `recent_required` of the
    three most recent hours are present."""
    window = list(hourly[:hours])
    recent = window[:3]
    if len(recent) - recent.count(None) < recent_required:
        return None
    complete = None not in window
    present = window if complete else [value for value in window if value is not None]
    if min(present) < 0.0:
        window = [None if value is None else max(value, 0.0) for value in window]
        present = [max(value, 0.0) for value in present]
    w = weight_factor(present, minimum_weight)
    # w^i for i hours ago, built and summed in C: this runs for every PM update.
    powers = list(accumulate(repeat(w, len(window) - 1), mul, initial=1.0))
    if complete:
        numerator, denominator = sum(map(mul, window, powers)), sum(powers)
    else:
        kept = [(value, power) for value, power in zip(window, powers, strict=True)
                if value is not None]
        numerator = sum(value * power for value, power in kept)
        denominator = sum(power for _, power in kept)
    # w = 0 (an O3 hour at zero) leaves only the current hour weighted: without it, no answer.
    return numerator / denominator if denominator > 0.0 else None


def pm_nowcast(hourly: Sequence[float | None], recent_required: int = 2) -> float | None:
    """The PM2.5/PM10 NowCast (12 hours, weight floor 0.5)."""
    return nowcast(hourly, PM_HOURS, PM_MINIMUM_WEIGHT, recent_required)


def ozone_nowcast(hourly: Sequence[float | None], recent_required: int = 2) -> float | None:
    """The O3 NowCast (8 hours, no weight floor)."""
    return nowcast(hourly, O3_HOURS, O3_MINIMUM_WEIGHT, recent_required)
