"""Micro-benchmark of the safety domain's reactive services: `python -m bench.safety_react`.

What one `react` call costs, without the broker or the event dispatch: the best of several runs
over the same updates, in process CPU time.

- WaterObserved: `--gauges` gauges reporting every 5 minutes for `--hours`, each river rising
  through every level and falling back (so the Theil–Sen window is full, and warnings are
  raised, updated and cancelled along the way; their CAP messages are built and checked
  against the XML Schema inside `react`).
- WeatherObserved: `--gauges` stations reporting every 10 minutes through a hot day and night.
"""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime, timedelta

from bench.react import Updates, calls_per_second
from madina.domains.safety.config import SafetySettings
from madina.domains.safety.flood_service import FloodService
from madina.domains.safety.heat_service import HeatService

START = datetime(2026, 7, 1, tzinfo=UTC)


def gauge_id(n: int) -> str:
    return f"urn:ngsi-ld:WaterObserved:bench-{n}"


def gauge_updates(gauges: int, hours: int) -> Updates:
    updates = []
    for step in range(hours * 12):
        moment = START + timedelta(minutes=5 * step)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        for n in range(gauges):
            # a 12-hour flood wave peaking at 3 m, each gauge a little out of phase
            height = 1.5 - 1.5 * math.cos(2 * math.pi * (step + 7 * n) / 144)
            updates.append(({
                "id": gauge_id(n), "type": "WaterObserved",
                "height": {"type": "Property", "value": round(height, 3), "observedAt": stamp},
                "location": {"type": "GeoProperty",
                             "value": {"type": "Point", "coordinates": [24.96, 60.22]}},
            }, moment))
    return updates


def weather_updates(stations: int, hours: int) -> Updates:
    updates = []
    for step in range(hours * 6):
        moment = START + timedelta(minutes=10 * step)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        for n in range(stations):
            air = 30.0 + 8.0 * math.sin(2 * math.pi * (step + n) / 144)
            updates.append(({
                "id": f"urn:ngsi-ld:WeatherObserved:bench-{n}", "type": "WeatherObserved",
                "temperature": {"type": "Property", "value": round(air, 1), "observedAt": stamp},
                "relativeHumidity": {"type": "Property", "value": 0.55, "observedAt": stamp},
            }, moment))
    return updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gauges", type=int, default=100)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    levels = {"advisory": 1.0, "watch": 1.5, "warning": 2.0, "danger": 2.5}
    settings = SafetySettings.from_dict(
        {"flood": {"gauges": {gauge_id(n): levels for n in range(args.gauges)}}})
    for name, make_service, updates in (
        ("WaterObserved", lambda: FloodService(settings), gauge_updates(args.gauges, args.hours)),
        ("WeatherObserved", lambda: HeatService(settings),
         weather_updates(args.gauges, args.hours)),
    ):
        rate, writes, service = calls_per_second(make_service, updates, args.repeats)
        messages = len(service.take_messages())
        print(f"{name}: {len(updates)} updates, {writes} writes, {messages} CAP messages, "
              f"best {rate:,.0f} react calls/s ({1e6 / rate:.1f} µs per call)")


if __name__ == "__main__":
    main()
