"""The energy domain's city configuration.

```toml
[domains.energy]
timezone = "Europe/Helsinki"
region = "EU27"                # emission factor region unless a building says otherwise
meters = { "urn:ngsi-ld:ACMeasurement:school-7-main" = "urn:ngsi-ld:Building:school-7" }

[domains.energy.buildings."urn:ngsi-ld:Building:school-7"]
floor_area_m2 = 4200
district = "Kallio"
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from madina.domains.settings_loading import from_mapping

DEFAULT_SEVERITY_BANDS: tuple[tuple[float, str], ...] = ((3.0, "high"), (2.0, "medium"))
"""Use at or above this multiple of the usual → that Alert severity; below all: "low"."""


@dataclass(frozen=True)
class BuildingSettings:
    """What the city knows about a building that its meters do not say."""

    floor_area_m2: float | None = None
    """Gross floor area, for EUI (no EUI without it)."""
    district: str | None = None
    """District for aggregation; unset: the meter's address.district, if any."""
    region: str | None = None
    """Emission factor region; unset: `EnergySettings.region`."""


@dataclass(frozen=True)
class EnergySettings:
    """Energy domain settings; see the module docstring for the TOML form."""

    timezone: str = "UTC"
    """IANA zone: hour-of-week slots, days and months are local."""
    region: str = "EU27"
    factors_path: str | None = None
    """A city's own emission factor CSV (same columns as the shipped one); unset: shipped."""
    buildings: Mapping[str, BuildingSettings] = field(default_factory=dict)
    meters: Mapping[str, str] = field(default_factory=dict)
    """Meter entity id → Building id, for meters without a refBuilding relationship."""
    gas_kwh_per_m3: float | None = None
    """Calorific value to count volume-metered gas in kWh totals and EUI (the gas supplier's
    declared gross CV); unset: such gas counts in emissions (m³ factors) but not in kWh."""
    demand_interval_minutes: int = 15
    """Peak demand interval; must divide an hour."""
    close_lag_hours: float = 1.0
    """An hour closes when every meter of the building has passed it, or once any meter is
    this far past it (a meter went silent)."""
    max_gap_hours: float = 3.0
    """Readings further apart than this are not spread over the gap (it would invent a flat
    profile); the consumption in such a gap is dropped from hourly figures."""
    stale_meter_hours: float = 6.0
    """A meter silent this long no longer holds its building's hours open."""
    eui_min_days: int = 30
    """Days of data before an annualised EUI is reported."""
    baseline_weeks: int = 6
    baseline_min_weeks: int = 3
    anomaly_z_threshold: float = 3.5
    anomaly_min_ratio: float = 1.5
    """An unusual hour must also be at least this multiple of the usual (or, for low use,
    at most its inverse): a z-score on a very steady load flags trivial changes."""
    anomaly_min_kwh: float = 1.0
    """And differ from the usual by at least this much energy."""
    anomaly_mad_floor_kwh: float = 0.1
    detect_low: bool = False
    """Also alert on unusually low use (a stopped plant, a meter fault)."""
    anomaly_persistence: int = 2
    """Consecutive unusual hours before the Alert."""
    anomaly_clear_hours: int = 2
    """Consecutive usual hours before it clears."""
    severity_bands: tuple[tuple[float, str], ...] = DEFAULT_SEVERITY_BANDS
    max_meters: int = 200_000
    max_buildings: int = 100_000

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        if self.demand_interval_minutes <= 0 or 60 % self.demand_interval_minutes:
            raise ValueError("demand_interval_minutes must divide 60")
        if not 1 <= self.baseline_min_weeks <= self.baseline_weeks:
            raise ValueError("need 1 <= baseline_min_weeks <= baseline_weeks")
        if self.anomaly_persistence < 1 or self.anomaly_clear_hours < 1:
            raise ValueError("anomaly_persistence and anomaly_clear_hours must be at least 1")
        if self.anomaly_min_ratio < 1:
            raise ValueError("anomaly_min_ratio must be at least 1")
        if self.gas_kwh_per_m3 is not None and self.gas_kwh_per_m3 <= 0:
            raise ValueError("gas_kwh_per_m3 must be positive")
        bounds = [bound for bound, _ in self.severity_bands]
        if bounds != sorted(bounds, reverse=True):
            raise ValueError("severity_bands must descend")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def building(self, building_id: str) -> BuildingSettings:
        return self.buildings.get(building_id) or _NO_BUILDING_SETTINGS

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EnergySettings:
        """Settings from a parsed TOML/JSON table; unknown keys are errors."""
        return from_mapping(
            cls,
            data,
            {
                "buildings": lambda raw: {
                    str(key): from_mapping(BuildingSettings, value) for key, value in raw.items()
                },
                "meters": lambda raw: {str(key): str(value) for key, value in raw.items()},
                "severity_bands": lambda raw: tuple((float(k), str(v)) for k, v in raw),
            },
        )


_NO_BUILDING_SETTINGS = BuildingSettings()
