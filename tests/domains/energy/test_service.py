"""The energy service end to end: meter entities in; Building figures, district KPIs and
unusual-use Alerts out."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from madina.domains import entity_values as ev
from madina.domains.energy.service import EnergyService
from madina.domains.energy.settings import BuildingSettings, EnergySettings
from madina.domains.settings_loading import load_toml_table
from madina.domains.writes import Write

MONDAY = datetime(2025, 3, 3, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
BUILDING = "urn:ngsi-ld:Building:school-7"
METER = "urn:ngsi-ld:ACMeasurement:school-7-main"
SDM_SEVERITIES = {"informational", "low", "medium", "high", "critical"}


def ac_meter(
    register: float, at: datetime, meter: str = METER, building: str | None = BUILDING,
    unit: str | None = None,
) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": meter,
        "type": "ACMeasurement",
        "phaseType": ev.prop("threePhase"),
        "totalActiveEnergyImport": ev.prop(register, at, unit),
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [24.95, 60.18]}},
    }
    if building is not None:
        entity["refBuilding"] = ev.rel(building)
    return entity


def office(moment: datetime) -> float:
    """kWh in the hour: busy weekday working hours, a base load otherwise."""
    if moment.weekday() < 5 and 8 <= moment.hour < 18:
        return 40.0
    return 10.0 if moment.weekday() < 5 else 12.0


def feed(
    hours: int,
    start: datetime = MONDAY,
    profile: Callable[[datetime], float] = office,
    extra: Callable[[datetime], float] = lambda moment: 0.0,
    seed: int = 3,
    **meter: Any,
) -> Iterator[tuple[datetime, dict[str, Any]]]:
    """A meter read every 15 minutes, with ±5 % noise on each quarter's use."""
    rng = random.Random(seed)
    register = 5000.0
    moment = start
    yield moment, ac_meter(register, moment, **meter)
    for _ in range(hours * 4):
        quarter = (profile(moment) + extra(moment)) / 4 * rng.gauss(1.0, 0.05)
        register += max(0.0, quarter)
        moment += QUARTER
        yield moment, ac_meter(register, moment, **meter)


def run(service: EnergyService, readings: Iterator[tuple[datetime, dict]]) -> list[Write]:
    writes: list[Write] = []
    for moment, entity in readings:
        writes.extend(service.react(entity, moment + timedelta(seconds=30)))
    return writes


def of_type(writes: list[Write], kind: str) -> list[Write]:
    return [w for w in writes if w.entity_type == kind]


def test_hourly_building_figures() -> None:
    service = EnergyService(EnergySettings(region="GB"))
    register = 1000.0
    writes: list[Write] = []
    for k in range(5):  # 00:00 … 01:00, quarters of 10, 11, 12, 13 kWh
        writes += service.react(ac_meter(register, MONDAY + k * QUARTER), MONDAY)
        register += 10 + k
    [write] = writes
    assert (write.entity_id, write.entity_type) == (BUILDING, "Building")
    attrs = write.attributes
    assert attrs["energyConsumption"] == {
        "type": "Property", "value": 46.0, "observedAt": "2025-03-03T00:00:00Z", "unitCode": "KWH",
    }
    # GB 2025 grid: 46 kWh × 0.177 kg CO2e/kWh = 8.142 kg, scope 2; no fuel, no scope 1.
    assert attrs["emissionsScope2"]["value"] == pytest.approx(8.142)
    assert attrs["emissionsScope2"]["unitCode"] == "KGM"
    assert "DESNZ 2025" in attrs["emissionsScope2"]["emissionFactors"]["value"][0]
    assert "emissionsScope1" not in attrs
    # Highest quarter 13 kWh = 52 kW at 00:45; load factor 46 kWh / 1 h / 52 kW.
    assert attrs["peakDemand"] == {
        "type": "Property", "value": 52.0, "observedAt": "2025-03-03T00:45:00Z", "unitCode": "KWT",
    }
    assert attrs["loadFactor"]["value"] == pytest.approx(46 / 52, abs=1e-4)
    assert "energyUseIntensity" not in attrs  # no floor area configured


# An excerpt of the Smart Data Models example (dataModel.Energy, ACMeasurement/examples/
# example-normalized.json): its identity, time, device and register attributes as published,
# upstream quirks included (a "TT" in dateObserved, an object where a DateTime belongs).
ACMEASUREMENT_EXAMPLE = json.loads("""
{
  "id": "urn:ngsi-ld:ACMeasurement:ACMeasurement:MNCA-ACM-001",
  "type": "ACMeasurement",
  "name": {"type": "Property", "value": " AirPort-NCE-T1-F01-TR05-ACTP"},
  "location": {"type": "GeoProperty", "value": {"type": "Point",
                                                "coordinates": [43.664810, 7.196545]}},
  "areaServed": {"type": "Property", "value": "Nice Aeroport"},
  "dateObserved": {"type": "Property",
                   "value": {"type": "DateTime", "value": "2020-03-17TT08:45:00Z"}},
  "refDevice": {"type": "Relationship", "object": ["urn:ngsi-ld:Device:T1-F01-TR05-ACTP"]},
  "phaseType": {"type": "Property", "value": "threePhase"},
  "totalActiveEnergyImport": {"type": "Property", "value": 150781.96448,
                              "observedAt": "2020-02-24T22:00:00.173Z"},
  "totalActivePower": {"type": "Property", "value": 31700.269531,
                       "observedAt": "2020-02-24T22:00:00.173Z",
                       "measurementType": {"type": "Property", "value": "average"},
                       "measurementInterval": {"type": "Property", "value": 1}}
}
""")


def test_smart_data_models_acmeasurement_example_with_a_configured_building() -> None:
    example = ACMEASUREMENT_EXAMPLE
    settings = EnergySettings(meters={example["id"]: BUILDING})
    service = EnergyService(settings)
    reading = service.reading(example, MONDAY)
    assert reading is not None
    assert (reading.building_id, reading.carrier, reading.unit) == (BUILDING, "electricity", "kWh")
    assert reading.register == 150781.96448
    assert reading.at == datetime(2020, 2, 24, 22, 0, 0, 173000, tzinfo=UTC)
    assert EnergyService().reading(example, MONDAY) is None  # no building known: skipped


def test_gas_in_cubic_metres_is_scope_1() -> None:
    settings = EnergySettings(region="GB", gas_kwh_per_m3=11.1)
    service = EnergyService(settings)

    def gas(register: float, at: datetime, unit: str | None = "MTQ") -> dict[str, Any]:
        return {
            "id": "urn:ngsi-ld:SmartMeteringObservation:gas-1",
            "type": "SmartMeteringObservation",
            "meterType": ev.prop("Natural Gas"),
            "totalConsumption": ev.prop(register, at, unit),
            "refBuilding": ev.rel(BUILDING),
        }

    assert service.react(gas(100.0, MONDAY), MONDAY) == []
    [write] = service.react(gas(110.0, MONDAY + timedelta(hours=1)), MONDAY)
    # 10 m³ × 2.02633 kg CO2e/m³ (DESNZ 2025) = 20.26 kg; 10 m³ × 11.1 kWh/m³ = 111 kWh.
    assert write.attributes["emissionsScope1"]["value"] == pytest.approx(20.2633, abs=1e-3)
    assert write.attributes["energyConsumption"]["value"] == pytest.approx(111.0)
    assert "emissionsScope2" not in write.attributes and "peakDemand" not in write.attributes
    # Without a unitCode a gas register is ambiguous (m³ or kWh) and is not guessed at.
    assert service.reading(gas(1.0, MONDAY, None), MONDAY) is None
    water = gas(1.0, MONDAY)
    water["meterType"] = ev.prop("Water")
    assert service.reading(water, MONDAY) is None


def test_unknown_factor_leaves_the_scope_out_rather_than_half_counted() -> None:
    service = EnergyService(EnergySettings(region="FI"))
    writes = run(service, feed(2))
    assert of_type(writes, "Building")
    assert all("emissionsScope2" not in w.attributes for w in of_type(writes, "Building"))


def test_units_and_resets() -> None:
    service = EnergyService()
    at = MONDAY
    service.react(ac_meter(1_000_000.0, at, unit="WHR"), at)  # 1000 kWh in Wh
    service.react(ac_meter(1_010_000.0, at + QUARTER, unit="WHR"), at)  # +10 kWh
    service.react(ac_meter(5.0, at + 2 * QUARTER, unit="WHR"), at)  # meter replaced
    service.react(ac_meter(2_005.0, at + 3 * QUARTER, unit="WHR"), at)  # +2 kWh
    [write] = service.react(ac_meter(2_005.0, at + 4 * QUARTER, unit="WHR"), at)
    assert write.attributes["energyConsumption"]["value"] == pytest.approx(12.0)
    assert service.react(ac_meter(1.0, at + 4 * QUARTER, unit="XYZ"), at) == []
    assert service.react(ac_meter(-1.0, at + 5 * QUARTER), at) == []
    # A duplicate or older reading changes nothing.
    assert service.react(ac_meter(2_005.0, at + 4 * QUARTER, unit="WHR"), at) == []


def test_an_hour_waits_for_every_meter_of_the_building_unless_one_falls_silent() -> None:
    service = EnergyService()
    second = "urn:ngsi-ld:ACMeasurement:school-7-kitchen"
    at = MONDAY
    service.react(ac_meter(0.0, at), at)
    service.react(ac_meter(0.0, at, meter=second), at)
    assert service.react(ac_meter(20.0, at + timedelta(hours=1)), at) == []  # kitchen not in
    [write] = service.react(ac_meter(5.0, at + timedelta(hours=1), meter=second), at)
    assert write.attributes["energyConsumption"]["value"] == pytest.approx(25.0)
    # The kitchen meter stops: the main meter alone closes an hour once it is an hour past its
    # end (`close_lag_hours`).
    assert service.react(ac_meter(40.0, at + timedelta(hours=2)), at) == []
    [late] = service.react(ac_meter(60.0, at + timedelta(hours=3)), at)
    assert late.attributes["energyConsumption"]["observedAt"] == "2025-03-03T01:00:00Z"
    assert late.attributes["energyConsumption"]["value"] == pytest.approx(20.0)


def test_readings_too_far_apart_are_not_spread() -> None:
    service = EnergyService(EnergySettings(max_gap_hours=3))
    service.react(ac_meter(0.0, MONDAY), MONDAY)
    assert service.react(ac_meter(500.0, MONDAY + timedelta(hours=10)), MONDAY) == []


def test_district_kpis_sum_their_buildings_when_all_are_in() -> None:
    other = "urn:ngsi-ld:Building:library-2"
    settings = EnergySettings(
        region="GB",
        buildings={BUILDING: BuildingSettings(district="Kallio"),
                   other: BuildingSettings(district="Kallio")},
    )
    service = EnergyService(settings)
    at = MONDAY
    service.react(ac_meter(0.0, at), at)
    service.react(ac_meter(0.0, at, meter="urn:m:lib", building=other), at)
    first = service.react(ac_meter(30.0, at + timedelta(hours=1)), at)
    assert of_type(first, "KeyPerformanceIndicator") == []  # the library's hour is not in yet
    second = service.react(ac_meter(10.0, at + timedelta(hours=1), meter="urn:m:lib",
                                    building=other), at)
    kpis = {w.entity_id: w.attributes for w in of_type(second, "KeyPerformanceIndicator")}
    energy = kpis["urn:ngsi-ld:KeyPerformanceIndicator:energy-consumption:Kallio"]
    assert energy["kpiValue"]["value"] == pytest.approx(40.0)
    assert energy["area"]["value"] == "Kallio"
    assert energy["calculationPeriod"]["value"] == {
        "from": "2025-03-03T00:00:00Z", "to": "2025-03-03T01:00:00Z",
    }
    scope2 = kpis["urn:ngsi-ld:KeyPerformanceIndicator:emissions-scope2:Kallio"]
    assert scope2["kpiValue"]["value"] == pytest.approx(40 * 0.177)
    assert "urn:ngsi-ld:KeyPerformanceIndicator:emissions-scope1:Kallio" not in kpis


def test_district_from_the_meter_address() -> None:
    service = EnergyService()
    entity = ac_meter(0.0, MONDAY)
    entity["address"] = ev.prop({"district": "Töölö", "addressLocality": "Helsinki"})
    service.react(entity, MONDAY)
    entity = ac_meter(10.0, MONDAY + timedelta(hours=1))
    writes = service.react(entity, MONDAY)
    assert {w.entity_id for w in of_type(writes, "KeyPerformanceIndicator")} == {
        "urn:ngsi-ld:KeyPerformanceIndicator:energy-consumption:T%C3%B6%C3%B6l%C3%B6",
        "urn:ngsi-ld:KeyPerformanceIndicator:emissions-scope2:T%C3%B6%C3%B6l%C3%B6",
    }


def test_energy_use_intensity_after_a_month() -> None:
    settings = EnergySettings(buildings={BUILDING: BuildingSettings(floor_area_m2=1000.0)})
    service = EnergyService(settings)
    writes = of_type(run(service, feed(24 * 31, profile=lambda moment: 10.0)), "Building")
    with_eui = [w for w in writes if "energyUseIntensity" in w.attributes]
    # 30 days of data are needed: the first EUI comes with the first hour of day 30.
    assert with_eui[0].attributes["energyConsumption"]["observedAt"] == "2025-04-01T00:00:00Z"
    eui = with_eui[-1].attributes["energyUseIntensity"]
    # 240 kWh a day, annualised, over 1000 m²: 87.6 kWh/m²/yr (the last day is partial).
    assert eui["coverageDays"]["value"] == 31
    assert eui["value"] == pytest.approx(240 * 365 / 1000, rel=0.05)


def test_unusual_use_alert_is_raised_updated_and_cleared() -> None:
    week5 = MONDAY + timedelta(weeks=4)
    spike_from, spike_to = week5 + timedelta(days=2, hours=2), week5 + timedelta(days=2, hours=6)

    def leak(moment: datetime) -> float:
        if spike_from <= moment < spike_to:
            return 15.0 if moment < spike_from + timedelta(hours=2) else 50.0
        return 0.0

    service = EnergyService()
    writes = run(service, feed(24 * 7 * 5, extra=leak))
    alerts = of_type(writes, "Alert")
    assert len(alerts) == 3, [a.attributes for a in alerts]
    raised, update, cleared = alerts
    alert_id = "urn:ngsi-ld:Alert:energy-anomaly:urn:ngsi-ld:Building:school-7:" + str(
        int(spike_from.timestamp())
    )
    assert raised.entity_id == update.entity_id == cleared.entity_id == alert_id
    attrs = raised.attributes
    assert attrs["category"]["value"] == "environment"
    assert "subCategory" not in attrs
    assert attrs["severity"]["value"] == "medium"  # 25 kWh against a usual 10
    assert attrs["validFrom"]["value"]["@value"] == ev.iso(spike_from)
    assert attrs["alertSource"] == {"type": "Relationship", "object": BUILDING}
    assert attrs["location"]["value"]["type"] == "Point"
    assert attrs["data"]["value"]["expectedKWh"] == pytest.approx(10.0, rel=0.1)
    assert update.attributes["severity"]["value"] == "high"  # then 60 kWh
    assert update.attributes["data"]["value"]["observedKWh"] == pytest.approx(60.0, rel=0.1)
    assert cleared.attributes["validTo"]["value"]["@value"] == ev.iso(spike_to)
    assert {a.attributes.get("severity", {}).get("value", "low") for a in alerts} <= (
        SDM_SEVERITIES
    )


def test_no_alerts_on_an_ordinary_month() -> None:
    service = EnergyService()
    assert of_type(run(service, feed(24 * 7 * 5, seed=9)), "Alert") == []


def test_memory_is_bounded() -> None:
    service = EnergyService(EnergySettings(max_meters=3, max_buildings=2))
    for n in range(6):
        service.react(ac_meter(1.0, MONDAY, meter=f"urn:m:{n}", building=f"urn:b:{n}"), MONDAY)
    assert service.tracked[:2] == (3, 2)


def test_settings_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "madina.toml"
    path.write_text(
        """
[domains.energy]
timezone = "Europe/Helsinki"
region = "GB"
meters = { "urn:m:1" = "urn:b:1" }
severity_bands = [[4, "high"], [2, "medium"]]

[domains.energy.buildings."urn:b:1"]
floor_area_m2 = 4200
district = "Kallio"
"""
    )
    settings = EnergySettings.from_mapping(load_toml_table(path, "domains.energy"))
    assert settings.meters == {"urn:m:1": "urn:b:1"}
    assert settings.building("urn:b:1").floor_area_m2 == 4200
    assert settings.building("urn:b:2").district is None
    assert settings.severity_bands == ((4.0, "high"), (2.0, "medium"))


@pytest.mark.parametrize(
    "bad",
    [
        {"demand_interval_minutes": 7},
        {"timezone": "Nowhere/Land"},
        {"baseline_min_weeks": 9},
        {"anomaly_min_ratio": 0.5},
        {"gas_kwh_per_m3": 0},
        {"severity_bands": [[2, "medium"], [3, "high"]]},
        {"floor_area": 10},
        {"buildings": {"urn:b:1": {"area": 5}}},
    ],
)
def test_bad_settings_fail_at_start(bad: dict) -> None:
    with pytest.raises(ValueError):
        EnergySettings.from_mapping(bad)
