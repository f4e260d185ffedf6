"""City configuration: standards' defaults, overrides from a mapping or TOML, refusals."""

from __future__ import annotations

import tomllib

import pytest

from madina.domains.environment import eaqi, epa_aqi
from madina.domains.environment.settings import AirQualitySettings, NoiseSettings


def test_defaults_are_the_standards() -> None:
    settings = AirQualitySettings()
    assert settings.breakpoints == epa_aqi.BREAKPOINTS
    assert settings.european_bands == eaqi.BANDS["2024"]
    assert (settings.min_hours_8h, settings.min_hours_24h) == (6, 18)
    assert settings.molar_volume == 24.45
    noise = NoiseSettings()
    assert (noise.day_start_hour, noise.evening_start_hour, noise.night_start_hour) == (7, 19, 23)
    assert (noise.evening_penalty_db, noise.night_penalty_db) == (5.0, 10.0)


def test_overrides_extend_the_defaults() -> None:
    settings = AirQualitySettings.from_mapping({
        "european_bands": "2021",
        "us_pm_averaging": "24h",
        "attribute_names": {"PM2_5": "pm25"},
        "breakpoints": {"no2_1h": [[0, 50, 0, 50], [51, 2049, 51, 500]]},
        "health_advice": {"co": ["", "", "a", "b", "c", "d"]},
        "alert_severity": {"hazardous": "high"},
    })
    assert settings.european_bands == eaqi.BANDS["2021"]
    assert settings.european_band_name == "2021"
    assert settings.us_pm_averaging == "24h"
    assert settings.attribute_names["PM2_5"] == "pm25"
    assert settings.attribute_names["pm25"] == "pm25"
    assert settings.breakpoints["no2_1h"] == ((0, 50, 0, 50), (51, 2049, 51, 500))
    assert settings.breakpoints["pm25_24h"] == epa_aqi.BREAKPOINTS["pm25_24h"]
    assert settings.health_advice["co"][2] == "a"
    assert settings.alert_severity["hazardous"] == "high"
    assert settings.alert_severity["unhealthy"] == "medium"


def test_custom_european_bands() -> None:
    settings = AirQualitySettings.from_mapping({"european_bands": {"pm25": [1, 2, 3, 4, 5]}})
    assert settings.european_bands == {"pm25": (1, 2, 3, 4, 5)}
    assert settings.european_band_name == "custom"


@pytest.mark.parametrize("data", [
    {"molar_volume": 0},
    {"us_pm_averaging": "hourly"},
    {"us_o3_averaging": "1h"},
    {"european_pm_averaging": "8h"},
    {"european_bands": "2019"},
    {"european_bands": {"pm25": [5, 4, 3, 2, 1]}},
    {"european_bands": {"co": [1, 2, 3, 4, 5]}},
    {"min_hours_8h": 9},
    {"min_hours_24h": 0},
    {"breakpoints": {"pm25_24h": [[0, 9, 0, 50], [5, 35, 51, 100]]}},
    {"breakpoints": {"pm25_1h": [[0, 9, 0, 50]]}},
    {"health_advice": {"co": ["too", "few"]}},
    {"attribute_names": {"benzene": "c6h6"}},
    {"alert_clear_below": 200},
    {"alert_severity": {"dreadful": "high"}},
    {"pm_averaging": "24h"},  # misspelt key
])
def test_bad_air_quality_settings_are_refused(data: dict) -> None:
    with pytest.raises(ValueError):
        AirQualitySettings.from_mapping(data)


@pytest.mark.parametrize("data", [
    {"timezone": "Mars/Olympus"},
    {"day_start_hour": 24},
    {"evening_start_hour": 7},  # no day period
    {"noise_source": "fireworks"},
    {"min_period_coverage": 0},
    {"default_interval_s": 0},
    {"days_kept": 0},
    {"lden": 53},
])
def test_bad_noise_settings_are_refused(data: dict) -> None:
    with pytest.raises(ValueError):
        NoiseSettings.from_mapping(data)


def test_noise_guidelines_for_a_new_source() -> None:
    settings = NoiseSettings.from_mapping({
        "noise_source": "industry", "who_guidelines": {"industry": {"Lden": 55, "Lnight": 50}},
    })
    assert settings.who_guidelines["industry"] == {"Lden": 55, "Lnight": 50}
    assert "roadTraffic" in settings.who_guidelines


def test_loading_from_toml() -> None:
    document = tomllib.loads(
        '[domains.environment.air_quality]\n'
        'european_bands = "2021"\n'
        'molar_volume = 24.04\n'
        '[domains.environment.noise]\n'
        'timezone = "Europe/Helsinki"\n'
        'night_start_hour = 22\n'
    )
    tables = document["domains"]["environment"]
    air = AirQualitySettings.from_mapping(tables["air_quality"])
    noise = NoiseSettings.from_mapping(tables["noise"])
    assert (air.european_band_name, air.molar_volume) == ("2021", 24.04)
    assert (noise.timezone, noise.night_start_hour) == ("Europe/Helsinki", 22)


def test_empty_tables_mean_defaults() -> None:
    assert AirQualitySettings.from_mapping({}) == AirQualitySettings()
    assert NoiseSettings.from_mapping({}) == NoiseSettings()
