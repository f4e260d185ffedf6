"""The energy reactive service: meter readings in; building and district figures and unusual-use
Alerts out.

Meters, as FIWARE cities publish them with Smart Data Models:

- `ACMeasurement` (dataModel.Energy; the successor of `ThreePhaseAcMeasurement`, also accepted):
  electricity, register `totalActiveEnergyImport` in kWh (the model's unit; a `unitCode` of WHR or
  MWH is honoured);
- `SmartMeteringObservation` (dataModel.Device): `meterType` names the supply (Electricity, Gas,
  Heat, Cooling …), register `totalConsumption` with `unitCode` KWH/WHR/MWH, or MTQ (m³) for gas.

Neither model names a building, so a meter is tied to one by a `refBuilding` Relationship on the
meter entity, or by the city's `EnergySettings.meters` map. The district is the building's
configured one, else the meter's `address.district`.

At the end of each hour of a building (all its meters past it), the service writes to the
`Building` entity, all `observedAt` the hour's start: `energyConsumption` (kWh in the hour),
`emissionsScope1` / `emissionsScope2` (kg CO2e in the hour, GPC scopes, with the factors used as
sub-properties), `peakDemand` (kW, highest demand interval of the month so far, observedAt when it
happened), `loadFactor` (month to date) and `energyUseIntensity` (kWh/m²/yr over the last 365
days, annualised, when the floor area is configured). Per district it writes hourly
`KeyPerformanceIndicator` entities (dataModel.KeyPerformanceIndicator: `kpiValue`, `area`,
`calculationPeriod`, `calculationFrequency`) for consumption and for each scope. An hour far off
the building's weekly profile for `anomaly_persistence` hours raises an `Alert` (category
"environment": the Smart Data Models Alert enumerations have no energy category or
sub-category, so none is claimed), updated while it lasts, cleared (`validTo`) when use is back.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from madina.domains import entity_values as ev
from madina.domains.energy.baseline import WeeklyProfile, slot_of
from madina.domains.energy.emissions import emissions_kg, scope
from madina.domains.energy.factors import EmissionFactor, FactorTable, load_factors
from madina.domains.energy.indicators import (
    annualised,
    demand_kw,
    energy_use_intensity,
    load_factor,
)
from madina.domains.energy.metering import apportion, consumption
from madina.domains.energy.settings import EnergySettings
from madina.domains.memory import recently_used
from madina.domains.writes import Write

ELECTRIC_METERS = frozenset({"ACMeasurement", "ThreePhaseAcMeasurement"})
SMART_METER = "SmartMeteringObservation"
ENERGY_UNIT_TO_KWH = {"KWH": 1.0, "WHR": 0.001, "MWH": 1000.0}
VOLUME_UNIT_TO_M3 = {"MTQ": 1.0}
METER_TYPES = {
    "electricity": "electricity",
    "gas": "natural_gas",
    "naturalgas": "natural_gas",
    "methane": "natural_gas",
    "heat": "district_heat",
    "heating": "district_heat",
    "districtheating": "district_heat",
    "cooling": "district_cooling",
    "districtcooling": "district_cooling",
}
"""SmartMeteringObservation meterType (lower case, no spaces, '_' or '-') → carrier; others,
water say, are not energy and are ignored."""
HOUR = 3600
ALERT_PREFIX = "urn:ngsi-ld:Alert:energy-anomaly:"
KPI_PREFIX = "urn:ngsi-ld:KeyPerformanceIndicator:"


@dataclass(frozen=True)
class Reading:
    """One register reading, in kWh or m³."""

    meter_id: str
    building_id: str
    carrier: str
    unit: str
    register: float
    at: datetime
    district: str | None = None
    location: Any = None


class _Meter:
    __slots__ = ("building_id", "carrier", "last_s", "last_value", "unit")

    def __init__(self, building_id: str, carrier: str, unit: str) -> None:
        self.building_id = building_id
        self.carrier = carrier
        self.unit = unit
        self.last_value: float | None = None
        self.last_s = 0.0


@dataclass
class _Hour:
    kwh: dict[str, float] = field(default_factory=dict)
    m3: dict[str, float] = field(default_factory=dict)
    demand: list[float] = field(default_factory=list)


@dataclass
class _Anomaly:
    run: int = 0
    clear_run: int = 0
    onset: datetime | None = None
    recovered_at: datetime | None = None
    alert_id: str | None = None
    severity: str | None = None


class _Building:
    __slots__ = ("anomaly", "building_id", "closed_until", "days", "district", "hours",
                 "location", "month", "month_hours", "month_kwh", "peak_at", "peak_kw", "profile",
                 "progress")

    def __init__(self, building_id: str, weeks: int) -> None:
        self.building_id = building_id
        self.district: str | None = None
        self.location: Any = None
        self.hours: dict[int, _Hour] = {}
        self.progress: dict[str, float] = {}
        self.closed_until = 0
        self.days: deque[list[float]] = deque(maxlen=366)
        self.month: tuple[int, int] | None = None
        self.month_kwh = 0.0
        self.month_hours = 0
        self.peak_kw = 0.0
        self.peak_at: datetime | None = None
        self.profile = WeeklyProfile(weeks)
        self.anomaly = _Anomaly()


@dataclass
class _DistrictHour:
    kwh: float = 0.0
    scopes: dict[int, float | None] = field(default_factory=dict)
    """kg CO2e per GPC scope: absent when no building used a carrier of it, None when unknown."""


class _District:
    __slots__ = ("closed_until", "hours", "name", "progress")

    def __init__(self, name: str) -> None:
        self.name = name
        self.hours: dict[int, _DistrictHour] = {}
        self.progress: dict[str, float] = {}
        self.closed_until = 0


@dataclass(frozen=True)
class _HourFigures:
    """A closed building hour, as the district needs it."""

    start: int
    kwh: float
    scopes: dict[int, float | None]


class EnergyService:
    """Reacts to meter entity changes; bounded per-meter, per-building, per-district state."""

    watched_types = frozenset({*ELECTRIC_METERS, SMART_METER})

    def __init__(
        self, settings: EnergySettings | None = None, factors: FactorTable | None = None
    ) -> None:
        self.settings = settings or EnergySettings()
        self.factors = factors or load_factors(self.settings.factors_path)
        self._zone = self.settings.zone
        self._demand_s = self.settings.demand_interval_minutes * 60
        self._meters: OrderedDict[str, _Meter] = OrderedDict()
        self._buildings: OrderedDict[str, _Building] = OrderedDict()
        self._districts: dict[str, _District] = {}

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]:
        """Building and district figures, and Alerts, that one meter reading completes."""
        reading = self.reading(entity, now)
        if reading is None:
            return []
        meter = self._meter(reading)
        building = self._building(reading.building_id)
        building.district = self.settings.building(building.building_id).district or (
            reading.district or building.district
        )
        at_s = reading.at.timestamp()
        if building.district is not None:
            # A district's hours wait for every building it has, from the building's first
            # reading on, not only for those that have already closed an hour.
            district = self._district(building.district)
            district.progress.setdefault(building.building_id, at_s - at_s % HOUR)
        if reading.location is not None:
            building.location = reading.location
        if meter.last_value is not None and at_s <= meter.last_s:
            return []
        if meter.last_value is not None:
            used = consumption(meter.last_value, reading.register)
            gap = at_s - meter.last_s
            if used is not None and gap <= self.settings.max_gap_hours * HOUR:
                self._spread(building, meter, used, meter.last_s, at_s)
        meter.last_value = reading.register
        meter.last_s = at_s
        building.progress[reading.meter_id] = at_s
        return self._close_hours(building, now)

    def reading(self, entity: dict[str, Any], now: datetime) -> Reading | None:
        """The register reading a meter entity carries, in kWh or m³; None when it has none,
        names no building, or is not an energy meter."""
        meter_id, kind = entity.get("id"), entity.get("type")
        if not isinstance(meter_id, str):
            return None
        if kind in ELECTRIC_METERS:
            carrier, register_name = "electricity", "totalActiveEnergyImport"
        elif kind == SMART_METER:
            meter_type = ev.text(entity, "meterType") or ""
            carrier = METER_TYPES.get(
                meter_type.lower().replace(" ", "").replace("_", "").replace("-", "")
            )
            register_name = "totalConsumption"
            if carrier is None:
                return None
        else:
            return None
        raw = ev.number(entity, register_name)
        if raw is None or raw < 0:
            return None
        code = ev.unit_code(entity, register_name)
        if code is None:
            if carrier == "natural_gas":
                return None  # gas is metered in m³ or kWh: without a unitCode it is a guess
            code = "KWH"
        if code in ENERGY_UNIT_TO_KWH:
            unit, register = "kWh", raw * ENERGY_UNIT_TO_KWH[code]
        elif code in VOLUME_UNIT_TO_M3:
            unit, register = "m3", raw * VOLUME_UNIT_TO_M3[code]
        else:
            return None
        building_id = ev.relationship(entity, "refBuilding") or self.settings.meters.get(meter_id)
        if building_id is None:
            return None
        at = (
            ev.observed_at(entity, register_name)
            or ev.parse_datetime(ev.value(entity, "dateObservedTo"))
            or ev.parse_datetime(ev.value(entity, "dateObserved"))
            or now
        )
        address = ev.value(entity, "address")
        district = address.get("district") if isinstance(address, dict) else None
        location = ev.attribute(entity, "location")
        return Reading(
            meter_id=meter_id,
            building_id=building_id,
            carrier=carrier,
            unit=unit,
            register=register,
            at=at,
            district=district if isinstance(district, str) else None,
            location=None if location is None else location.get("value"),
        )

    @property
    def tracked(self) -> tuple[int, int, int]:
        """(meters, buildings, districts) held in memory."""
        return len(self._meters), len(self._buildings), len(self._districts)

    def _meter(self, reading: Reading) -> _Meter:
        meters = self._meters
        meter = meters.get(reading.meter_id)
        if meter is None or (meter.carrier, meter.unit, meter.building_id) != (
            reading.carrier, reading.unit, reading.building_id
        ):
            meter = _Meter(reading.building_id, reading.carrier, reading.unit)
            meters[reading.meter_id] = meter
            if len(meters) > self.settings.max_meters:
                meters.popitem(last=False)
        else:
            meters.move_to_end(reading.meter_id)
        return meter

    def _building(self, building_id: str) -> _Building:
        return recently_used(
            self._buildings, building_id,
            lambda: _Building(building_id, self.settings.baseline_weeks),
            self.settings.max_buildings,
        )

    def _spread(
        self, building: _Building, meter: _Meter, used: float, start_s: float, end_s: float
    ) -> None:
        hours = building.hours
        floor = building.closed_until
        if meter.carrier == "electricity" and meter.unit == "kWh":
            per_hour = HOUR // self._demand_s
            for bucket, share in apportion(used, start_s, end_s, self._demand_s):
                hour_start = int(bucket) - int(bucket) % HOUR
                if hour_start < floor:
                    continue
                hour = hours.get(hour_start)
                if hour is None:
                    hour = hours[hour_start] = _Hour(demand=[0.0] * per_hour)
                hour.kwh["electricity"] = hour.kwh.get("electricity", 0.0) + share
                hour.demand[(int(bucket) - hour_start) // self._demand_s] += share
            return
        target = "kwh" if meter.unit == "kWh" else "m3"
        for bucket, share in apportion(used, start_s, end_s, HOUR):
            hour_start = int(bucket)
            if hour_start < floor:
                continue
            hour = hours.get(hour_start)
            if hour is None:
                hour = hours[hour_start] = _Hour(demand=[0.0] * (HOUR // self._demand_s))
            amounts = getattr(hour, target)
            amounts[meter.carrier] = amounts.get(meter.carrier, 0.0) + share

    def _close_hours(self, building: _Building, now: datetime) -> list[Write]:
        settings = self.settings
        progress = building.progress
        latest = max(progress.values())
        stale = latest - settings.stale_meter_hours * HOUR
        for meter_id in [m for m, t in progress.items() if t < stale]:
            del progress[meter_id]
        ready = min(progress.values())
        limit = max(ready, latest - settings.close_lag_hours * HOUR)
        closable = sorted(h for h in building.hours if h + HOUR <= limit)
        building.closed_until = max(building.closed_until, int(limit) - int(limit) % HOUR)
        writes: list[Write] = []
        for start in closable:
            hour = building.hours.pop(start)
            figures, building_writes = self._building_hour(building, start, hour, now)
            writes.extend(building_writes)
            if building.district is not None:
                writes.extend(self._district_hour(building, figures))
        return writes

    def _building_hour(
        self, building: _Building, start: int, hour: _Hour, now: datetime
    ) -> tuple[_HourFigures, list[Write]]:
        settings = self.settings
        own = settings.building(building.building_id)
        moment = datetime.fromtimestamp(start, UTC)
        local = moment.astimezone(self._zone)
        kwh = sum(hour.kwh.values())
        gas_m3 = hour.m3.get("natural_gas", 0.0)
        if settings.gas_kwh_per_m3 is not None:
            kwh += gas_m3 * settings.gas_kwh_per_m3
        region = own.region or settings.region
        scopes, sources = self._emissions(hour, region, local.year)
        attributes: dict[str, Any] = {"energyConsumption": ev.prop(round(kwh, 3), moment, "KWH")}
        for number, name in ((1, "emissionsScope1"), (2, "emissionsScope2")):
            kg = scopes.get(number)
            if kg is not None:
                attributes[name] = ev.prop(round(kg, 3), moment, "KGM")
                attributes[name]["emissionFactors"] = ev.prop(sources[number])
        electricity = hour.kwh.get("electricity")
        if electricity is not None:
            self._demand(building, local, moment, hour, electricity, attributes)
        self._intensity(building, own.floor_area_m2, local, moment, kwh, attributes)
        writes = [Write(building.building_id, "Building", attributes)]
        alert = self._anomaly(building, local, moment, kwh, now)
        if alert is not None:
            writes.append(alert)
        return _HourFigures(start, kwh, scopes), writes

    def _emissions(
        self, hour: _Hour, region: str, year: int
    ) -> tuple[dict[int, float | None], dict[int, list[str]]]:
        """kg CO2e per GPC scope; a scope with a carrier lacking a factor is None (unknown),
        never a partial sum that would look complete."""
        scopes: dict[int, float | None] = {}
        sources: dict[int, list[str]] = {}
        gas_cv = self.settings.gas_kwh_per_m3
        for unit, amounts in (("kWh", hour.kwh), ("m3", hour.m3)):
            for carrier, amount in amounts.items():
                number = scope(carrier)
                if number is None:
                    continue
                factor = self.factors.lookup(region, carrier, unit, year)
                per_unit = None if factor is None else factor.value
                if factor is None and unit == "m3" and gas_cv is not None:
                    factor = self.factors.lookup(region, carrier, "kWh", year)
                    per_unit = None if factor is None else factor.value * gas_cv
                if factor is None or per_unit is None or scopes.get(number, 0.0) is None:
                    scopes[number] = None
                    continue
                scopes[number] = scopes.get(number, 0.0) + emissions_kg(amount, per_unit)
                sources.setdefault(number, []).append(_factor_label(factor))
        return scopes, sources

    def _demand(
        self,
        building: _Building,
        local: datetime,
        moment: datetime,
        hour: _Hour,
        electricity: float,
        attributes: dict[str, Any],
    ) -> None:
        month = (local.year, local.month)
        if building.month != month:
            building.month = month
            building.month_kwh = 0.0
            building.month_hours = 0
            building.peak_kw = 0.0
            building.peak_at = None
        interval_h = self._demand_s / HOUR
        building.month_kwh += electricity
        building.month_hours += 1
        for index, kwh in enumerate(hour.demand):
            kw = demand_kw(kwh, interval_h)
            if kw > building.peak_kw:
                building.peak_kw = kw
                building.peak_at = moment + timedelta(seconds=index * self._demand_s)
        if building.peak_at is None:
            return
        attributes["peakDemand"] = ev.prop(round(building.peak_kw, 3), building.peak_at, "KWT")
        factor = load_factor(building.month_kwh, building.month_hours, building.peak_kw)
        if factor is not None:
            attributes["loadFactor"] = ev.prop(round(factor, 4), moment)

    def _intensity(
        self,
        building: _Building,
        floor_area: float | None,
        local: datetime,
        moment: datetime,
        kwh: float,
        attributes: dict[str, Any],
    ) -> None:
        today = local.toordinal()
        days = building.days
        if days and days[-1][0] == today:
            days[-1][1] += kwh
        else:
            days.append([float(today), kwh])
        if floor_area is None:
            return
        first = today - 364
        total = 0.0
        oldest = today
        for ordinal, energy in days:
            if ordinal >= first:
                total += energy
                oldest = min(oldest, int(ordinal))
        covered = today - oldest + 1
        if covered < self.settings.eui_min_days:
            return
        eui = energy_use_intensity(annualised(total, covered), floor_area)
        attributes["energyUseIntensity"] = ev.prop(round(eui, 2), moment)
        attributes["energyUseIntensity"]["coverageDays"] = ev.prop(covered)

    def _anomaly(
        self, building: _Building, local: datetime, moment: datetime, kwh: float, now: datetime
    ) -> Write | None:
        settings = self.settings
        slot = slot_of(local)
        expectation = building.profile.expect(slot, kwh, settings.anomaly_mad_floor_kwh)
        unusual = high = False
        if expectation is not None and expectation.weeks >= settings.baseline_min_weeks:
            usual = expectation.median
            excess = kwh - usual
            high = (
                expectation.score >= settings.anomaly_z_threshold
                and kwh >= usual * settings.anomaly_min_ratio
                and excess >= settings.anomaly_min_kwh
            )
            low = settings.detect_low and (
                expectation.score <= -settings.anomaly_z_threshold
                and kwh * settings.anomaly_min_ratio <= usual
                and -excess >= settings.anomaly_min_kwh
            )
            unusual = high or low
        state = building.anomaly
        if not unusual:
            building.profile.add(slot, kwh)
        if state.alert_id is None:
            if not unusual:
                state.run = 0
                state.onset = None
                return None
            state.run += 1
            state.onset = state.onset or moment
            if state.run < settings.anomaly_persistence:
                return None
            assert expectation is not None
            state.alert_id = (
                f"{ALERT_PREFIX}{ev.id_part(building.building_id)}:{int(state.onset.timestamp())}"
            )
            state.severity = self._severity(kwh, expectation.median, high)
            state.clear_run = 0
            attributes: dict[str, Any] = {
                "category": ev.prop("environment"),
                "severity": ev.prop(state.severity),
                "description": ev.prop(_describe(building.building_id, kwh, expectation.median,
                                                 local)),
                "dateIssued": ev.date_time(now),
                "validFrom": ev.date_time(state.onset),
                "alertSource": ev.rel(building.building_id),
                "data": ev.prop(_evidence(kwh, expectation.median, expectation.score)),
            }
            if building.location is not None:
                attributes["location"] = {"type": "GeoProperty", "value": building.location}
            return Write(state.alert_id, "Alert", attributes)
        if unusual:
            state.clear_run = 0
            state.recovered_at = None
            assert expectation is not None
            level = self._severity(kwh, expectation.median, high)
            if level == state.severity:
                return None
            state.severity = level
            return Write(state.alert_id, "Alert", {
                "severity": ev.prop(level),
                "description": ev.prop(_describe(building.building_id, kwh, expectation.median,
                                                 local)),
                "data": ev.prop(_evidence(kwh, expectation.median, expectation.score)),
            })
        state.clear_run += 1
        state.recovered_at = state.recovered_at or moment
        if state.clear_run < settings.anomaly_clear_hours:
            return None
        alert_id = state.alert_id
        recovered_at = state.recovered_at
        building.anomaly = _Anomaly()
        return Write(alert_id, "Alert", {
            "validTo": ev.date_time(recovered_at),
            "description": ev.prop(
                f"Energy use of {building.building_id} back to its usual weekly profile."
            ),
        })

    def _severity(self, kwh: float, usual: float, high: bool) -> str:
        if not high:
            return "low"
        ratio = kwh / usual if usual > 0 else float("inf")
        for bound, level in self.settings.severity_bands:
            if ratio >= bound:
                return level
        return "low"

    def _district(self, name: str) -> _District:
        district = self._districts.get(name)
        if district is None:
            district = self._districts[name] = _District(name)
        return district

    def _district_hour(self, building: _Building, figures: _HourFigures) -> list[Write]:
        assert building.district is not None
        district = self._district(building.district)
        if figures.start >= district.closed_until:
            bucket = district.hours.get(figures.start)
            if bucket is None:
                bucket = district.hours[figures.start] = _DistrictHour()
            bucket.kwh += figures.kwh
            for number, kg in figures.scopes.items():
                known = bucket.scopes.get(number, 0.0)
                bucket.scopes[number] = None if known is None or kg is None else known + kg
        district.progress[building.building_id] = figures.start + HOUR
        latest = max(district.progress.values())
        stale = latest - self.settings.stale_meter_hours * HOUR
        for member in [b for b, t in district.progress.items() if t < stale]:
            del district.progress[member]
        limit = max(min(district.progress.values()),
                    latest - self.settings.close_lag_hours * HOUR)
        district.closed_until = max(district.closed_until, int(limit) - int(limit) % HOUR)
        writes = []
        for start in sorted(h for h in district.hours if h + HOUR <= limit):
            writes.extend(_district_writes(district.name, start, district.hours.pop(start)))
        return writes


def _factor_label(factor: EmissionFactor) -> str:
    return f"{factor.carrier}: {factor.value} kg/{factor.unit}, {factor.source} " \
           f"({factor.region} {factor.year})"


def _district_writes(district: str, start: int, hour: _DistrictHour) -> list[Write]:
    moment = datetime.fromtimestamp(start, UTC)
    period = {"from": ev.iso(moment), "to": ev.iso(moment + timedelta(hours=1))}
    slug = ev.id_part(district)
    writes = []
    for key, name, value, unit in (
        ("energy-consumption", "Energy consumption", hour.kwh, "KWH"),
        ("emissions-scope1", "GPC scope 1 emissions", hour.scopes.get(1), "KGM"),
        ("emissions-scope2", "GPC scope 2 emissions", hour.scopes.get(2), "KGM"),
    ):
        if value is None:
            continue
        writes.append(Write(f"{KPI_PREFIX}{key}:{slug}", "KeyPerformanceIndicator", {
            "name": ev.prop(f"{name}, {district}"),
            "area": ev.prop(district),
            "category": ev.prop(["quantitative"]),
            "calculationFrequency": ev.prop("hourly"),
            "calculationMethod": ev.prop("automatic"),
            "calculationPeriod": ev.prop(period),
            "kpiValue": ev.prop(round(value, 3), moment, unit),
        }))
    return writes


def _describe(building_id: str, kwh: float, usual: float, local: datetime) -> str:
    return (
        f"Unusual energy use in {building_id}: {kwh:.1f} kWh in the hour from "
        f"{local:%a %H:%M}, against a usual {usual:.1f} kWh for that hour of the week."
    )


def _evidence(kwh: float, usual: float, score: float) -> dict[str, Any]:
    return {
        "observedKWh": round(kwh, 3),
        "expectedKWh": round(usual, 3),
        "score": round(score, 2) if abs(score) != float("inf") else None,
        "method": "hour-of-week median, modified z-score",
    }
