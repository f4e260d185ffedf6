"""The scripted day of the demo city: what the weather, the sea and the air do hour by hour.

Every function takes the local time of day in hours (Helsinki time, 0–24) and returns a
physical quantity; randomness comes from `wobble`, smooth noise that depends only on the seed,
a name and the time, so a replay is the same whatever order or pace it asks in. The day is a
script, not a forecast: it packs the events a control room should see into one day, in order —

- 05:00–11:00 a storm surge from a passing low: the sea rises past the gauges' alert level
  (0.8 m) around 06:00 and briefly past the danger level (1.2 m) after 07:00;
- 06:30–10:30 a pollution episode: calm air and a morning inversion after the front trap the
  rush hour's exhaust and a regional haze (US AQI above 100 at the busiest streets);
- 08:15–09:05 the lane closure on Mannerheimintie, recorded in SUMO (`traffic_record`);
- 11:00–19:00 a heat spell: 35 °C in the afternoon, hotter than Helsinki has recorded, so that
  the heat warning (NWS heat index "danger", held 2 hours) shows.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

SURGE_PEAK_M = 1.1
SURGE_PEAK_HOUR = 7.5
SURGE_WIDTH_H = 2.2
MEAN_SEA_LEVEL_M = 0.15
"""The day's level before the surge, above the gauges' datum (N2000)."""
ALERT_LEVEL_M = 0.8
DANGER_LEVEL_M = 1.2


def bump(hour: float, start: float, full: float, fade: float, end: float) -> float:
    """0 before `start`, rising smoothly to 1 at `full`, 1 until `fade`, back to 0 at `end`."""
    if hour <= start or hour >= end:
        return 0.0
    if hour < full:
        return _smooth((hour - start) / (full - start))
    if hour <= fade:
        return 1.0
    return _smooth((end - hour) / (end - fade))


def _smooth(x: float) -> float:
    return x * x * (3 - 2 * x)


@lru_cache(maxsize=65_536)
def _knot(seed: int, name: str, index: int) -> float:
    return random.Random(f"{seed}:{name}:{index}").gauss(0.0, 1.0)


def wobble(seed: int, name: str, hour: float, period_h: float = 1.0) -> float:
    """Smooth noise (standard normal at the knots, every `period_h` hours), the same for the
    same seed, name and time; `hour` may run past 24 (days follow each other)."""
    position = hour / period_h
    index = math.floor(position)
    share = _smooth(position - index)
    return (1 - share) * _knot(seed, name, index) + share * _knot(seed, name, index + 1)


def sea_level(hour: float, seed: int, gauge: str, exposure: float = 1.0) -> float:
    """Water level at a gauge (m above N2000): the surge, shaped by how exposed the gauge is,
    a seiche of a few centimetres and wind chop."""
    surge = SURGE_PEAK_M * math.exp(-(((hour % 24) - SURGE_PEAK_HOUR) / SURGE_WIDTH_H) ** 2)
    seiche = 0.04 * math.sin(2 * math.pi * hour / 5.7)
    chop = 0.015 * wobble(seed, f"chop:{gauge}", hour, 0.25)
    return MEAN_SEA_LEVEL_M + exposure * surge + seiche + chop


def heat(hour: float) -> float:
    """0–1: how far into the heat spell the afternoon is."""
    return bump(hour % 24, 11.0, 13.0, 17.0, 19.0)


def temperature(hour: float, seed: int) -> float:
    """Air temperature (°C): a summer day's cycle, plus the heat spell."""
    h = hour % 24
    cycle = 17.0 + 5.0 * math.cos(2 * math.pi * (h - 15) / 24)
    return cycle + 13.0 * heat(hour) + 0.6 * wobble(seed, "temperature", hour, 2.0)


def relative_humidity(hour: float, seed: int) -> float:
    """0–1: humid in the stormy morning, dry in the heat."""
    h = hour % 24
    base = 0.72 + 0.12 * math.cos(2 * math.pi * (h - 4) / 24) + 0.1 * storm(hour)
    value = base - 0.05 * heat(hour) + 0.03 * wobble(seed, "humidity", hour, 2.0)
    return min(0.99, max(0.2, value))


def storm(hour: float) -> float:
    """0–1: the passing low's strength (wind and rain), strongest at 05:30."""
    return bump(hour % 24, 2.0, 4.5, 6.0, 9.0)


def wind_speed(hour: float, seed: int) -> float:
    """m/s: a gale with the low, a calm morning after it, a sea breeze later."""
    h = hour % 24
    breeze = 3.5 * bump(h, 11.0, 14.0, 18.0, 21.0)
    calm = 2.0 - 1.2 * inversion(hour)
    value = calm + 14.0 * storm(hour) + breeze + 0.5 * wobble(seed, "wind", hour, 0.5)
    return max(0.2, value)


def wind_direction(hour: float, seed: int) -> float:
    """Degrees the wind comes from: south-west with the low, veering west, a southerly breeze."""
    h = hour % 24
    direction = 225.0 + 45.0 * bump(h, 6.0, 9.0, 11.0, 13.0) - 45.0 * heat(hour)
    return (direction + 15.0 * wobble(seed, "wind-direction", hour, 1.0)) % 360


def pressure(hour: float, seed: int) -> float:
    """hPa: the low passes at dawn, the high builds behind it."""
    h = hour % 24
    return 1012.0 - 26.0 * math.exp(-((h - 5.0) / 3.0) ** 2) + 0.3 * wobble(seed, "pressure",
                                                                               hour, 3.0)


def precipitation(hour: float, seed: int) -> float:
    """mm/h of rain: with the low only."""
    return max(0.0, 6.0 * storm(hour) * (1 + 0.4 * wobble(seed, "rain", hour, 0.5)))


def inversion(hour: float) -> float:
    """0–1: the morning inversion that traps exhaust after the low has passed."""
    return bump(hour % 24, 6.5, 7.5, 9.5, 10.5)


def dispersion(hour: float, seed: int) -> float:
    """How much a street's emissions concentrate at the kerb (1 on an ordinary afternoon): more
    in still air and under an inversion, less in a gale."""
    still = max(1.0, wind_speed(hour, seed))
    return 2.5 / (still + 0.5) * (1.0 + inversion(hour))


def haze(hour: float) -> float:
    """µg/m³ of regional fine particles that arrive with the calm morning air."""
    return 22.0 * bump(hour % 24, 6.0, 7.5, 9.5, 11.0)


def air_quality(hour: float, seed: int, station: str, flow_veh_h: float) -> dict[str, float]:
    """Concentrations (µg/m³) at a kerbside station whose nearby streets carry `flow_veh_h`:
    an urban background plus the street's share, which grows with traffic and poor dispersion
    (the street-canyon view of e.g. the OSPM model, reduced to a proportionality), NO2 titrating
    ozone, and ozone made in the heat."""
    mix = dispersion(hour, seed)
    street = flow_veh_h * mix
    noise = 1.0 + 0.08 * wobble(seed, f"aq:{station}", hour, 0.5)
    no2 = (10.0 + 0.045 * street) * noise
    pm25 = (4.0 + 0.006 * street + haze(hour) * (1.0 + 0.5 * inversion(hour))) * noise
    pm10 = (pm25 * 1.5 + 0.015 * street) * noise
    o3 = max(2.0, 62.0 - 0.25 * no2 + 55.0 * heat(hour)
             + 4.0 * wobble(seed, f"o3:{station}", hour, 2.0))
    return {"no2": round(no2, 1), "pm25": round(pm25, 1), "pm10": round(pm10, 1),
            "o3": round(o3, 1)}


def road_noise(hour: float, seed: int, sensor: str, flow_veh_h: float,
               speed_kmh: float | None) -> float:
    """LAeq (dB) at a kerbside microphone: a city background and road traffic by the CoRTN
    relations (10·log10 of the flow, +33·log10 of speed above 40 km/h's reference)."""
    speed = max(20.0, speed_kmh or 30.0)
    road = 42.0 + 10.0 * math.log10(max(flow_veh_h, 1.0)) + 33.0 * math.log10(speed / 40.0)
    background = 44.0 + 3.0 * bump(hour % 24, 6.0, 8.0, 20.0, 23.0)
    level = 10.0 * math.log10(10 ** (road / 10) + 10 ** (background / 10))
    return round(level + 0.8 * wobble(seed, f"noise:{sensor}", hour, 0.25), 1)


def building_load(hour: float, weekday: int, seed: int, building: str,
                  floor_area_m2: float) -> float:
    """kW drawn by a public building: a base load, the occupied hours of a weekday (offices,
    classrooms, reading rooms), and cooling in the heat."""
    h = hour % 24
    occupied = bump(h, 6.5, 8.0, 16.5, 18.5) if weekday < 5 else 0.3 * bump(h, 9, 11, 15, 17)
    cooling = 0.0015 * max(0.0, temperature(hour, seed) - 24.0)
    per_m2 = 0.006 + 0.018 * occupied + cooling
    return floor_area_m2 * per_m2 * (1.0 + 0.05 * wobble(seed, f"load:{building}", hour, 0.5))


def report_rate(hour: float) -> float:
    """Citizens' reports per hour over the demo area: few at night, most by day, a wave after
    the storm."""
    h = hour % 24
    return 0.6 + 4.0 * bump(h, 6.0, 9.0, 19.0, 22.0) + 3.0 * bump(h, 7.0, 8.0, 10.0, 12.0)
