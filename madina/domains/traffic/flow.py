"""Loop-detector traffic-flow relations: flow rate, density and single-loop speed.

A detector reports, per observation period, a vehicle count, the occupancy (fraction of the period
a vehicle stood over the loop) and often a mean speed. Density follows two ways:

- from occupancy, k = o / g, with g the effective vehicle length (vehicle length plus detection-zone
  length): each vehicle "occupies" the loop while it travels g metres (A. D. May, *Traffic Flow
  Fundamentals*, Prentice Hall 1990, ch. 4, occupancy-density relation);
- from the fundamental relation q = k·v, k = q / v, when the speed is measured.

Where speed is not measured, the same relation read backwards estimates it, v = q·g / o (the
"g-factor" single-loop estimate: J. H. Athol, "Interdependence of certain operational
characteristics within a moving traffic stream", HRR 72, 1965; Jia, Chen, Coifman and Varaiya,
"The PeMS algorithms for accurate, real-time estimates of g-factors and speeds from single-loop
detectors", IEEE ITSC 2001).

Units: flow in vehicles per hour, speed in km/h, density in vehicles per km per lane; the HCM
works in passenger cars per mile per lane, hence `per_mile`.
"""

from __future__ import annotations

KM_PER_MILE = 1.609344
"""International mile (exact)."""


def flow_rate(count: float, period_s: float) -> float:
    """Vehicles per hour from a count over an observation period of `period_s` seconds."""
    if period_s <= 0:
        raise ValueError("observation period must be positive")
    return count * 3600.0 / period_s


def density_from_occupancy(occupancy: float, effective_length_m: float) -> float:
    """Vehicles per km per lane from occupancy (0-1) and effective vehicle length (m): k = o / g."""
    if effective_length_m <= 0:
        raise ValueError("effective vehicle length must be positive")
    return 1000.0 * occupancy / effective_length_m


def density_from_flow(flow_vph: float, speed_kmh: float) -> float:
    """Vehicles per km per lane from flow (veh/h per lane) and mean speed (km/h): k = q / v."""
    if speed_kmh <= 0:
        raise ValueError("speed must be positive")
    return flow_vph / speed_kmh


def speed_from_occupancy(flow_vph: float, occupancy: float, effective_length_m: float) -> float:
    """Single-loop speed estimate in km/h: v = q·g / o (g in m, o as a fraction)."""
    if occupancy <= 0:
        raise ValueError("occupancy must be positive")
    return flow_vph * effective_length_m / (1000.0 * occupancy)


def per_mile(density_per_km: float) -> float:
    """Vehicles per km to vehicles per mile (the HCM's unit)."""
    return density_per_km * KM_PER_MILE
