"""How well incident detection works on a scenario with known incidents.

The three measures incident-detection studies report since Payne and Tignor (TRR 682, 1978):

- detection rate DR = incidents detected / incidents that happened;
- false alarm rate FAR = false alarms / detector decisions (one decision per segment and interval,
  so a FAR of 0.1 % on 5-minute data is about one false alarm per segment every 3.5 days);
- mean time to detect MTTD = mean of (alarm time − incident start) over detected incidents.

`evaluate` replays observations (recorded, or from `madina.domains.traffic.scenario`) through a
`TrafficService` exactly as the event stream would, and scores the Alerts it raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from madina.domains.traffic.service import TrafficService


@dataclass(frozen=True)
class ScriptedIncident:
    """An incident that really happened: where an alarm counts as detecting it, and when."""

    segment_ids: frozenset[str]
    """Segments whose alarm detects it (the station just upstream, and any its queue reaches)."""
    start: datetime
    end: datetime


@dataclass(frozen=True)
class DetectionReport:
    incidents: int
    detected: int
    false_alarms: int
    decisions: int
    times_to_detect_s: tuple[float, ...]

    @property
    def detection_rate(self) -> float:
        return self.detected / self.incidents if self.incidents else 0.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.decisions if self.decisions else 0.0

    @property
    def mean_time_to_detect_s(self) -> float | None:
        times = self.times_to_detect_s
        return sum(times) / len(times) if times else None


@dataclass(frozen=True)
class Alarm:
    segment_id: str
    issued: datetime


def replay(
    service: TrafficService, observations: Iterable[tuple[datetime, dict[str, Any]]]
) -> tuple[list[Alarm], int]:
    """Feed (arrival time, entity) pairs in order; the alarms raised and the number of decisions
    (segment intervals closed: each closes with exactly one write to its segment entity)."""
    alarms: list[Alarm] = []
    decisions = 0
    for now, entity in observations:
        for write in service.react(entity, now):
            if write.entity_type != "Alert":
                decisions += 1
            elif "dateIssued" in write.attributes:
                source = write.attributes["alertSource"]["object"]
                alarms.append(Alarm(source, now))
    return alarms, decisions


def score(
    alarms: list[Alarm],
    decisions: int,
    incidents: list[ScriptedIncident],
    grace: timedelta = timedelta(minutes=15),
) -> DetectionReport:
    """Match alarms to incidents: an alarm on one of an incident's segments between its start and
    its end plus `grace` (queues outlast the blockage) detects it; any other alarm is false."""
    detected_at: dict[int, datetime] = {}
    false_alarms = 0
    for alarm in alarms:
        matched = False
        for index, incident in enumerate(incidents):
            if (
                alarm.segment_id in incident.segment_ids
                and incident.start <= alarm.issued <= incident.end + grace
            ):
                matched = True
                if index not in detected_at or alarm.issued < detected_at[index]:
                    detected_at[index] = alarm.issued
        if not matched:
            false_alarms += 1
    times = tuple(
        (detected_at[index] - incidents[index].start).total_seconds()
        for index in sorted(detected_at)
    )
    return DetectionReport(
        incidents=len(incidents),
        detected=len(detected_at),
        false_alarms=false_alarms,
        decisions=decisions,
        times_to_detect_s=times,
    )


def evaluate(
    service: TrafficService,
    observations: Iterable[tuple[datetime, dict[str, Any]]],
    incidents: list[ScriptedIncident],
    grace: timedelta = timedelta(minutes=15),
) -> DetectionReport:
    """Replay a scenario through `service` and score its alarms against the known incidents."""
    alarms, decisions = replay(service, observations)
    return score(alarms, decisions, incidents, grace)
