"""Micro-benchmark of the traffic and energy domains' reactive services: `python -m
bench.traffic_energy_react`.

Domain services must keep pace with ingestion (≥ 10,000 updates/s across all domains, issue 6).
This measures what one `react` call costs on its own — no broker, no event dispatch — as the best
of several runs over the same updates, in process CPU time (what a worker spends per call, not how
long other processes on the shared machine kept the core).

- TrafficFlowObserved: the synthetic corridor of `madina.domains.traffic.scenario` (two lanes per
  station, 5-minute intervals, the evening bottleneck and scripted incidents), `--stations`
  stations for a day: lane aggregation, congestion, free flow, reliability, incident detection.
- ACMeasurement: `--buildings` buildings with one meter read every 15 minutes for a week, in
  districts of ten, GB factors: hourly building figures, district KPIs, the weekly profile.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta

from bench.react import Updates, calls_per_second
from madina.domains.energy.service import EnergyService
from madina.domains.energy.settings import BuildingSettings, EnergySettings
from madina.domains.traffic.scenario import Corridor, CorridorIncident, observations
from madina.domains.traffic.service import TrafficService
from madina.domains.traffic.settings import TrafficSettings

START = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday


def traffic_updates(stations: int) -> tuple[Corridor, Updates]:
    incidents = tuple(
        CorridorIncident(station, START + timedelta(hours=6 + station % 12), timedelta(minutes=30))
        for station in range(1, stations - 1, 7)
    )
    corridor = Corridor(stations=stations, days=1.0, start=START, incidents=incidents)
    return corridor, [(entity, moment) for moment, entity in observations(corridor)]


def energy_updates(buildings: int, days: int) -> Updates:
    rng = random.Random(5)
    registers = [rng.uniform(1e4, 1e6) for _ in range(buildings)]
    updates = []
    for quarter in range(days * 96):
        moment = START + timedelta(minutes=15 * quarter)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        busy = moment.weekday() < 5 and 8 <= moment.hour < 18
        for n in range(buildings):
            registers[n] += (10.0 if busy else 2.5) * rng.uniform(0.9, 1.1)
            updates.append(({
                "id": f"urn:ngsi-ld:ACMeasurement:bench-{n}",
                "type": "ACMeasurement",
                "totalActiveEnergyImport": {"type": "Property", "value": registers[n],
                                            "observedAt": stamp, "unitCode": "KWH"},
                "refBuilding": {"type": "Relationship", "object": f"urn:ngsi-ld:Building:{n}"},
            }, moment))
    return updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=40)
    parser.add_argument("--buildings", type=int, default=100)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    corridor, traffic = traffic_updates(args.stations)
    traffic_settings = TrafficSettings(segments=corridor.segment_settings())
    rate, writes, _ = calls_per_second(
        lambda: TrafficService(traffic_settings), traffic, args.repeats
    )
    print(f"TrafficFlowObserved  {len(traffic):>7} updates  {writes:>6} writes  {rate:>9,.0f}/s")

    energy_settings = EnergySettings(
        region="GB",
        buildings={
            f"urn:ngsi-ld:Building:{n}": BuildingSettings(floor_area_m2=2000.0,
                                                          district=f"district-{n // 10}")
            for n in range(args.buildings)
        },
    )
    meters = energy_updates(args.buildings, args.days)
    rate, writes, _ = calls_per_second(lambda: EnergyService(energy_settings), meters,
                                       args.repeats)
    print(f"ACMeasurement        {len(meters):>7} updates  {writes:>6} writes  {rate:>9,.0f}/s")


if __name__ == "__main__":
    main()
