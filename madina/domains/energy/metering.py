"""From cumulative meter registers to energy per time bucket.

Meters report a register that only grows (Smart Data Models ACMeasurement's
`totalActiveEnergyImport`, SmartMeteringObservation's `totalConsumption`: energy "since the
metering start date"). Consumption between two readings is the difference; a register that went
backwards was reset or the meter replaced, and nothing can be said about that gap. The difference
is spread evenly over the time between the readings and split at bucket boundaries, so a meter
read every 10 minutes and one read hourly both fill 15-minute demand intervals and hourly totals.
"""

from __future__ import annotations

from collections.abc import Iterator


def consumption(previous: float, current: float) -> float | None:
    """Energy (or volume) used between two register readings; None when the register went back."""
    if current < previous:
        return None
    return current - previous


def apportion(
    amount: float, start_s: float, end_s: float, bucket_s: float
) -> Iterator[tuple[float, float]]:
    """(bucket start, share) pairs splitting `amount` evenly over [start_s, end_s) (epoch
    seconds) into buckets of `bucket_s` aligned on multiples of it."""
    if end_s <= start_s:
        raise ValueError("end must be after start")
    rate = amount / (end_s - start_s)
    moment = start_s
    while moment < end_s:
        bucket = moment - moment % bucket_s
        boundary = min(bucket + bucket_s, end_s)
        yield bucket, rate * (boundary - moment)
        moment = boundary
