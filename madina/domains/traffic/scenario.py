"""A synthetic detector corridor with scripted incidents, to measure incident detection.

A chain of detector stations (one RoadSegment each, several lanes, one TrafficFlowObserved per
lane every `period`) on a road with Greenshields' speed-density relation (B. D. Greenshields, "A
study of traffic capacity", HRB Proceedings 14, 1935): v = v_f (1 − k / k_j), so on the
uncongested branch a demand q gives k = k_j / 2 · (1 − √(1 − 4q / (v_f k_j))). Demand follows a
day with morning and evening peaks plus noise; optionally the last station is a recurrent
bottleneck on weekday evenings whose queue builds slowly and spreads upstream — the recurrent
congestion a detector must not call an incident.

An incident between station i and i+1 caps what passes to `incident_capacity` of demand: station i
(upstream) sees the queue — speed collapses, occupancy jumps, flow falls — and the queue reaches
station i−1 after `queue_spread` of the incident; station i+1 (downstream) sees its flow cut to the
capacity at near free-flow speed, so its occupancy falls. Deterministic for a given seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from madina.domains import entity_values as ev
from madina.domains.traffic.evaluation import ScriptedIncident
from madina.domains.traffic.settings import SegmentSettings


@dataclass(frozen=True)
class CorridorIncident:
    """A blockage downstream of `station`, from `start` for `duration`."""

    station: int
    start: datetime
    duration: timedelta


@dataclass(frozen=True)
class Corridor:
    """Shape of the synthetic road and its traffic."""

    stations: int = 6
    lanes: int = 2
    start: datetime = datetime(2025, 3, 3, tzinfo=UTC)
    """A Monday."""
    days: float = 3.0
    period: timedelta = timedelta(minutes=5)
    arrival_delay: timedelta = timedelta(seconds=20)
    free_flow_kmh: float = 90.0
    jam_density: float = 110.0
    """Vehicles per km per lane at standstill."""
    effective_length_m: float = 6.5
    off_peak_vph: float = 250.0
    peak_vph: float = 1500.0
    """Demand per lane at the height of a peak."""
    flow_noise: float = 0.08
    speed_noise_kmh: float = 3.0
    recurrent_bottleneck: bool = True
    incident_capacity: float = 0.35
    queue_speed_kmh: float = 20.0
    queue_spread: timedelta = timedelta(minutes=20)
    incidents: tuple[CorridorIncident, ...] = field(default_factory=tuple)
    seed: int = 7

    def segment_id(self, station: int) -> str:
        return f"urn:ngsi-ld:RoadSegment:corridor-{station}"

    def lane_id(self, station: int, lane: int) -> str:
        return f"urn:ngsi-ld:TrafficFlowObserved:corridor-{station}-lane-{lane}"

    def segment_settings(self) -> dict[str, SegmentSettings]:
        """Each station's downstream neighbour and its free-flow prior, as a city would set them."""
        return {
            self.segment_id(i): SegmentSettings(
                free_flow_prior_kmh=self.free_flow_kmh,
                downstream=self.segment_id(i + 1) if i + 1 < self.stations else None,
            )
            for i in range(self.stations)
        }

    def scripted_incidents(self) -> list[ScriptedIncident]:
        """The incidents as the evaluation scores them: an alarm at the station upstream of the
        blockage, or at the one the queue reaches, detects it."""
        return [
            ScriptedIncident(
                segment_ids=frozenset(
                    self.segment_id(s) for s in (incident.station, incident.station - 1) if s >= 0
                ),
                start=incident.start,
                end=incident.start + incident.duration,
            )
            for incident in self.incidents
        ]


def observations(corridor: Corridor) -> list[tuple[datetime, dict[str, Any]]]:
    """Every lane entity of every interval, with the time it reaches the broker, in time order."""
    rng = random.Random(corridor.seed)
    intervals = int(corridor.days * 86400 / corridor.period.total_seconds())
    result: list[tuple[datetime, dict[str, Any]]] = []
    for n in range(intervals):
        begin = corridor.start + n * corridor.period
        end = begin + corridor.period
        for station in range(corridor.stations):
            for lane in range(corridor.lanes):
                flow, speed, density = _lane_state(corridor, station, begin, rng)
                entity = _entity(corridor, station, lane, begin, end, flow, speed, density)
                result.append((end + corridor.arrival_delay, entity))
    return result


def _demand(corridor: Corridor, moment: datetime) -> float:
    hour = moment.hour + moment.minute / 60.0
    peaks = math.exp(-((hour - 8.0) ** 2) / 1.5) + math.exp(-((hour - 17.0) ** 2) / 2.0)
    night = 0.3 if hour < 5 or hour >= 22 else 1.0
    weekend = 0.6 if moment.weekday() >= 5 else 1.0
    base = corridor.off_peak_vph * night
    return (base + (corridor.peak_vph - corridor.off_peak_vph) * min(peaks, 1.0)) * weekend


def _uncongested_speed(corridor: Corridor, flow: float) -> float:
    vf, kj = corridor.free_flow_kmh, corridor.jam_density
    ratio = min(4.0 * flow / (vf * kj), 1.0)
    density = kj / 2.0 * (1.0 - math.sqrt(1.0 - ratio))
    return vf * (1.0 - density / kj)


def _lane_state(
    corridor: Corridor, station: int, moment: datetime, rng: random.Random
) -> tuple[float, float, float]:
    """(flow veh/h, speed km/h, density veh/km) of one lane of a station at a moment. In a queue
    the density is the congested branch's at the queue speed, k = k_j (1 − v / v_f)."""
    demand = _demand(corridor, moment) * max(0.0, rng.gauss(1.0, corridor.flow_noise))
    speed = _uncongested_speed(corridor, demand)
    flow = demand
    density = flow / speed
    queue_speed = corridor.queue_speed_kmh
    queue_density = corridor.jam_density * (1.0 - queue_speed / corridor.free_flow_kmh)
    queue = _queue_factor(corridor, station, moment)
    if queue > 0.0:
        speed += (queue_speed - speed) * queue
        density += (queue_density - density) * queue
        flow = demand * (1.0 - (1.0 - corridor.incident_capacity) * queue * 0.6)
    for incident in corridor.incidents:
        if not incident.start <= moment < incident.start + incident.duration:
            continue
        if station == incident.station + 1:
            flow = min(flow, demand * corridor.incident_capacity)
            speed = _uncongested_speed(corridor, flow)
            density = flow / speed
        elif station == incident.station or (
            station == incident.station - 1 and moment >= incident.start + corridor.queue_spread
        ):
            flow = demand * corridor.incident_capacity
            speed, density = queue_speed, queue_density
    speed = max(3.0, speed + rng.gauss(0.0, corridor.speed_noise_kmh))
    return flow, speed, density


def _queue_factor(corridor: Corridor, station: int, moment: datetime) -> float:
    """0-1 how deep a station is in the recurrent evening queue of the last station: it builds over
    45 minutes from 16:15 and spreads one station upstream every 15 minutes."""
    if not corridor.recurrent_bottleneck or moment.weekday() >= 5:
        return 0.0
    hour = moment.hour + moment.minute / 60.0
    behind = corridor.stations - 1 - station
    onset = 16.25 + 0.25 * behind
    if behind > 2 or not onset <= hour < 18.5:
        return 0.0
    return min(1.0, (hour - onset) / 0.75)


def _entity(
    corridor: Corridor,
    station: int,
    lane: int,
    begin: datetime,
    end: datetime,
    flow: float,
    speed: float,
    density: float,
) -> dict[str, Any]:
    period_h = corridor.period.total_seconds() / 3600.0
    count = round(flow * period_h)
    occupancy = min(1.0, density * corridor.effective_length_m / 1000.0)
    return {
        "id": corridor.lane_id(station, lane),
        "type": "TrafficFlowObserved",
        "dateObservedFrom": ev.date_time(begin),
        "dateObservedTo": ev.date_time(end),
        "intensity": ev.prop(count, end),
        "occupancy": ev.prop(round(occupancy, 4), end),
        "averageVehicleSpeed": ev.prop(round(speed, 1), end),
        "laneId": ev.prop(lane + 1),
        "refRoadSegment": ev.rel(corridor.segment_id(station)),
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [24.94 + 0.01 * station, 60.17]},
        },
    }
