"""The environment domain's city configuration: every threshold, table and choice the services
use, with the standards' values as defaults, loaded from a mapping (a TOML table) by
`AirQualitySettings.from_mapping` / `NoiseSettings.from_mapping`. A city sets only what differs:

```toml
[domains.environment.air_quality]
european_bands = "2021"          # the 2021-2023 EEA bands, or a table {pm25 = [10, 20, ...], ...}
us_pm_averaging = "24h"          # "nowcast" (default) or "24h"
molar_volume = 24.04             # µg/m³ <-> ppb at 20 °C (EU convention) instead of 25 °C

[domains.environment.noise]
timezone = "Europe/Helsinki"
evening_start_hour = 19
night_start_hour = 22            # END: the evening may be shortened by one or two hours
```

Unknown keys and bad values raise ValueError at load time, not on the first observation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from madina.domains.environment import eaqi, epa_aqi, noise, units, who_guidelines
from madina.domains.settings_loading import from_mapping

# Attribute names (Smart Data Models' current lower-case terms and the older formula spellings)
# → pollutant.
DEFAULT_ATTRIBUTE_NAMES: dict[str, str] = {
    "pm25": "pm25", "PM2.5": "pm25", "PM25": "pm25",
    "pm10": "pm10", "PM10": "pm10",
    "o3": "o3", "O3": "o3",
    "no2": "no2", "NO2": "no2",
    "so2": "so2", "SO2": "so2",
    "co": "co", "CO": "co",
}

# The unit assumed when an attribute has no unitCode (SDM makes it mandatory; devices forget).
DEFAULT_UNIT_CODES: dict[str, str] = {
    pollutant: units.MICROGRAMS_PER_CUBIC_METRE for pollutant in units.CANONICAL_UNIT
}

# Alert severity (Smart Data Models dataModel.Alert) per US AQI category.
DEFAULT_ALERT_SEVERITY: dict[str, str] = {
    "moderate": "informational",
    "unhealthyForSensitiveGroups": "low",
    "unhealthy": "medium",
    "veryUnhealthy": "high",
    "hazardous": "critical",
}

_US_PM_AVERAGING = ("nowcast", "24h")
_US_O3_AVERAGING = ("8h", "nowcast")
_EUROPEAN_PM_AVERAGING = ("24h", "1h")


@dataclass(frozen=True)
class AirQualitySettings:
    """How AirQualityObserved entities become indices (defaults: the standards' own values)."""

    attribute_names: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_ATTRIBUTE_NAMES))
    default_unit_codes: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_UNIT_CODES))
    molar_volume: float = units.DEFAULT_MOLAR_VOLUME  # L/mol; 24.45 at 25 °C, 24.04 at 20 °C
    us_pm_averaging: str = "nowcast"  # PM sub-index from the NowCast or the 24-hour mean
    us_o3_averaging: str = "8h"  # 8-hour running mean or the O3 NowCast
    min_hours_8h: int = 6
    min_hours_24h: int = 18
    nowcast_recent_required: int = 2  # of the 3 most recent hours
    breakpoints: Mapping[str, tuple[epa_aqi.Band, ...]] = field(
        default_factory=lambda: dict(epa_aqi.BREAKPOINTS))
    health_advice: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(epa_aqi.CAUTIONARY_STATEMENTS))
    european_bands: Mapping[str, tuple[float, ...]] = field(
        default_factory=lambda: dict(eaqi.BANDS["2024"]))
    european_band_name: str = "2024"  # written in the index's referenceSpecification
    european_pm_averaging: str = "24h"  # the EEA's 24-hour running mean, or hourly
    european_plausible_maximum: Mapping[str, float] = field(
        default_factory=lambda: dict(eaqi.PLAUSIBLE_MAXIMUM))
    who_guidelines: Mapping[str, float] = field(
        default_factory=lambda: dict(who_guidelines.SHORT_TERM_GUIDELINES))
    observed_at_is_period_end: bool = False  # stations stamping hourly means at the hour's end
    future_tolerance_s: int = 3600  # observations further ahead of `now` are refused
    max_stations: int = 100_000  # stations kept in memory, least recently updated dropped first
    alert_raise_aqi: int = 101  # raise an air-quality Alert at or above this US AQI
    alert_clear_below: int = 91  # … clear it once the AQI stays below this …
    alert_clear_after_s: int = 3600  # … for this long (hysteresis: no flicker at the threshold)
    alert_severity: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_ALERT_SEVERITY))

    def __post_init__(self) -> None:
        _require(self.us_pm_averaging in _US_PM_AVERAGING,
                 f"us_pm_averaging must be one of {_US_PM_AVERAGING}")
        _require(self.us_o3_averaging in _US_O3_AVERAGING,
                 f"us_o3_averaging must be one of {_US_O3_AVERAGING}")
        _require(self.european_pm_averaging in _EUROPEAN_PM_AVERAGING,
                 f"european_pm_averaging must be one of {_EUROPEAN_PM_AVERAGING}")
        _require(math.isfinite(self.molar_volume) and self.molar_volume > 0,
                 "molar_volume must be a positive number")
        _require(1 <= self.min_hours_8h <= 8, "min_hours_8h must be within 1..8")
        _require(1 <= self.min_hours_24h <= 24, "min_hours_24h must be within 1..24")
        _require(1 <= self.nowcast_recent_required <= 3,
                 "nowcast_recent_required must be within 1..3")
        _require(self.max_stations >= 1, "max_stations must be at least 1")
        _require(self.future_tolerance_s >= 0, "future_tolerance_s must not be negative")
        _require(self.alert_clear_below <= self.alert_raise_aqi,
                 "alert_clear_below must not be above alert_raise_aqi")
        _require(self.alert_clear_after_s >= 0, "alert_clear_after_s must not be negative")
        for name, pollutant in self.attribute_names.items():
            _require(pollutant in units.CANONICAL_UNIT,
                     f"attribute {name!r} maps to unknown pollutant {pollutant!r}")
        for pollutant in units.CANONICAL_UNIT:
            _require(pollutant in self.default_unit_codes,
                     f"default_unit_codes lacks {pollutant!r}")
        _require(set(self.breakpoints) == set(epa_aqi.BREAKPOINTS),
                 f"breakpoints must give exactly {sorted(epa_aqi.BREAKPOINTS)}")
        for metric, bands in self.breakpoints.items():
            _check_bands(metric, bands)
        for pollutant in epa_aqi.ADVICE_GROUP.values():
            statements = self.health_advice.get(pollutant, ())
            _require(len(statements) == len(epa_aqi.CATEGORIES),
                     f"health_advice[{pollutant!r}] needs one statement per AQI category")
        for pollutant, bounds in self.european_bands.items():
            _require(pollutant in eaqi.POLLUTANTS, f"unknown European index pollutant {pollutant}")
            _require(len(bounds) == len(eaqi.LEVELS) - 1 and list(bounds) == sorted(bounds),
                     f"european_bands[{pollutant!r}] needs 5 ascending upper bounds")
        _require(set(self.alert_severity) <= {c.name for c in epa_aqi.CATEGORIES},
                 "alert_severity keys must be US AQI category names")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AirQualitySettings:
        """Settings from a parsed TOML/JSON table; unknown keys are errors. Tables (attribute
        names, unit codes, breakpoints, advice) extend the defaults instead of replacing them."""
        data = dict(data)
        bands = data.get("european_bands")
        if isinstance(bands, str):
            _require(bands in eaqi.BANDS, f"european_bands must be one of {list(eaqi.BANDS)}")
            data.setdefault("european_band_name", bands)
        elif bands is not None:
            data.setdefault("european_band_name", "custom")
        return from_mapping(cls, data, {
            "attribute_names": lambda raw: {**DEFAULT_ATTRIBUTE_NAMES, **raw},
            "default_unit_codes": lambda raw: {**DEFAULT_UNIT_CODES, **raw},
            "breakpoints": lambda raw: {
                **epa_aqi.BREAKPOINTS,
                **{metric: tuple(tuple(band) for band in table) for metric, table in raw.items()},
            },
            "health_advice": lambda raw: {
                **epa_aqi.CAUTIONARY_STATEMENTS,
                **{group: tuple(statements) for group, statements in raw.items()},
            },
            "european_bands": lambda raw: (
                dict(eaqi.BANDS[raw]) if isinstance(raw, str)
                else {pollutant: tuple(bounds) for pollutant, bounds in raw.items()}),
            "european_plausible_maximum": lambda raw: {**eaqi.PLAUSIBLE_MAXIMUM, **raw},
            "who_guidelines": lambda raw: {**who_guidelines.SHORT_TERM_GUIDELINES, **raw},
            "alert_severity": lambda raw: {**DEFAULT_ALERT_SEVERITY, **raw},
        })


@dataclass(frozen=True)
class NoiseSettings:
    """How NoiseLevelObserved entities become L_den/L_night (defaults: Directive 2002/49/EC
    periods and penalties, WHO 2018 road-traffic guideline levels)."""

    attribute: str = "LAeq"  # the A-weighted equivalent level over the observation interval
    timezone: str = "UTC"  # periods are local clock hours: set the city's zone
    day_start_hour: int = 7
    evening_start_hour: int = 19
    night_start_hour: int = 23
    evening_penalty_db: float = 5.0
    night_penalty_db: float = 10.0
    noise_source: str = "roadTraffic"  # which WHO 2018 guideline levels apply
    who_guidelines: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {k: dict(v) for k, v in noise.WHO_NOISE_GUIDELINES.items()})
    default_interval_s: int = 3600  # interval of an LAeq that only has observedAt (its end)
    min_period_coverage: float = 0.75  # share of a period measured before its level is given
    days_kept: int = 3  # assessment days held per station for late data
    max_stations: int = 100_000

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        starts = (self.day_start_hour, self.evening_start_hour, self.night_start_hour)
        _require(all(0 <= hour <= 23 for hour in starts), "period starts must be hours 0..23")
        lengths = noise.period_lengths(*starts)
        _require(all(length > 0 for length in lengths) and sum(lengths) == 24,
                 "day, evening and night must follow each other and fill 24 hours")
        _require(self.noise_source in self.who_guidelines,
                 f"no WHO guideline levels for noise source {self.noise_source!r}")
        _require(self.default_interval_s > 0, "default_interval_s must be positive")
        _require(0.0 < self.min_period_coverage <= 1.0, "min_period_coverage must be in (0, 1]")
        _require(self.days_kept >= 1, "days_kept must be at least 1")
        _require(self.max_stations >= 1, "max_stations must be at least 1")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> NoiseSettings:
        """Settings from a parsed TOML/JSON table; unknown keys are errors. Guideline levels per
        noise source extend the WHO 2018 table."""
        return from_mapping(cls, data, {
            "who_guidelines": lambda raw: {
                **noise.WHO_NOISE_GUIDELINES,
                **{source: dict(levels) for source, levels in raw.items()},
            },
        })


def _check_bands(metric: str, bands: tuple[epa_aqi.Band, ...]) -> None:
    _require(len(bands) > 0, f"breakpoints[{metric!r}] is empty")
    previous_top = -math.inf
    for band in bands:
        _require(len(band) == 4, f"breakpoints[{metric!r}] bands are (C_lo, C_hi, I_lo, I_hi)")
        c_lo, c_hi, i_lo, i_hi = band
        _require(previous_top < c_lo < c_hi and i_lo < i_hi,
                 f"breakpoints[{metric!r}] must ascend without overlap")
        previous_top = c_hi


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
