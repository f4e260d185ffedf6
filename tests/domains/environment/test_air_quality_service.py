"""The air-quality service end to end: AirQualityObserved changes in, indices, completeness and
Alert lifecycles out — EPA's worked example through the running averages, out-of-order and
redelivered data, units, bad values, and the alert hysteresis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import madina
from madina.domains.environment.air_quality_service import AirQualityService
from madina.domains.environment.epa_aqi import CAUTIONARY_STATEMENTS
from madina.domains.environment.settings import AirQualitySettings
from madina.domains.writes import Write

T0 = datetime(2026, 6, 1, tzinfo=UTC)
STATION = "urn:ngsi-ld:AirQualityObserved:kallio"
LOCATION = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [24.95, 60.18]}}


def at(hour: float) -> datetime:
    return T0 + timedelta(hours=hour)


def stamp(hour: float) -> str:
    return at(hour).strftime("%Y-%m-%dT%H:%M:%SZ")


def observation(hour: float, station: str = STATION, **measures: tuple[Any, str]) -> dict:
    """An AirQualityObserved entity with `name=(value, unitCode)` measured at `hour`."""
    entity: dict[str, Any] = {"id": station, "type": "AirQualityObserved", "location": LOCATION}
    for name, (value, unit) in measures.items():
        entity[name] = {"type": "Property", "value": value, "observedAt": stamp(hour),
                        "unitCode": unit}
    return entity


def derived(writes: list[Write], entity_id: str = STATION) -> dict[str, Any]:
    [write] = [w for w in writes if w.entity_id == entity_id]
    assert write.entity_type == "AirQualityObserved"
    return write.attributes


def alerts(writes: list[Write]) -> list[Write]:
    return [w for w in writes if w.entity_type == "Alert"]


def value(attributes: dict[str, Any], name: str, sub: str | None = None) -> Any:
    attribute = attributes[name]
    return attribute["value"] if sub is None else attribute[sub]["value"]


def feed(service: AirQualityService, hours: range, **measures: tuple[Any, str]) -> list[Write]:
    writes: list[Write] = []
    for hour in hours:
        writes = service.react(observation(hour, **measures), at(hour))
    return writes


def test_epa_multi_pollutant_example_through_the_running_averages() -> None:
    """EPA's example (O3 0.078 ppm → 126, PM2.5 35.9 µg/m³ → 102, CO 8.4 ppm → 90), sent hourly
    in the units stations use: the 8-hour means and the NowCast reproduce it."""
    service = AirQualityService()
    writes = feed(service, range(12), o3=(78, "61"), pm25=(35.9, "GQ"), co=(8.4, "59"))
    attributes = derived(writes)
    assert value(attributes, "airQualityIndex") == 126
    assert value(attributes, "airQualityIndex", "responsiblePollutant") == "o3"
    assert value(attributes, "airQualityIndex", "subIndices") == {"pm25": 102, "o3": 126, "co": 90}
    assert value(attributes, "airQualityIndex", "averagingPeriods") == {
        "pm25": "nowcast", "o3": "8h", "co": "8h"}
    assert value(attributes, "airQualityIndex", "referenceSpecification") == "EPA-454/B-24-002"
    assert attributes["airQualityIndex"]["observedAt"] == stamp(11)
    assert value(attributes, "airQualityLevel") == "unhealthyForSensitiveGroups"
    assert value(attributes, "airQualityLevel", "color") == "#FF7E00"
    assert value(attributes, "airQualityLevel", "healthAdvice") == CAUTIONARY_STATEMENTS["o3"][2]
    assert value(attributes, "reliability") == 1.0


def test_the_shipped_smart_data_models_example() -> None:
    """Madina's AirQualityObserved example (Smart Data Models' Madrid station: formula names,
    µg/m³, the hour in `dateObserved`): NO2 69 µg/m³ = 36.7 ppb → 36 → 34; SO2 11 µg/m³ =
    4.2 ppb → 6; CO has no 8-hour mean yet."""
    path = Path(madina.__file__).parent / "data" / "examples" / "AirQualityObserved.normalized.json"
    entity = json.loads(path.read_text(encoding="utf-8"))
    service = AirQualityService()
    [write] = service.react(entity, datetime(2016, 3, 15, 12, tzinfo=UTC))
    attributes = write.attributes
    assert write.entity_id == entity["id"]
    assert value(attributes, "airQualityIndex") == 34
    assert value(attributes, "airQualityIndex", "subIndices") == {"no2": 34, "so2": 6}
    assert value(attributes, "airQualityLevel") == "good"
    assert attributes["airQualityIndex"]["observedAt"] == "2016-03-15T11:00:00Z"
    assert attributes["europeanAirQualityLevel"]["levels"]["value"] == {
        "no2": "poor", "so2": "good"}  # 2024 bands: NO2 60–100 µg/m³ is poor


def test_startup_reports_completeness_before_any_index() -> None:
    service = AirQualityService()
    first = derived(service.react(observation(0, pm25=(20.0, "GQ")), at(0)))
    assert "airQualityIndex" not in first  # the NowCast needs 2 of the 3 latest hours
    assert value(first, "reliability") == 0.0
    assert value(first, "reliability", "completeness") == {
        "pm25": {"1h": 1.0, "24h": 0.042, "nowcast": 0.083}}
    second = derived(service.react(observation(1, pm25=(20.0, "GQ")), at(1)))
    assert value(second, "airQualityIndex", "subIndices") == {"pm25": 71}  # 51 + 49/26.3 × 10.9
    assert value(second, "reliability") == 0.167  # 2 of the NowCast's 12 hours


def test_eight_hour_ozone_needs_six_of_eight_hours() -> None:
    service = AirQualityService()
    for hour in (0, 1, 2, 5, 6):
        writes = service.react(observation(hour, o3=(0.060, "59")), at(hour))
    assert "airQualityIndex" not in derived(writes)  # 5 of 8, and 1-hour 0.060 defines nothing
    attributes = derived(service.react(observation(7, o3=(0.060, "59")), at(7)))
    assert value(attributes, "airQualityIndex") == 67
    assert value(attributes, "reliability") == 0.75
    assert value(attributes, "reliability", "completeness")["o3"]["8h"] == 0.75


def test_out_of_order_observations_fill_their_hour() -> None:
    service = AirQualityService()
    for hour in (0, 1, 2, 3, 4, 6, 7):
        service.react(observation(hour, o3=(0.060, "59")), at(hour))
    late = derived(service.react(observation(5, o3=(0.090, "59")), at(7)))
    # mean of seven hours at 0.060 and one at 0.090 = 0.06375 → 0.063: 51 + 49/0.015 × 0.008
    assert value(late, "airQualityIndex") == 77
    assert late["airQualityIndex"]["observedAt"] == stamp(7)  # windows still end at the latest
    assert value(late, "reliability", "completeness")["o3"]["8h"] == 1.0


def test_redelivered_and_unchanged_attributes_count_once() -> None:
    service = AirQualityService()
    service.react(observation(0, o3=(0.060, "59"), pm25=(10.0, "GQ")), at(0))
    assert service.react(observation(0, o3=(0.060, "59"), pm25=(10.0, "GQ")), at(0)) == []
    # a later PM update re-sends the entity with its unchanged O3
    entity = observation(1, pm25=(10.0, "GQ"))
    entity["o3"] = observation(0, o3=(0.060, "59"))["o3"]
    attributes = derived(service.react(entity, at(1)))
    assert value(attributes, "reliability", "completeness")["o3"] == {
        "1h": 0.0, "24h": 0.042, "8h": 0.125}


def test_mass_concentrations_of_gases_are_converted() -> None:
    service = AirQualityService()
    # 153 µg/m³ O3 = 153 × 24.45 / 47.997 = 77.9 ppb → 0.077 ppm → 101 + 49/0.014 × 0.006 = 122
    attributes = derived(feed(service, range(8), o3=(153.0, "GQ")))
    assert value(attributes, "airQualityIndex") == 122
    # and no unitCode means the configured default, µg/m³
    entity = observation(8, o3=(153.0, "GQ"))
    del entity["o3"]["unitCode"]
    assert value(derived(service.react(entity, at(8))), "airQualityIndex") == 122


def test_unreadable_measures_are_skipped_one_by_one() -> None:
    service = AirQualityService()
    entity = observation(0, pm25=("high", "GQ"), pm10=(float("nan"), "GQ"), no2=(True, "61"),
                         co=(1.0, "XYZ"), o3=(0.2, "59"), so2=(10.0, "61"))
    entity["pm10"]["value"] = float("nan")
    entity["so2"]["observedAt"] = "yesterday"
    attributes = derived(service.react(entity, at(0)))
    assert value(attributes, "reliability", "completeness") == {
        "o3": {"1h": 1.0, "24h": 0.042, "8h": 0.125}}
    # the 1-hour O3 of 0.200 ppm alone: 151 + 49/0.039 × 0.035 = 195
    assert value(attributes, "airQualityIndex", "subIndices") == {"o3": 195}


def test_values_overflowing_in_conversion_are_ignored() -> None:
    service = AirQualityService()
    for hour in range(3):  # two hours of infinity would make a NowCast of infinity
        assert service.react(observation(hour, pm25=(1e308, "GP")), at(hour)) == []


def test_a_unit_code_that_is_not_text_means_the_default() -> None:
    service = AirQualityService()
    attributes = derived(service.react(observation(0, no2=(120, ["61"])), at(0)))
    assert value(attributes, "airQualityIndex", "subIndices") == {"no2": 61}  # 120 µg/m³ = 64 ppb


def test_particles_in_ppb_and_relationships_are_ignored() -> None:
    service = AirQualityService()
    entity = observation(0, pm25=(10.0, "61"))
    entity["pm10"] = {"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}
    assert service.react(entity, at(0)) == []


def test_observations_from_the_future_are_refused() -> None:
    service = AirQualityService()
    assert service.react(observation(3, no2=(50, "61")), at(1)) == []
    assert service.react(observation(2, no2=(50, "61")), at(1)) != []  # within the hour allowed


def test_instants_out_of_datetime_range_are_skipped() -> None:
    service = AirQualityService()
    entity = observation(0, no2=(50, "61"), o3=(0.05, "59"))
    entity["no2"]["observedAt"] = "0001-01-01T00:00:00+14:00"
    attributes = derived(service.react(entity, at(0)))
    assert set(value(attributes, "reliability", "completeness")) == {"o3"}


def test_entity_date_observed_stands_in_for_observed_at() -> None:
    service = AirQualityService()
    entity = observation(0, no2=(120, "61"))
    del entity["no2"]["observedAt"]
    entity["dateObserved"] = {"type": "Property",
                              "value": f"{stamp(11)}/{stamp(12)}"}  # an hourly interval
    attributes = derived(service.react(entity, at(12)))
    assert attributes["airQualityIndex"]["observedAt"] == stamp(11)


def test_hour_end_stamps_can_be_configured() -> None:
    def eight_hour_completeness(settings: AirQualitySettings) -> float:
        service = AirQualityService(settings)
        service.react(observation(1, o3=(0.060, "59")), at(1))
        attributes = derived(service.react(observation(1.5, o3=(0.060, "59")), at(2)))
        return value(attributes, "reliability", "completeness")["o3"]["8h"]

    # stamped at the hour's end, 01:00 closes the hour 00–01 and 01:30 is in the hour 01–02
    assert eight_hour_completeness(AirQualitySettings(observed_at_is_period_end=True)) == 0.25
    # stamped anywhere inside their hour, both are in the hour 01–02
    assert eight_hour_completeness(AirQualitySettings()) == 0.125


def test_multi_attributes_are_read_through_their_default_instance() -> None:
    service = AirQualityService()
    entity = observation(0)
    entity["no2"] = [
        {"type": "Property", "value": 900, "observedAt": stamp(0), "datasetId": "urn:ds:raw"},
        {"type": "Property", "value": 120, "observedAt": stamp(0), "unitCode": "61"},
    ]
    attributes = derived(service.react(entity, at(0)))
    assert value(attributes, "airQualityIndex") == 105  # 101 + 49/259 × 19


def test_sulfur_dioxide_above_304_ppb_uses_the_day_mean() -> None:
    service = AirQualityService()
    feed(service, range(23), so2=(350, "61"))
    attributes = derived(service.react(observation(23, so2=(400, "61")), at(23)))
    # 24-hour mean (23 × 350 + 400)/24 = 352.1 → 352: 201 + 99/299 × 47 = 216.6 → 217
    assert value(attributes, "airQualityIndex") == 217
    assert value(attributes, "airQualityIndex", "averagingPeriods") == {"so2": "24h"}
    assert value(attributes, "reliability") == 1.0


def test_pm_averaging_for_the_us_index_is_configurable() -> None:
    day = AirQualityService(AirQualitySettings(us_pm_averaging="24h"))
    writes = feed(day, range(17), pm25=(40.0, "GQ"))
    assert "airQualityIndex" not in derived(writes)  # 17 of 24 hours
    attributes = derived(day.react(observation(17, pm25=(40.0, "GQ")), at(17)))
    assert value(attributes, "airQualityIndex", "averagingPeriods") == {"pm25": "24h"}
    assert value(attributes, "airQualityIndex") == 112  # 101 + 49/19.9 × 4.5
    assert value(attributes, "reliability") == 0.75


def test_european_level_reads_the_pm_running_mean() -> None:
    service = AirQualityService()
    feed(service, range(18), pm25=(10.0, "GQ"), no2=(5.0, "GQ"))
    attributes = derived(service.react(observation(18, pm25=(60.0, "GQ"), no2=(5.0, "GQ")),
                                       at(18)))
    european = attributes["europeanAirQualityLevel"]
    # 24-hour running mean (18 × 10 + 60)/19 = 12.6 µg/m³: "fair" despite the hour at 60
    assert european["value"] == "fair"
    assert european["responsiblePollutant"]["value"] == "pm25"
    assert european["levels"]["value"] == {"pm25": "fair", "no2": "good"}
    assert european["referenceSpecification"]["value"] == (
        "EEA European Air Quality Index (2024 bands)")
    assert european["healthAdviceSensitive"]["value"] == "Enjoy your usual outdoor activities."
    hourly = AirQualityService(AirQualitySettings(european_pm_averaging="1h"))
    attributes = derived(hourly.react(observation(0, pm25=(60.0, "GQ")), at(0)))
    assert attributes["europeanAirQualityLevel"]["value"] == "poor"


def test_european_bands_of_2021() -> None:
    service = AirQualityService(AirQualitySettings.from_mapping({"european_bands": "2021"}))
    attributes = derived(service.react(observation(0, no2=(95.0, "GQ")), at(0)))
    assert attributes["europeanAirQualityLevel"]["value"] == "moderate"  # 90–120 in 2021
    assert attributes["europeanAirQualityLevel"]["referenceSpecification"]["value"] == (
        "EEA European Air Quality Index (2021 bands)")


def test_who_guideline_exceedances() -> None:
    service = AirQualityService()
    attributes = derived(feed(service, range(18), pm25=(20.0, "GQ"), pm10=(30.0, "GQ")))
    exceedances = attributes["whoGuidelineExceedances"]
    assert exceedances["value"] == ["pm25_24h"]
    assert exceedances["ratios"]["value"] == {"pm25_24h": 1.333, "pm10_24h": 0.667}
    assert exceedances["observedAt"] == stamp(17)


def test_a_pollutant_that_stops_reporting_ages_out() -> None:
    service = AirQualityService()
    feed(service, range(3), no2=(120, "61"), pm25=(10.0, "GQ"))
    attributes = derived(feed(service, range(3, 6), pm25=(10.0, "GQ")))
    assert value(attributes, "airQualityIndex", "subIndices") == {"pm25": 53}
    assert value(attributes, "reliability", "completeness")["no2"]["1h"] == 0.0


class TestAlertLifecycle:
    """Raise at AQI 101, update on a severity change, clear after an hour below 91."""

    def react(self, service: AirQualityService, hour: int, no2_ppb: int) -> list[Write]:
        return alerts(service.react(observation(hour, no2=(no2_ppb, "61")), at(hour)))

    def test_raise_update_hold_and_clear(self) -> None:
        service = AirQualityService()
        assert self.react(service, 0, 50) == []  # AQI 47
        [raised] = self.react(service, 1, 120)  # AQI 105
        attributes = raised.attributes
        assert raised.entity_id.startswith("urn:ngsi-ld:Alert:air-quality:")
        assert attributes["category"]["value"] == "environment"
        assert attributes["subCategory"]["value"] == "airPollution"
        assert attributes["severity"]["value"] == "low"
        assert attributes["alertSource"] == {"type": "Relationship", "object": STATION}
        assert attributes["location"] == LOCATION
        assert attributes["validFrom"]["value"]["@value"] == stamp(1)
        assert attributes["dateIssued"]["value"]["@value"] == stamp(1)
        assert attributes["data"]["value"] == {
            "airQualityIndex": 105, "airQualityLevel": "unhealthyForSensitiveGroups",
            "responsiblePollutant": "no2"}
        assert "105" in attributes["description"]["value"]

        [updated] = self.react(service, 2, 400)  # AQI 158: unhealthy
        assert updated.entity_id == raised.entity_id
        assert updated.attributes["severity"]["value"] == "medium"
        assert self.react(service, 3, 390) == []  # same severity: nothing to say

        assert self.react(service, 4, 50) == []  # below 91, but not for an hour yet
        [back] = self.react(service, 5, 120)  # up again: the hold restarts, severity low
        assert back.attributes["severity"]["value"] == "low"
        [easing] = self.react(service, 6, 95)  # AQI 95: between the thresholds, still active
        assert easing.attributes["severity"]["value"] == "informational"
        assert self.react(service, 7, 50) == []
        [cleared] = self.react(service, 8, 50)
        assert cleared.entity_id == raised.entity_id
        assert cleared.attributes["validTo"]["value"]["@value"] == stamp(8)

        [again] = self.react(service, 9, 120)
        assert again.entity_id != raised.entity_id
        assert again.attributes["validFrom"]["value"]["@value"] == stamp(9)

    def test_thresholds_are_the_citys(self) -> None:
        service = AirQualityService(AirQualitySettings(alert_raise_aqi=151, alert_clear_below=151,
                                                       alert_clear_after_s=0))
        assert self.react(service, 0, 120) == []
        [raised] = self.react(service, 1, 400)
        assert raised.attributes["severity"]["value"] == "medium"
        [cleared] = self.react(service, 2, 120)
        assert "validTo" in cleared.attributes


def test_other_types_and_ids_are_not_ours() -> None:
    service = AirQualityService()
    entity = observation(0, no2=(50, "61"))
    assert service.react({**entity, "type": "WeatherObserved"}, at(0)) == []
    assert service.react({**entity, "id": 7}, at(0)) == []


def test_stations_kept_in_memory_are_bounded() -> None:
    service = AirQualityService(AirQualitySettings(max_stations=2))
    for hour in range(2):
        for name in ("a", "b", "c"):
            service.react(observation(hour, station=f"urn:s:{name}", no2=(50, "61")), at(hour))
    assert len(service._stations) == 2
    # "a" was dropped when "c" came; back again it starts from its latest hour only
    attributes = derived(service.react(observation(2, station="urn:s:a", no2=(50, "61")), at(2)),
                         "urn:s:a")
    assert value(attributes, "reliability", "completeness")["no2"]["24h"] == 0.042


instants = st.builds(  # ISO 8601 texts of any date, with offsets up to ±14 h
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(), st.integers(-14 * 60, 14 * 60))
json_values = st.recursive(
    instants | st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["type", "value", "observedAt", "unitCode", "datasetId",
                                       "object", "@value"]), children, max_size=5),
    max_leaves=20,
)


@given(st.dictionaries(
    st.sampled_from(["pm25", "pm10", "o3", "no2", "so2", "co", "CO", "dateObserved", "location"]),
    json_values, max_size=8))
def test_never_crashes_on_arbitrary_attributes(attributes: dict[str, Any]) -> None:
    service = AirQualityService()
    entity = {"id": STATION, "type": "AirQualityObserved", **attributes}
    for write in service.react(entity, at(0)) + service.react(entity, at(1)):
        assert isinstance(write, Write)


def test_one_pollutant_per_message_gives_what_one_message_gives() -> None:
    """Windows reused between messages must be those the pollutant's data still gives."""
    measures = {"pm25": (18.0, "GQ"), "o3": (0.061, "59"), "no2": (130, "61"), "co": (3.1, "59")}
    whole, split = AirQualityService(), AirQualityService()
    for hour in range(10):
        scaled = {name: (v * (1 + hour / 10), unit) for name, (v, unit) in measures.items()
                  if name != "co" or hour < 5}  # CO stops: its windows must still move on
        last_whole = derived(whole.react(observation(hour, **scaled), at(hour)))
        for name, measure in scaled.items():
            last_split = derived(split.react(observation(hour, **{name: measure}), at(hour)))
    assert last_split == last_whole
