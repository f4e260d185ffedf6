"""Citizens' reports of the demo city: a Poisson stream over the day (`scenario.report_rate`),
each at a spot along a real street, of a service the catalogue offers, with the attribute
values and a description a person might give — and the department's answer some hours later.
Deterministic: the reports of an hour depend only on the seed and that hour."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from madina.sim import geodata, scenario
from madina.sim.sensors import distance_m, hour_of_day

SERVICE_WEIGHTS = {"pothole": 0.35, "streetlight": 0.25, "litter": 0.40}
DESCRIPTIONS = {
    "pothole": ("Deep hole in the cycle lane", "The asphalt has broken up near the crossing",
                "Pothole next to the tram stop, cars swerve around it",
                "Kerbstone loose and a hole beside it"),
    "streetlight": ("The lamp outside number {n} is out", "Streetlight flickers all night",
                    "Lamp post leaning after the storm", "Two lights dark in a row"),
    "litter": ("Bin overflowing again", "Someone dumped a sofa on the pavement",
               "Broken glass and cans after the weekend", "Branches and rubbish blown "
               "around by the storm"),
}
ATTRIBUTES = {"pothole": ("size", ("small", "medium", "large")),
              "streetlight": ("problem", ("dark", "flickering", "damaged")),
              "litter": ("kind", ("bin", "dumped", "litter"))}
FIX_HOURS = (1.5, 10.0)
"""A department closes a report between these many hours after it came in."""
CLOSING_NOTES = {"pothole": "Filled with cold asphalt; a permanent repair is scheduled.",
                 "streetlight": "Lamp replaced and tested.",
                 "litter": "Cleaned up by the district crew."}


@dataclass(frozen=True)
class Report:
    at: datetime
    service_code: str
    lon: float
    lat: float
    description: str
    attribute: tuple[str, str]
    close_at: datetime

    def form(self) -> dict[str, str]:
        """The Open311 `POST requests` form fields (without the api_key)."""
        code, value = self.attribute
        return {"service_code": self.service_code, "lat": f"{self.lat:.6f}",
                "long": f"{self.lon:.6f}", "description": self.description,
                f"attribute[{code}]": value}


def reports_in_hour(seed: int, hour_start: datetime) -> list[Report]:
    """The reports made in the hour starting at `hour_start` (UTC, whole hour), in time order."""
    hour_of_day_value, _ = hour_of_day(hour_start)
    rng = random.Random(f"{seed}:reports:{int(hour_start.timestamp()) // 3600}")
    count = _poisson(rng, scenario.report_rate(hour_of_day_value + 0.5))
    reports = []
    for _ in range(count):
        at = hour_start + timedelta(seconds=rng.uniform(0, 3600))
        code = rng.choices(list(SERVICE_WEIGHTS), weights=list(SERVICE_WEIGHTS.values()))[0]
        lon, lat = _street_spot(rng)
        name, values = ATTRIBUTES[code]
        text = rng.choice(DESCRIPTIONS[code]).format(n=rng.randint(1, 60))
        close_at = at + timedelta(hours=rng.uniform(*FIX_HOURS))
        reports.append(Report(at, code, lon, lat, text, (name, rng.choice(values)), close_at))
    reports.sort(key=lambda r: r.at)
    return reports


def reports_between(seed: int, start: datetime, end: datetime) -> list[Report]:
    """Every report made in [start, end)."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    found = []
    while hour < end:
        found.extend(r for r in reports_in_hour(seed, hour) if start <= r.at < end)
        hour += timedelta(hours=1)
    return found


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the few events an hour here."""
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


@cache
def _streets() -> tuple[tuple[list[list[float]], float], ...]:
    found = []
    for feature in geodata.layer("streets")["features"]:
        coordinates = feature["geometry"]["coordinates"]
        length = sum(distance_m(*a, *b) for a, b in itertools.pairwise(coordinates))
        if feature["properties"].get("name") and length > 0:
            found.append((coordinates, length))
    return tuple(found)


def _street_spot(rng: random.Random) -> tuple[float, float]:
    """A point along a named street, streets weighted by length (a longer street has more
    potholes and lamps)."""
    streets = _streets()
    coordinates, length = rng.choices(streets, weights=[s[1] for s in streets])[0]
    target = rng.uniform(0, length)
    walked = 0.0
    for (lon0, lat0), (lon1, lat1) in itertools.pairwise(coordinates):
        step = distance_m(lon0, lat0, lon1, lat1)
        if step and walked + step >= target:
            share = (target - walked) / step
            return round(lon0 + share * (lon1 - lon0), 6), round(lat0 + share * (lat1 - lat0), 6)
        walked += step
    return coordinates[-1][0], coordinates[-1][1]
