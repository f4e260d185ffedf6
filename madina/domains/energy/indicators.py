"""Building energy indicators: energy use intensity, peak demand and load factor.

- EUI = annual energy / floor area, kWh/m²/yr (Madina's standards sheet §6; ENERGY STAR Portfolio
  Manager's "site EUI" is the same ratio with gross floor area). Site energy here, as metered. A
  building with less than a year of data gets its energy annualised (× 365 / days covered).
- Peak demand = the highest average power over a demand interval (utilities bill on 15- or
  30-minute intervals), kW.
- Load factor = average demand / peak demand over the same period (0-1): how evenly a building
  draws power; 1 is a flat load.
"""

from __future__ import annotations

DAYS_PER_YEAR = 365.0


def energy_use_intensity(annual_kwh: float, floor_area_m2: float) -> float:
    """kWh per m² per year."""
    if floor_area_m2 <= 0:
        raise ValueError("floor area must be positive")
    return annual_kwh / floor_area_m2


def annualised(kwh: float, days_covered: float) -> float:
    """Energy of `days_covered` days scaled to a year."""
    if days_covered <= 0:
        raise ValueError("days covered must be positive")
    return kwh * DAYS_PER_YEAR / days_covered


def demand_kw(kwh: float, interval_hours: float) -> float:
    """Average power over an interval from the energy used in it."""
    if interval_hours <= 0:
        raise ValueError("interval must be positive")
    return kwh / interval_hours


def load_factor(energy_kwh: float, hours: float, peak_kw: float) -> float | None:
    """Average demand over `hours` divided by the peak; None when there is no peak yet."""
    if hours <= 0 or peak_kw <= 0:
        return None
    return energy_kwh / hours / peak_kw
