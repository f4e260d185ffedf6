"""WeatherObserved → heat index, heat risk category, and heat warnings (Alert entities and CAP
messages).

Reads `temperature` (°C) and `relativeHumidity` (Smart Data Models dataModel.Weather: a fraction
0–1; a value above 1 is taken as percent, as many stations send it) and writes back, stamped
with the reading's time:

- `heatIndex` (°C, `CEL`): the NWS heat index (`heat.py`), when both are present;
- `heatRisk`: the level the city's metric (heat index, or temperature alone) is in right now,
  "none" below all — instantaneous, for dashboards.

Warnings follow the same metric with hysteresis and duration (`HeatSettings`): a level from
`warn_from` up must persist for `raise_after_minutes` before it is announced.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from madina.domains import entity_values
from madina.domains.safety.config import HeatSettings, SafetySettings
from madina.domains.safety.heat import heat_index_c
from madina.domains.safety.issuer import Issuer
from madina.domains.safety.levels import NONE, Hysteresis, LevelState, track
from madina.domains.safety.lifecycle import Source, Sources, WarningLifecycle
from madina.domains.safety.model import Message
from madina.domains.safety.observations import area_around, display_name, location, reading
from madina.domains.safety.public_warning import CLEARED, HEAT, iso
from madina.domains.writes import Write


def _percent(humidity: float) -> float | None:
    percent = humidity * 100.0 if humidity <= 1.0 else humidity
    return percent if 0.0 <= percent <= 100.0 else None


class HeatService:
    watched_types = frozenset({"WeatherObserved"})

    def __init__(self, settings: SafetySettings | None = None,
                 issuer: Issuer | None = None) -> None:
        settings = settings or SafetySettings()
        heat: HeatSettings = settings.heat
        self.settings = heat
        self.issuer = issuer or Issuer(settings.warnings)
        self._warning_levels = heat.warning_levels()
        self._rule = Hysteresis(heat.deadband_c, heat.raise_after_minutes * 60,
                                heat.lower_after_minutes * 60, heat.max_gap_minutes * 60)
        self._stations: Sources[Source] = Sources(heat.max_stations,
                                                   lambda: Source(LevelState()))
        self._lifecycle = WarningLifecycle(HEAT, heat.policies, self.issuer,
                                           settings.warnings.identifier_prefix)

    def take_messages(self) -> list[Message]:
        """CAP messages issued since the last call (see Issuer.take_messages)."""
        return self.issuer.take_messages()

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]:
        entity_id = entity.get("id")
        temperature = reading(entity, "temperature", now)
        if temperature is None or not isinstance(entity_id, str):
            return []
        air, at = temperature
        humidity = entity_values.number(entity, "relativeHumidity")
        rh = _percent(humidity) if humidity is not None else None
        index = heat_index_c(air, rh) if rh is not None else None
        if index is not None and not math.isfinite(index):  # absurd readings overflow
            index = None
        metric = air if self.settings.metric == "temperature" else index
        source = self._stations.get(entity_id)
        if source.state.last_time is not None and at.timestamp() <= source.state.last_time:
            return []  # a duplicate or late reading: the state only moves forward
        stamp = iso(at)
        attributes: dict[str, Any] = {}
        if index is not None:
            attributes["heatIndex"] = {"type": "Property", "value": round(index, 1),
                                       "unitCode": "CEL", "observedAt": stamp}
        if metric is None:
            return [Write(entity_id, "WeatherObserved", attributes)] if attributes else []
        risk = self.settings.levels.name(self.settings.levels.index(metric), below="none")
        attributes["heatRisk"] = {"type": "Property", "value": risk, "observedAt": stamp}
        writes = [Write(entity_id, "WeatherObserved", attributes)]
        levels = self._warning_levels
        track(source.state, metric, at.timestamp(), levels, self._rule)
        level = None if source.state.level == NONE else levels.names[source.state.level]
        name = display_name(entity)

        def describe(level_name: str) -> tuple[str, str]:
            return self._texts(level_name, name, air, rh, index, at)

        geometry = location(entity)
        writes += self._lifecycle.advance(
            source, entity_id, level, now, describe,
            lambda: self.settings.areas.get(entity_id)
            or area_around(name, geometry, self.settings.area_radius_km),
            geometry,
        )
        return writes

    def _texts(self, level: str, name: str, air: float, rh: float | None,
               index: float | None, at: datetime) -> tuple[str, str]:
        conditions = f"{air:.1f} °C"
        if rh is not None and index is not None:
            conditions += f", relative humidity {rh:.0f} %, heat index {index:.1f} °C"
        reading = f"At {name} at {iso(at)}: {conditions}"
        if level == CLEARED:
            return f"Heat warning over: {name}", f"{reading}. The heat warning is cancelled."
        levels = self._warning_levels
        threshold = levels.thresholds[levels.names.index(level)]
        what = "heat index" if self.settings.metric == "heatIndex" else "temperature"
        metric = index if self.settings.metric == "heatIndex" else air
        if metric is not None and metric >= threshold:
            hours = self.settings.raise_after_minutes / 60
            return (f"Heat {level}: {name}",
                    f"{reading}. The {what} has reached {threshold:.1f} °C (the {level} "
                    f"level), and stayed at or above a warning level for at least {hours:g} h.")
        hours = self.settings.lower_after_minutes / 60
        return (f"Heat {level}: {name}",
                f"{reading}. The {what} is below {threshold:.1f} °C (the {level} level), "
                f"which stays in force until it has stayed below "
                f"{threshold - self.settings.deadband_c:.1f} °C for {hours:g} h.")
