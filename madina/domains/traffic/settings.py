"""The traffic domain's city configuration: every threshold a city may want to tune, with defaults.

Loaded from a mapping (a `[domains.traffic]` TOML table, say) by `TrafficSettings.from_mapping`:

```toml
[domains.traffic]
timezone = "Europe/Helsinki"
effective_vehicle_length_m = 6.5
free_flow_prior_kmh = 50
congestion = { enter_speed_ratio = 0.6, exit_speed_ratio = 0.7 }
incidents = { z_threshold = 3.5, persistence = 2 }
reliability_periods = [
  { name = "am_peak", start = "07:00", end = "09:00", weekdays = [0, 1, 2, 3, 4] },
]

[domains.traffic.segments."urn:ngsi-ld:RoadSegment:mannerheimintie-12"]
free_flow_prior_kmh = 40
downstream = "urn:ngsi-ld:RoadSegment:mannerheimintie-13"
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from madina.domains.settings_loading import from_mapping
from madina.domains.traffic.congestion import CongestionRule
from madina.domains.traffic.incidents import IncidentRule
from madina.domains.traffic.level_of_service import HCM7_FREEWAY_BANDS
from madina.domains.traffic.reliability import WEEKDAYS, ReliabilityPeriod

DEFAULT_PERIODS = (
    ReliabilityPeriod("am_peak", time(7), time(9), WEEKDAYS),
    ReliabilityPeriod("pm_peak", time(16), time(18), WEEKDAYS),
)
"""Weekday morning and afternoon peaks, the periods the FHWA reliability reports use by default."""

DEFAULT_SEVERITY_BANDS: tuple[tuple[float, str], ...] = (
    (0.2, "critical"),
    (0.4, "high"),
    (0.6, "medium"),
)
"""Speed (or flow) over its normal value below each bound → that Alert severity; above all: low."""


@dataclass(frozen=True)
class SegmentSettings:
    """What the city knows about one segment (keyed by RoadSegment id, or by the
    TrafficFlowObserved id of a detector that names no road segment)."""

    free_flow_prior_kmh: float | None = None
    """Prior for the learned free-flow speed (the posted limit is a fair start); None: default."""
    downstream: str | None = None
    """The next segment downstream, whose occupancy the California #7 test compares with."""


@dataclass(frozen=True)
class TrafficSettings:
    """Traffic domain settings; see the module docstring for the TOML form."""

    timezone: str = "UTC"
    """IANA zone of the city: reliability periods are local times."""
    default_period_s: float = 300.0
    """Observation period assumed when an entity gives neither dateObservedFrom/To nor an
    interval in dateObserved (Smart Data Models: `intensity` is the count in the period)."""
    intensity_is_hourly: bool = False
    """True for feeds that put a rate (veh/h) in `intensity` instead of the model's count."""
    effective_vehicle_length_m: float = 6.5
    """g in k = o / g when the entity has no averageVehicleLength (typical 6-7 m)."""
    detection_zone_length_m: float = 1.8
    """Added to averageVehicleLength to get g (a 6 ft loop)."""
    min_speed_for_flow_density_kmh: float = 10.0
    """Below this speed density comes from occupancy, as q / v grows unstable near standstill."""
    los_bands: tuple[tuple[str, float], ...] = HCM7_FREEWAY_BANDS
    """Level-of-service bands (letter, upper density in veh/mi/ln); default HCM 7 Exhibit 12-15."""
    free_flow_prior_kmh: float = 50.0
    """Free-flow speed prior for segments with none configured (an urban 50 km/h street)."""
    free_flow_prior_weight: float = 20.0
    """How many quiet intervals the prior counts for."""
    free_flow_percentile: float = 85.0
    free_flow_max_occupancy: float = 0.10
    """Intervals up to this occupancy count as quiet (free-flow) intervals."""
    free_flow_samples: int = 500
    """Quiet intervals kept per segment for the percentile."""
    congestion: CongestionRule = field(default_factory=CongestionRule)
    incidents: IncidentRule = field(default_factory=IncidentRule)
    incident_sub_category: str = "trafficJam"
    """Smart Data Models Alert subCategory of detected incidents. Loop data shows a blockage, not
    its cause: "trafficJam" claims no more than that; a city that confirms by camera may prefer
    "carAccident"."""
    severity_bands: tuple[tuple[float, str], ...] = DEFAULT_SEVERITY_BANDS
    neighbour_max_lag_s: float = 360.0
    """The downstream neighbour's interval must end within this of ours to be compared: its lanes
    may not all be in when this segment's interval closes, and then its previous interval stands
    in (one 5-minute period plus a margin)."""
    reliability_periods: tuple[ReliabilityPeriod, ...] = DEFAULT_PERIODS
    reliability_days: int = 20
    """Trailing days the reliability indices cover (a month of weekdays)."""
    reliability_min_samples: int = 10
    reliability_max_samples: int = 2000
    max_segments: int = 100_000
    """Segments kept in memory; the least recently observed are forgotten beyond this."""
    segments: Mapping[str, SegmentSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        if self.default_period_s <= 0 or self.effective_vehicle_length_m <= 0:
            raise ValueError("default_period_s and effective_vehicle_length_m must be positive")
        if self.free_flow_prior_kmh <= 0:
            raise ValueError("free_flow_prior_kmh must be positive")
        uppers = [upper for _, upper in self.los_bands]
        if uppers != sorted(uppers):
            raise ValueError("los_bands must ascend")
        bounds = [bound for bound, _ in self.severity_bands]
        if bounds != sorted(bounds):
            raise ValueError("severity_bands must ascend")
        names = [period.name for period in self.reliability_periods]
        if len(set(names)) != len(names):
            raise ValueError("reliability period names must be unique")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def segment(self, segment_id: str) -> SegmentSettings:
        return self.segments.get(segment_id) or _NO_SEGMENT_SETTINGS

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TrafficSettings:
        """Settings from a parsed TOML/JSON table; unknown keys are errors."""
        return from_mapping(
            cls,
            data,
            {
                "los_bands": lambda raw: tuple((str(k), float(v)) for k, v in raw),
                "severity_bands": lambda raw: tuple((float(k), str(v)) for k, v in raw),
                "congestion": lambda raw: from_mapping(CongestionRule, raw),
                "incidents": _incident_rule,
                "reliability_periods": lambda raw: tuple(_period(item) for item in raw),
                "segments": lambda raw: {
                    str(key): from_mapping(SegmentSettings, value) for key, value in raw.items()
                },
            },
        )


_NO_SEGMENT_SETTINGS = SegmentSettings()


def _incident_rule(raw: Mapping[str, Any]) -> IncidentRule:
    return from_mapping(
        IncidentRule,
        raw,
        {"max_history_gap": lambda minutes: timedelta(minutes=float(minutes))},
    )


def _period(raw: Mapping[str, Any]) -> ReliabilityPeriod:
    return from_mapping(
        ReliabilityPeriod,
        raw,
        {
            "start": time.fromisoformat,
            "end": time.fromisoformat,
            "weekdays": lambda days: frozenset(int(day) for day in days),
        },
    )
