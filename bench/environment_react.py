"""Micro-benchmark of the environment domain's reactive services: `python -m
bench.environment_react`.

Domain services must keep pace with ingestion (≥ 10,000 updates/s across all domains, issue 6),
so this measures what one `react` call costs, without the broker, the event dispatch or the other
engineers' load on the shared machine blurring it: the best of several runs over the same updates,
timed in process CPU time (what a worker spends per call, not how long others kept the core).

- AirQualityObserved: `--stations` stations each sending all six pollutants every hour for two
  days (the first day fills the 24-hour windows, so both the partial and the full cases count).
- The same, one pollutant per update, as devices sending a message per measure do.
- NoiseLevelObserved: the same stations sending an hourly LAeq; an assessment day completes every
  24 updates per station, which is when L_den is written.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.react import calls_per_second
from madina.domains.environment.air_quality_service import AirQualityService
from madina.domains.environment.noise_service import NoiseService

START = datetime(2026, 6, 1, tzinfo=UTC)


def air_quality_updates(stations: int, hours: int) -> list[tuple[dict[str, Any], datetime]]:
    """Hourly AirQualityObserved updates, every pollutant in the unit SDM examples use."""
    rng = random.Random(6)
    updates = []
    for hour in range(hours):
        moment = START + timedelta(hours=hour)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        for station in range(stations):
            def measure(low: float, high: float, unit: str, stamp: str = stamp) -> dict[str, Any]:
                return {"type": "Property", "value": round(rng.uniform(low, high), 1),
                        "observedAt": stamp, "unitCode": unit}
            updates.append(({
                "id": f"urn:ngsi-ld:AirQualityObserved:bench-{station}",
                "type": "AirQualityObserved",
                "pm25": measure(2, 90, "GQ"), "pm10": measure(5, 160, "GQ"),
                "no2": measure(5, 150, "GQ"), "o3": measure(20, 200, "GQ"),
                "so2": measure(1, 60, "GQ"), "co": measure(0.1, 4, "GP"),
                "location": {"type": "GeoProperty",
                             "value": {"type": "Point", "coordinates": [24.94, 60.17]}},
            }, moment))
    return updates


def one_pollutant_per_update(
    updates: list[tuple[dict[str, Any], datetime]],
) -> list[tuple[dict[str, Any], datetime]]:
    """The same measures as devices that send each pollutant in its own message."""
    return [({"id": entity["id"], "type": entity["type"], name: entity[name]}, now)
            for entity, now in updates for name in ("pm25", "pm10", "no2", "o3", "so2", "co")]


def noise_updates(stations: int, hours: int) -> list[tuple[dict[str, Any], datetime]]:
    """Hourly NoiseLevelObserved updates with the SDM observation interval."""
    rng = random.Random(7)
    updates = []
    for hour in range(hours):
        start = START + timedelta(hours=hour)
        end = start + timedelta(hours=1)
        for station in range(stations):
            updates.append(({
                "id": f"urn:ngsi-ld:NoiseLevelObserved:bench-{station}",
                "type": "NoiseLevelObserved",
                "LAeq": {"type": "Property", "value": round(rng.uniform(40, 75), 1)},
                "dateObservedFrom": {"type": "Property", "value": start.isoformat()},
                "dateObservedTo": {"type": "Property", "value": end.isoformat()},
            }, end))
    return updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--hours", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    air_quality = air_quality_updates(args.stations, args.hours)
    for name, make_service, updates in (
        ("AirQualityObserved", AirQualityService, air_quality),
        ("AirQualityObserved, one pollutant per update", AirQualityService,
         one_pollutant_per_update(air_quality)),
        ("NoiseLevelObserved", NoiseService, noise_updates(args.stations, args.hours)),
    ):
        rate, writes, _ = calls_per_second(make_service, updates, args.repeats)
        print(f"{name}: {len(updates)} updates, {writes} writes, best {rate:,.0f} react calls/s "
              f"({1e6 / rate:.1f} µs per call)")


if __name__ == "__main__":
    main()
