"""The city's safety settings: gauge levels, heat thresholds, how each level is announced, and
who signs the warnings. Frozen values with documented defaults, loadable from a dict or TOML
(`SafetySettings.from_dict`, `SafetySettings.from_toml`).

Defaults: heat levels are the NWS heat index categories (NWS heat index chart: Caution from
80 °F, Extreme Caution 90 °F, Danger 103 °F, Extreme Danger 125 °F), in °C. Flood levels have no
sensible default (every gauge has its own datum): a city configures each gauge, or lets a
FloodMonitoring entity's own `alertLevel`/`dangerLevel` stand (Smart Data Models
dataModel.Environment/FloodMonitoring). How a level is announced (CAP severity/urgency, Smart
Data Models Alert severity, CAP responseType) follows the usual ladder of public warning
services: advisory → Minor, watch → Moderate, warning → Severe, danger → Extreme.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from madina.domains.safety.heat import celsius
from madina.domains.safety.levels import Levels
from madina.domains.safety.model import (
    CERTAINTIES,
    RESPONSE_TYPES,
    SEVERITIES,
    URGENCIES,
    Area,
)
from madina.domains.settings_loading import from_mapping

ALERT_SEVERITIES = ("informational", "low", "medium", "high", "critical")
"""Smart Data Models dataModel.Alert `severity` enum."""


@dataclass(frozen=True)
class LevelPolicy:
    """How one level is announced, in CAP and in the Alert entity."""

    severity: str
    """CAP severity."""
    urgency: str
    """CAP urgency."""
    alert_severity: str
    """Smart Data Models Alert severity."""
    certainty: str = "Observed"
    response: str = "Monitor"
    """CAP responseType."""
    instruction: str = ""

    def __post_init__(self) -> None:
        for value, allowed, what in ((self.severity, SEVERITIES, "severity"),
                                     (self.urgency, URGENCIES, "urgency"),
                                     (self.certainty, CERTAINTIES, "certainty"),
                                     (self.response, RESPONSE_TYPES, "responseType"),
                                     (self.alert_severity, ALERT_SEVERITIES, "Alert severity")):
            if value not in allowed:
                raise ValueError(f"{what} must be one of {sorted(allowed)}, not {value!r}")


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


FLOOD_POLICIES: Mapping[str, LevelPolicy] = _frozen({
    "advisory": LevelPolicy("Minor", "Expected", "low", response="Monitor",
                            instruction="Keep away from river banks and follow updates."),
    "watch": LevelPolicy("Moderate", "Expected", "medium", response="Prepare",
                         instruction="Move vehicles and valuables away from low-lying ground "
                                     "and be ready to act."),
    "warning": LevelPolicy("Severe", "Immediate", "high", response="Prepare",
                           instruction="Flooding is expected near the river: protect property, "
                                       "avoid underpasses and riverside paths."),
    "danger": LevelPolicy("Extreme", "Immediate", "critical", response="Avoid",
                          instruction="Keep out of flooded areas and follow the instructions of "
                                      "the emergency services."),
})
HEAT_POLICIES: Mapping[str, LevelPolicy] = _frozen({
    "caution": LevelPolicy("Minor", "Expected", "low"),
    "extremeCaution": LevelPolicy("Moderate", "Expected", "medium", response="Prepare",
                                  instruction="Drink water, rest in the shade, check on older "
                                              "neighbours."),
    "danger": LevelPolicy("Severe", "Immediate", "high", response="Prepare",
                          instruction="Avoid strenuous activity outdoors, stay in cool places, "
                                      "drink water, check on people at risk."),
    "extremeDanger": LevelPolicy("Extreme", "Immediate", "critical", response="Avoid",
                                 instruction="Stay indoors in a cool place; call the emergency "
                                             "number for anyone confused or not sweating."),
})
NWS_HEAT_LEVELS = Levels(("caution", "extremeCaution", "danger", "extremeDanger"),
                         tuple(round(celsius(f), 2) for f in (80.0, 90.0, 103.0, 125.0)))
"""NWS heat index categories in °C (26.67, 32.22, 39.44, 51.67)."""


def _check_policies(levels: Levels, policies: Mapping[str, LevelPolicy], where: str) -> None:
    missing = [name for name in levels.names if name not in policies]
    if missing:
        raise ValueError(f"{where}: no announcement policy for level(s) {missing}")


@dataclass(frozen=True)
class FloodSettings:
    gauges: Mapping[str, Levels] = field(default_factory=dict)
    """Per gauge entity id: the water heights (metres, the gauge's datum) where each named
    level (advisory, watch, warning, danger) begins."""
    default_levels: Levels | None = None
    """For gauges not listed; None: such gauges get levels only from their own entity."""
    entity_levels: bool = True
    """A FloodMonitoring entity's own `alertLevel` (→ warning) and `dangerLevel` (→ danger)
    apply to a gauge the city has not configured."""
    deadband_m: float = 0.05
    """A level is left only once the water is this far below its threshold."""
    raise_after_minutes: float = 0.0
    """A rise is announced at the first reading that shows it (a flood warning must not wait)."""
    lower_after_minutes: float = 30.0
    """The water must stay below the deadband this long before the level goes down."""
    rate_window_minutes: float = 60.0
    """Readings this recent estimate the rate of rise (an hour: the rate a hydrograph shows
    now, not the average of a whole rise and fall)."""
    rate_min_readings: int = 3
    rate_max_readings: int = 24
    """Bounds the Theil–Sen cost (n(n−1)/2 slopes) and memory per gauge."""
    policies: Mapping[str, LevelPolicy] = field(default_factory=lambda: FLOOD_POLICIES)
    areas: Mapping[str, Area] = field(default_factory=dict)
    """Per gauge entity id: the area its warnings name; else a circle around the gauge."""
    area_radius_km: float = 1.0
    max_gauges: int = 100_000
    """Bound on gauges kept in memory (least recently heard from forgotten first)."""

    def __post_init__(self) -> None:
        for gauge, levels in self.gauges.items():
            _check_policies(levels, self.policies, f"gauge {gauge}")
        if self.default_levels is not None:
            _check_policies(self.default_levels, self.policies, "default flood levels")
        if self.entity_levels:
            _check_policies(Levels(("warning", "danger"), (0.0, 1.0)), self.policies,
                            "FloodMonitoring levels")
        if not 2 <= self.rate_min_readings <= self.rate_max_readings:
            raise ValueError("need 2 <= rate_min_readings <= rate_max_readings")


@dataclass(frozen=True)
class HeatSettings:
    metric: Literal["heatIndex", "temperature"] = "heatIndex"
    """What the levels are thresholds of: the NWS heat index, or the air temperature alone
    (as cities whose heat warnings are defined on temperature use)."""
    levels: Levels = NWS_HEAT_LEVELS
    """°C where each level begins."""
    warn_from: str = "danger"
    """The lowest level that is a public warning; lower ones are only written as `heatRisk`."""
    deadband_c: float = 1.0
    raise_after_minutes: float = 120.0
    """The value must stay at a level this long before it is announced (NWS heat products
    require the criteria to persist)."""
    lower_after_minutes: float = 60.0
    max_gap_minutes: float = 90.0
    """A longer silence between readings restarts that clock."""
    policies: Mapping[str, LevelPolicy] = field(default_factory=lambda: HEAT_POLICIES)
    areas: Mapping[str, Area] = field(default_factory=dict)
    area_radius_km: float = 5.0
    max_stations: int = 100_000

    def __post_init__(self) -> None:
        if self.warn_from not in self.levels.names:
            raise ValueError(f"warn_from {self.warn_from!r} is not one of {self.levels.names}")
        _check_policies(self.warning_levels(), self.policies, "heat levels")

    def warning_levels(self) -> Levels:
        start = self.levels.names.index(self.warn_from)
        return Levels(self.levels.names[start:], self.levels.thresholds[start:])


@dataclass(frozen=True)
class WarningSettings:
    """Who issues the CAP messages, and how long they stay valid."""

    sender: str = "warnings@madina.invalid"
    """CAP sender: globally unique, e.g. an address at the city's domain (no spaces/commas)."""
    sender_name: str = "Madina"
    identifier_prefix: str = "madina"
    """Starts every CAP identifier and Alert entity id; letters, digits and '-' only."""
    status: str = "Actual"
    scope: str = "Public"
    language: str = "en-US"
    validity_minutes: float = 360.0
    """A message expires this long after it is sent ..."""
    renew_minutes: float = 180.0
    """... and an Update renews an active warning this often, so it lapses only when its
    source falls silent."""
    cancel_validity_minutes: float = 60.0
    """How long a Cancel itself stays in the feed."""
    web: str = ""
    """A page with more information (CAP `web`), optional."""
    max_messages_per_warning: int = 100
    """Bound on the messages one warning keeps in memory for `references`."""

    def __post_init__(self) -> None:
        if not self.identifier_prefix or not all(
            c.isascii() and (c.isalnum() or c == "-") for c in self.identifier_prefix
        ):
            raise ValueError("identifier_prefix takes ASCII letters, digits and '-' only")
        if not 0 < self.renew_minutes < self.validity_minutes:
            raise ValueError("renew_minutes must be shorter than validity_minutes")


@dataclass(frozen=True)
class SafetySettings:
    flood: FloodSettings = field(default_factory=FloodSettings)
    heat: HeatSettings = field(default_factory=HeatSettings)
    warnings: WarningSettings = field(default_factory=WarningSettings)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SafetySettings:
        """From plain data, e.g. the `[safety]` table of a TOML file:

        ```toml
        [flood.gauges."urn:ngsi-ld:WaterObserved:vantaa-1"]
        advisory = 1.2
        warning = 1.8
        danger = 2.4
        [flood.areas."urn:ngsi-ld:WaterObserved:vantaa-1"]
        description = "Vantaa river, Oulunkylä"
        polygons = [[[60.22, 24.96], [60.23, 24.97], [60.22, 24.98], [60.22, 24.96]]]
        [heat]
        metric = "temperature"
        levels = { danger = 27.0, extremeDanger = 30.0 }
        warn_from = "danger"
        ```
        Unknown keys are refused (a misspelt setting must not be silently ignored)."""
        return from_mapping(cls, data, {
            "flood": _flood, "heat": _heat,
            "warnings": lambda table: from_mapping(WarningSettings, table),
        })

    @classmethod
    def from_toml(cls, text: str) -> SafetySettings:
        return cls.from_dict(tomllib.loads(text))


def levels_from(mapping: Mapping[str, float]) -> Levels:
    """{"advisory": 1.2, "warning": 1.8} → Levels ordered by threshold."""
    ordered = sorted(mapping.items(), key=lambda item: item[1])
    return Levels(tuple(name for name, _ in ordered), tuple(float(v) for _, v in ordered))


def area_from(data: Mapping[str, Any]) -> Area:
    return from_mapping(Area, data, {
        "polygons": lambda rings: tuple(tuple((float(lat), float(lon)) for lat, lon in ring)
                                        for ring in rings),
        "circles": lambda circles: tuple((float(lat), float(lon), float(r))
                                         for lat, lon, r in circles),
        "geocodes": lambda pairs: tuple((str(name), str(value)) for name, value in pairs),
    })


def _policies(defaults: Mapping[str, LevelPolicy]) -> Any:
    """A table of policies merged over `defaults` (a level named there keeps the rest of its
    default policy)."""
    def convert(data: Mapping[str, Any]) -> Mapping[str, LevelPolicy]:
        merged = dict(defaults)
        for name, policy in data.items():
            if not isinstance(policy, Mapping):
                raise ValueError(f"policy {name}: expected a table")
            base = vars(defaults[name]) if name in defaults else {}
            merged[name] = from_mapping(LevelPolicy, {**base, **policy})
        return _frozen(merged)
    return convert


def _per_source(convert: Any) -> Any:
    return lambda table: _frozen({source: convert(item) for source, item in table.items()})


def _flood(data: Mapping[str, Any]) -> FloodSettings:
    return from_mapping(FloodSettings, data, {
        "gauges": _per_source(levels_from), "default_levels": levels_from,
        "areas": _per_source(area_from), "policies": _policies(FLOOD_POLICIES),
    })


def _heat(data: Mapping[str, Any]) -> HeatSettings:
    return from_mapping(HeatSettings, data, {
        "levels": levels_from, "areas": _per_source(area_from),
        "policies": _policies(HEAT_POLICIES),
    })
