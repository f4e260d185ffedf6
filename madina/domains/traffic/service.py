"""The traffic reactive service: TrafficFlowObserved in, segment state and incident Alerts out.

Smart Data Models (dataModel.Transportation/TrafficFlowObserved) gives, per lane and observation
period: `intensity` (the number of vehicles in the period — a count, not a rate), `occupancy`
(fraction of the period the lane was occupied), `averageVehicleSpeed` (km/h),
`averageVehicleLength` (m), `laneId`, `dateObservedFrom`/`dateObservedTo` (or an ISO 8601
interval in `dateObserved`), `location` and `refRoadSegment`. Detectors that split lanes publish
one entity per lane pointing at the same RoadSegment; the segment is the unit of analysis here.

Per segment, once every lane it has of an interval is in (or a later interval arrives), the
service writes to the segment entity — the RoadSegment named by `refRoadSegment`, else the
observed entity itself, which is then its own segment:

- `congested` (the model's own flag; hysteresis and minimum duration, `congestion`),
- `density` (veh/km per lane) and `levelOfService` (HCM letter, `level_of_service`),
- `freeFlowSpeed` (km/h, learned, `free_flow`),
- once a day per configured period, when the period closes: `travelTimeIndex`,
  `planningTimeIndex`, `bufferIndex` as multi-attributes with datasetId
  `urn:ngsi-ld:ReliabilityPeriod:<name>` (`reliability`),

and raises, updates and clears an `Alert` (category "traffic") when `incidents` detects one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from madina.domains import entity_values as ev
from madina.domains.memory import recently_used
from madina.domains.traffic.congestion import CongestionState
from madina.domains.traffic.flow import (
    density_from_flow,
    density_from_occupancy,
    flow_rate,
    per_mile,
    speed_from_occupancy,
)
from madina.domains.traffic.free_flow import FreeFlowSpeed
from madina.domains.traffic.incidents import (
    IncidentDetector,
    IncidentUpdate,
    IntervalSample,
    severity,
)
from madina.domains.traffic.level_of_service import level_of_service
from madina.domains.traffic.reliability import ReliabilityWindow, reliability
from madina.domains.traffic.settings import TrafficSettings
from madina.domains.writes import Write

OBSERVED_TYPE = "TrafficFlowObserved"
SEGMENT_TYPE = "RoadSegment"
PERIOD_DATASET = "urn:ngsi-ld:ReliabilityPeriod:"
ALERT_PREFIX = "urn:ngsi-ld:Alert:traffic-incident:"
MAX_LANES = 32
"""Lanes kept per segment: a memory bound against feeds that point thousands of entities at one
RoadSegment, not a threshold (no carriageway comes near it); further lanes are ignored."""


@dataclass(frozen=True)
class LaneObservation:
    """One lane's interval, in the service's units (veh/h, fraction, km/h, veh/km)."""

    end: datetime
    period_s: float
    flow_vph: float | None
    occupancy: float | None
    speed_kmh: float | None
    density: float | None


@dataclass(frozen=True)
class _Closed:
    """A segment interval once all its lanes are in: the detector's sample, plus per-lane
    density and the period length, which only the service needs."""

    sample: IntervalSample
    density: float | None
    period_s: float


class _Segment:
    """Everything kept about one segment; bounded (lanes, histories and windows are capped)."""

    __slots__ = ("alert_id", "alert_severity", "congestion", "entity_type", "free_flow",
                 "incident", "known_lanes", "last_closed", "location", "pending",
                 "pending_end", "segment_id", "windows")

    def __init__(self, segment_id: str, entity_type: str, settings: TrafficSettings) -> None:
        own = settings.segment(segment_id)
        self.segment_id = segment_id
        self.entity_type = entity_type
        self.free_flow = FreeFlowSpeed(
            own.free_flow_prior_kmh or settings.free_flow_prior_kmh,
            settings.free_flow_prior_weight,
            settings.free_flow_percentile,
            settings.free_flow_max_occupancy,
            settings.free_flow_samples,
        )
        self.congestion = CongestionState(settings.congestion)
        self.incident = IncidentDetector(settings.incidents)
        self.windows = [
            ReliabilityWindow(period, settings.reliability_days, settings.reliability_max_samples)
            for period in settings.reliability_periods
        ]
        self.known_lanes: set[str] = set()
        self.pending: dict[str, LaneObservation] = {}
        self.pending_end: datetime | None = None
        self.last_closed: IntervalSample | None = None
        self.location: Any = None
        self.alert_id: str | None = None
        self.alert_severity: str | None = None

    def take(self, lane: str, observation: LaneObservation) -> list[_Closed]:
        """Add a lane's observation; the segment intervals it completes (zero, one or two)."""
        closed: list[_Closed] = []
        end = observation.end
        if self.pending_end is not None and end < self.pending_end:
            return closed
        if lane not in self.known_lanes and len(self.known_lanes) >= MAX_LANES:
            return closed
        if self.pending_end is not None and end > self.pending_end:
            if self.pending:
                closed.append(self._close())
            self.pending_end = None
        if self.pending_end is None:
            self.pending_end = end
            self.pending = {}
        elif not self.pending:
            # This interval already closed with every known lane; a newcomer is late for it.
            self.known_lanes.add(lane)
            return closed
        self.pending[lane] = observation
        self.known_lanes.add(lane)
        if self.known_lanes <= self.pending.keys():
            closed.append(self._close())
        return closed

    def sample_at(self, end: datetime, max_lag: timedelta) -> IntervalSample | None:
        """This segment's state for an interval ending at `end`, for a neighbour's comparison:
        the closed interval if close enough in time, else the lanes in so far."""
        if self.pending and self.pending_end == end:
            return _aggregate(end, self.pending.values()).sample
        last = self.last_closed
        if last is not None and abs(last.end - end) <= max_lag:
            return last
        return None

    def _close(self) -> _Closed:
        assert self.pending_end is not None
        closed = _aggregate(self.pending_end, self.pending.values())
        self.known_lanes = set(self.pending)
        self.pending = {}
        self.last_closed = closed.sample
        return closed


def _aggregate(end: datetime, lanes: Any) -> _Closed:
    """All lanes of an interval as one: flows add, occupancy and density average, speed is the
    flow-weighted mean (the mean speed of the vehicles counted)."""
    flow = occupancy = weighted = weight = speed_sum = density = period = 0.0
    flows = occupancies = speeds = densities = count = 0
    for lane in lanes:
        count += 1
        period += lane.period_s
        if lane.density is not None:
            density += lane.density
            densities += 1
        if lane.flow_vph is not None:
            flow += lane.flow_vph
            flows += 1
        if lane.occupancy is not None:
            occupancy += lane.occupancy
            occupancies += 1
        if lane.speed_kmh is not None:
            speed_sum += lane.speed_kmh
            speeds += 1
            if lane.flow_vph:
                weighted += lane.speed_kmh * lane.flow_vph
                weight += lane.flow_vph
    speed = weighted / weight if weight > 0 else (speed_sum / speeds if speeds else None)
    sample = IntervalSample(
        end=end,
        flow_vph=flow if flows else None,
        occupancy=occupancy / occupancies if occupancies else None,
        speed_kmh=speed,
    )
    return _Closed(sample, density / densities if densities else None, period / count)


class TrafficService:
    """Reacts to TrafficFlowObserved changes; state per segment in memory, bounded."""

    watched_types = frozenset({OBSERVED_TYPE})

    def __init__(self, settings: TrafficSettings | None = None) -> None:
        self.settings = settings or TrafficSettings()
        self._zone = self.settings.zone
        self._neighbour_lag = timedelta(seconds=self.settings.neighbour_max_lag_s)
        self._segments: OrderedDict[str, _Segment] = OrderedDict()

    @property
    def tracked_segments(self) -> int:
        """Segments held in memory (at most `settings.max_segments`)."""
        return len(self._segments)

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]:
        """Derived attributes and Alerts for one changed TrafficFlowObserved entity."""
        entity_id = entity.get("id")
        if not isinstance(entity_id, str):
            return []
        observation = self.observation(entity, now)
        if observation is None:
            return []
        road = ev.relationship(entity, "refRoadSegment")
        segment_id, segment_type = (road, SEGMENT_TYPE) if road else (entity_id, OBSERVED_TYPE)
        segment = self._segment(segment_id, segment_type)
        location = ev.attribute(entity, "location")
        if location is not None and (segment.location is None or road is None):
            segment.location = location.get("value")
        writes: list[Write] = []
        for closed in segment.take(entity_id, observation):
            writes.extend(self._interval(segment, closed, now))
        return writes

    def observation(self, entity: dict[str, Any], now: datetime) -> LaneObservation | None:
        """The lane's interval in the service's units; None when it measured nothing usable."""
        settings = self.settings
        start, end = _interval_bounds(entity)
        if end is None:
            end = (
                ev.observed_at(entity, "intensity")
                or ev.observed_at(entity, "occupancy")
                or ev.observed_at(entity, "averageVehicleSpeed")
                or now
            )
        period_s = (end - start).total_seconds() if start is not None else 0.0
        if period_s <= 0:
            period_s = settings.default_period_s
        count = ev.number(entity, "intensity")
        flow = None
        if count is not None and count >= 0:
            flow = count if settings.intensity_is_hourly else flow_rate(count, period_s)
        occupancy = ev.number(entity, "occupancy")
        if occupancy is not None and not 0.0 <= occupancy <= 1.0:
            occupancy = None
        speed = ev.number(entity, "averageVehicleSpeed")
        if speed is not None and speed < 0:
            speed = None
        if flow is None and occupancy is None and speed is None:
            return None
        vehicle_length = ev.number(entity, "averageVehicleLength")
        g = (
            vehicle_length + settings.detection_zone_length_m
            if vehicle_length is not None and vehicle_length > 0
            else settings.effective_vehicle_length_m
        )
        measured_speed = speed
        if speed is None and flow is not None and occupancy:
            speed = speed_from_occupancy(flow, occupancy, g)
        density = None
        if (
            measured_speed is not None
            and flow is not None
            and measured_speed >= settings.min_speed_for_flow_density_kmh
        ):
            density = density_from_flow(flow, measured_speed)
        elif occupancy is not None:
            density = density_from_occupancy(occupancy, g)
        return LaneObservation(end, period_s, flow, occupancy, speed, density)

    def _segment(self, segment_id: str, segment_type: str) -> _Segment:
        return recently_used(
            self._segments, segment_id,
            lambda: _Segment(segment_id, segment_type, self.settings), self.settings.max_segments,
        )

    def _interval(self, segment: _Segment, closed: _Closed, now: datetime) -> list[Write]:
        settings = self.settings
        sample = closed.sample
        end = sample.end
        free_flow = segment.free_flow.speed
        speed_ratio = None if sample.speed_kmh is None else sample.speed_kmh / free_flow
        congested = segment.congestion.update(speed_ratio, sample.occupancy)
        segment.free_flow.observe(sample.speed_kmh, sample.occupancy)
        attributes: dict[str, Any] = {
            "congested": ev.prop(congested, end),
            "freeFlowSpeed": ev.prop(round(free_flow, 1), end, "KMH"),
        }
        density = closed.density
        if density is not None:
            attributes["density"] = ev.prop(round(density, 2), end)
            attributes["levelOfService"] = ev.prop(
                level_of_service(per_mile(density), settings.los_bands), end
            )
        if sample.speed_kmh is not None:
            self._reliability(
                segment, sample.speed_kmh, end, closed.period_s, free_flow, attributes
            )
        writes = [Write(segment.segment_id, segment.entity_type, attributes)]
        downstream = self._downstream(segment.segment_id, end)
        update = segment.incident.step(sample, downstream)
        if update is not None:
            alert = self._alert(segment, update, end, now)
            if alert is not None:
                writes.append(alert)
        return writes

    def _reliability(
        self,
        segment: _Segment,
        speed: float,
        end: datetime,
        period_s: float,
        free_flow: float,
        attributes: dict[str, Any],
    ) -> None:
        zone = self._zone
        local_start = (end - timedelta(seconds=period_s)).astimezone(zone)
        local_end = end.astimezone(zone)
        settings = self.settings
        for window in segment.windows:
            window.add(local_start, speed)
            paces = window.report_due(local_end, settings.reliability_min_samples)
            if paces is None:
                continue
            result = reliability(paces, free_flow)
            dataset = PERIOD_DATASET + window.period.name
            for name, figure in (
                ("travelTimeIndex", result.travel_time_index),
                ("planningTimeIndex", result.planning_time_index),
                ("bufferIndex", result.buffer_index),
            ):
                instance = ev.prop(round(figure, 3), end, dataset_id=dataset)
                attributes.setdefault(name, []).append(instance)

    def _downstream(self, segment_id: str, end: datetime) -> IntervalSample | None:
        target = self.settings.segment(segment_id).downstream
        if target is None:
            return None
        neighbour = self._segments.get(target)
        return None if neighbour is None else neighbour.sample_at(end, self._neighbour_lag)

    def _alert(
        self, segment: _Segment, update: IncidentUpdate, end: datetime, now: datetime
    ) -> Write | None:
        settings = self.settings
        level = severity(update.ratio, settings.severity_bands)
        if update.phase == "raised":
            segment.alert_id = (
                f"{ALERT_PREFIX}{ev.id_part(segment.segment_id)}:{int(update.onset.timestamp())}"
            )
            segment.alert_severity = level
            attributes: dict[str, Any] = {
                "category": ev.prop("traffic"),
                "subCategory": ev.prop(settings.incident_sub_category),
                "severity": ev.prop(level),
                "description": ev.prop(_describe(update, segment.segment_id)),
                "dateIssued": ev.date_time(now),
                "validFrom": ev.date_time(update.onset),
                "alertSource": ev.rel(segment.segment_id),
                "data": ev.prop(_evidence(update)),
            }
            if segment.location is not None:
                attributes["location"] = {"type": "GeoProperty", "value": segment.location}
            return Write(segment.alert_id, "Alert", attributes)
        if segment.alert_id is None:
            return None
        if update.phase == "cleared":
            alert_id = segment.alert_id
            segment.alert_id = segment.alert_severity = None
            return Write(
                alert_id,
                "Alert",
                {
                    "validTo": ev.date_time(update.recovered_at or end),
                    "description": ev.prop(
                        f"Traffic on {segment.segment_id} back to normal; incident cleared."
                    ),
                    "data": ev.prop(_evidence(update)),
                },
            )
        if level == segment.alert_severity:
            return None
        segment.alert_severity = level
        return Write(
            segment.alert_id,
            "Alert",
            {
                "severity": ev.prop(level),
                "description": ev.prop(_describe(update, segment.segment_id)),
                "data": ev.prop(_evidence(update)),
            },
        )


def _interval_bounds(entity: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(start, end) of the observation period: dateObservedFrom/To, or an ISO 8601 interval
    "start/end" in dateObserved, or an instant in dateObserved (then the end, no start)."""
    start = ev.parse_datetime(ev.value(entity, "dateObservedFrom"))
    end = ev.parse_datetime(ev.value(entity, "dateObservedTo"))
    if end is not None:
        return start, end
    observed = ev.value(entity, "dateObserved")
    if isinstance(observed, str):
        if "/" in observed:
            first, _, second = observed.partition("/")
            return ev.parse_datetime(first), ev.parse_datetime(second)
        return None, ev.parse_datetime(observed)
    return None, None


def _describe(update: IncidentUpdate, segment_id: str) -> str:
    baseline = update.baseline
    if update.ratio is None:
        return f"Suspected incident on {segment_id}: occupancy rose suddenly."
    if baseline.speed_kmh:
        measure = f"speed {update.ratio * baseline.speed_kmh:.0f} km/h against a usual " \
                  f"{baseline.speed_kmh:.0f} km/h"
    else:
        measure = f"flow at {update.ratio:.0%} of its usual value"
    return f"Suspected incident on {segment_id}: {measure}, occupancy up."


def _evidence(update: IncidentUpdate) -> dict[str, Any]:
    baseline = update.baseline
    evidence: dict[str, Any] = {
        "detector": "california7+robust-z" if update.spatial else "robust-z",
    }
    if update.ratio is not None:
        evidence["ratioToBaseline"] = round(update.ratio, 3)
    if baseline.speed_kmh is not None:
        evidence["baselineSpeed"] = round(baseline.speed_kmh, 1)
    if baseline.flow_vph is not None:
        evidence["baselineFlow"] = round(baseline.flow_vph, 1)
    if baseline.occupancy is not None:
        evidence["baselineOccupancy"] = round(baseline.occupancy, 3)
    return evidence
