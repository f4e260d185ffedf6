"""Water-level gauges → flood warning level, rate of rise, time to the next level, and flood
warnings (Alert entities and CAP messages).

Watched types (Smart Data Models dataModel.Environment): `WaterObserved`, whose `height` is the
water height, and `FloodMonitoring`, whose `currentLevel` is the flooding level and which may
carry the station's own `alertLevel` and `dangerLevel` thresholds. Both are metres above the
gauge's datum. Derived attributes written back to the observed entity, each stamped with the
reading's time:

- `floodWarningLevel`: the level name ("normal" below all), with hysteresis (`levels.py`);
- `waterLevelRiseRate`: the Theil–Sen rate over the recent window, metres per second (`MTS`);
- `nextFloodWarningLevel`: the next level above the water while it is rising towards it, else
  "none"; with a level named, `timeToNextFloodWarningLevel` (seconds, `SEC`, same observedAt)
  says when it is reached at that rate. Only written with a level named, so an older value is
  no projection: the level attribute says whether one holds. (No urn:ngsi-ld:null deletion:
  every attribute is written whole with a value, so the writes mean the same whether the
  broker merges them or appends them, as batch upserts do.)

Names of our own (not `floodLevelStatus`, which FloodMonitoring devices report themselves).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from madina.domains import entity_values
from madina.domains.safety.config import FloodSettings, SafetySettings
from madina.domains.safety.issuer import Issuer
from madina.domains.safety.levels import NONE, Hysteresis, Levels, LevelState, track
from madina.domains.safety.lifecycle import Source, Sources, WarningLifecycle
from madina.domains.safety.model import Message
from madina.domains.safety.observations import area_around, display_name, location, reading
from madina.domains.safety.public_warning import CLEARED, FLOOD, iso
from madina.domains.safety.trend import theil_sen_slope, time_to_reach
from madina.domains.writes import Write

LEVEL_ATTRIBUTE = {"WaterObserved": "height", "FloodMonitoring": "currentLevel"}


@dataclass(slots=True)
class Gauge:
    readings: deque[tuple[float, float]]
    entity_thresholds: tuple[float | None, float | None] = (None, None)
    entity_levels: Levels | None = None


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


class FloodService:
    watched_types = frozenset(LEVEL_ATTRIBUTE)

    def __init__(self, settings: SafetySettings | None = None,
                 issuer: Issuer | None = None) -> None:
        settings = settings or SafetySettings()
        self.settings: FloodSettings = settings.flood
        self.issuer = issuer or Issuer(settings.warnings)
        flood = self.settings
        self._rule = Hysteresis(flood.deadband_m, flood.raise_after_minutes * 60,
                                flood.lower_after_minutes * 60)
        self._window = flood.rate_window_minutes * 60
        self._gauges: Sources[Source] = Sources(flood.max_gauges, self._new_gauge)
        self._lifecycle = WarningLifecycle(FLOOD, flood.policies, self.issuer,
                                           settings.warnings.identifier_prefix)

    def _new_gauge(self) -> Source:
        return Source(LevelState(), memory=Gauge(deque(maxlen=self.settings.rate_max_readings)))

    def take_messages(self) -> list[Message]:
        """CAP messages issued since the last call (see Issuer.take_messages)."""
        return self.issuer.take_messages()

    def _levels(self, entity_id: str, entity: dict[str, Any], gauge: Gauge) -> Levels | None:
        configured = self.settings.gauges.get(entity_id)
        if configured is not None:
            return configured
        if self.settings.entity_levels:
            thresholds = (entity_values.number(entity, "alertLevel"),
                          entity_values.number(entity, "dangerLevel"))
            if thresholds != gauge.entity_thresholds:
                gauge.entity_thresholds = thresholds
                pairs = [(n, t) for n, t in zip(("warning", "danger"), thresholds, strict=True)
                         if t is not None]
                try:
                    gauge.entity_levels = Levels(tuple(n for n, _ in pairs),
                                                 tuple(t for _, t in pairs)) if pairs else None
                except ValueError:  # dangerLevel not above alertLevel: unusable
                    gauge.entity_levels = None
            if gauge.entity_levels is not None:
                return gauge.entity_levels
        return self.settings.default_levels

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]:
        entity_type = entity.get("type")
        attribute = LEVEL_ATTRIBUTE.get(entity_type) if isinstance(entity_type, str) else None
        entity_id = entity.get("id")
        measured = reading(entity, attribute, now) if attribute else None
        if measured is None or not isinstance(entity_id, str):
            return []
        value, at = measured
        t = at.timestamp()
        source = self._gauges.get(entity_id)
        gauge: Gauge = source.memory
        readings = gauge.readings
        if readings and t <= readings[-1][0]:
            return []  # a duplicate or late reading: the state only moves forward
        readings.append((t, value))
        while t - readings[0][0] > self._window:
            readings.popleft()
        rate = (theil_sen_slope(readings)
                if len(readings) >= self.settings.rate_min_readings else None)
        levels = self._levels(entity_id, entity, gauge)
        stamp = iso(at)
        attributes: dict[str, Any] = {}
        if rate is not None:
            attributes["waterLevelRiseRate"] = {"type": "Property", "value": rate,
                                                "unitCode": "MTS", "observedAt": stamp}
        if levels is None:
            return [Write(entity_id, entity_type, attributes)] if attributes else []
        state = source.state
        if state.level >= len(levels.names):  # the gauge's levels shrank
            state.level = NONE
        track(state, value, t, levels, self._rule)
        level = None if state.level == NONE else levels.names[state.level]
        attributes["floodWarningLevel"] = {"type": "Property", "value": level or "normal",
                                           "observedAt": stamp}
        above = levels.index(value) + 1
        eta = time_to_reach(value, rate, levels.thresholds[above]) \
            if above < len(levels.names) else None
        attributes["nextFloodWarningLevel"] = {
            "type": "Property", "value": "none" if eta is None else levels.names[above],
            "observedAt": stamp}
        if eta is not None:
            attributes["timeToNextFloodWarningLevel"] = {"type": "Property", "value": eta,
                                                         "unitCode": "SEC", "observedAt": stamp}
        writes = [Write(entity_id, entity_type, attributes)]
        name = display_name(entity)

        def describe(level_name: str) -> tuple[str, str]:
            return self._texts(level_name, name, value, at, levels, rate, above, eta)

        geometry = location(entity)
        writes += self._lifecycle.advance(
            source, entity_id, level, now, describe,
            lambda: self.settings.areas.get(entity_id)
            or area_around(name, geometry, self.settings.area_radius_km),
            geometry,
        )
        return writes

    def _texts(self, level: str, name: str, value: float, at: datetime, levels: Levels,
               rate: float | None, above: int, eta: float | None) -> tuple[str, str]:
        reading = f"The water level at {name} was {value:.2f} m at {iso(at)}"
        if level == CLEARED:
            return (f"Flood warning over: {name}",
                    f"{reading}, below every flood warning level. The warning is cancelled.")
        index = levels.names.index(level)
        threshold = levels.thresholds[index]
        if value >= threshold:
            text = f"{reading}, at or above the {level} level ({threshold:.2f} m)."
        else:
            text = (f"{reading}, below the {level} level ({threshold:.2f} m), which stays in "
                    f"force until the water has stayed below "
                    f"{threshold - self.settings.deadband_m:.2f} m for "
                    f"{_duration(self.settings.lower_after_minutes * 60)}.")
        if rate is not None and rate > 0:
            text += f" It is rising by {rate * 3600 * 100:.0f} cm per hour"
            if eta is not None and above > index:
                text += (f" and will reach the {levels.names[above]} level "
                         f"({levels.thresholds[above]:.2f} m) in about {_duration(eta)}")
            text += "."
        return f"Flood {level}: {name}", text
