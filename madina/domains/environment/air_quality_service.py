"""The reactive air-quality service: every AirQualityObserved change becomes indices written back
to the entity, and an air-pollution Alert while the US AQI is high.

Per station (entity id) and pollutant it keeps the last 24 hourly means (averages.py), fed from
each attribute's `observedAt` (else the entity's `dateObserved`). Windows end at the station's
latest observed hour, so a pollutant that stopped reporting ages out of them. From those windows:

- `airQualityIndex` — the US AQI (EPA-454/B-24-002) with sub-properties `responsiblePollutant`,
  `subIndices` (pollutant → sub-index), `averagingPeriods` (pollutant → "nowcast", "8h", "1h",
  "24h") and `referenceSpecification`;
- `airQualityLevel` — its category in Smart Data Models' spelling ("unhealthyForSensitiveGroups"),
  with EPA's `color` and the responsible pollutant's cautionary statement as `healthAdvice`;
- `europeanAirQualityLevel` — the EEA index level, `responsiblePollutant`, per-pollutant
  `levels`, and the EEA's `healthAdviceGeneral` / `healthAdviceSensitive`;
- `whoGuidelineExceedances` — the WHO 2021 short-term metrics exceeded, with every checked
  metric's concentration/guideline `ratios`;
- `reliability` — the share of hours present in the thinnest window behind the US AQI (0 when
  no sub-index could be computed), with `completeness` per pollutant and window.

Alerts (Smart Data Models dataModel.Alert, category "environment", subCategory "airPollution"):
raised when the AQI reaches `alert_raise_aqi`, updated when its severity changes, cleared (its
`validTo` set) once the AQI has stayed below `alert_clear_below` for `alert_clear_after_s`.

A call that brings no new observation (a redelivered event, an unchanged re-sent entity) writes
nothing. State is in memory and bounded: `max_stations` stations, 24 hours each.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from madina.domains import entity_values as ev
from madina.domains.environment import eaqi, epa_aqi, nowcast
from madina.domains.environment.averages import HOUR, HourlySeries, window_mean
from madina.domains.environment.settings import AirQualitySettings
from madina.domains.environment.units import UnitError, to_canonical, to_micrograms
from madina.domains.environment.who_guidelines import check_guidelines
from madina.domains.memory import recently_used
from madina.domains.writes import Write

ALERT_PREFIX = "urn:ngsi-ld:Alert:air-quality:"
US_AQI_REFERENCE = "EPA-454/B-24-002"
WHO_REFERENCE = "WHO global air quality guidelines (2021)"
_EUROPEAN_REFERENCE = "EEA European Air Quality Index ({} bands)"
_POLLUTANTS = ("pm25", "pm10", "o3", "no2", "so2", "co")  # evaluation and tie-break order
_HOURS_KEPT = 24
_DAY_METRIC = {pollutant: f"{pollutant}_24h" for pollutant in _POLLUTANTS}
_NOWCAST_METRIC = {pollutant: f"{pollutant}_nowcast" for pollutant in _POLLUTANTS}


@dataclass
class _AlertState:
    alert_id: str
    severity: str
    below_since: float | None = None


class _PollutantResult(NamedTuple):
    """What one pollutant's windows give, at one series version and window end."""

    key: tuple[int, int]  # (series version, hour the windows end at)
    sub_index: epa_aqi.SubIndex | None
    share: float  # completeness of the window behind the sub-index
    completeness: dict[str, float]  # window → share of its hours present
    european: float | None  # µg/m³, averaged as the European index wants
    who: tuple[tuple[str, float], ...]  # (WHO metric, µg/m³)


class _Station:
    __slots__ = ("alert", "hour", "last_stamps", "newest", "results", "series")

    def __init__(self) -> None:
        self.series: dict[str, HourlySeries] = {}
        self.last_stamps: dict[str, Any] = {}  # attribute name → last observedAt read
        self.newest = float("-inf")  # latest instant observed (Unix time)
        self.hour = -1  # the hour windows end at
        self.alert: _AlertState | None = None
        # Each pollutant's last result: reused while neither its series nor the window end
        # moved (devices that send one pollutant per message re-evaluate only that one).
        self.results: dict[str, _PollutantResult] = {}


@dataclass(frozen=True)
class _Evaluation:
    aqi: epa_aqi.UsAqi | None
    reliability: float
    completeness: dict[str, dict[str, float]]
    european: eaqi.EuropeanIndex | None
    who_concentrations: dict[str, float]


class AirQualityService:
    """Derives air-quality indices from AirQualityObserved entities (see the module docstring)."""

    watched_types: frozenset[str] = frozenset({"AirQualityObserved"})

    def __init__(self, settings: AirQualitySettings | None = None) -> None:
        self.settings = settings or AirQualitySettings()
        self._names = dict(self.settings.attribute_names)
        self._stations: OrderedDict[str, _Station] = OrderedDict()
        self._european_reference = _EUROPEAN_REFERENCE.format(self.settings.european_band_name)

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]:
        """The writes one entity change calls for (none when it brought no new observation)."""
        entity_id = entity.get("id")
        if not isinstance(entity_id, str) or entity.get("type") not in self.watched_types:
            return []
        station = self._station(entity_id)
        if not self._ingest(station, entity, now):
            return []
        evaluation = self._evaluate(station)
        writes = []
        attributes = self._attributes(station, evaluation)
        if attributes:
            writes.append(Write(entity_id, entity["type"], attributes))
        writes.extend(self._alerts(station, entity_id, entity, evaluation.aqi, now))
        return writes

    def _station(self, entity_id: str) -> _Station:
        return recently_used(self._stations, entity_id, _Station, self.settings.max_stations)

    def _ingest(self, station: _Station, entity: dict[str, Any], now: datetime) -> bool:
        """Count the entity's new observations; True when at least one was new."""
        settings = self.settings
        latest_allowed = now.timestamp() + settings.future_tolerance_s
        shift = 1 if settings.observed_at_is_period_end else 0
        fallback: Any = None
        newest = None
        parsed_stamp: Any = None
        parsed_second: float | None = None
        names = self._names
        for name in entity:  # an entity has fewer attributes than the names a city may use
            pollutant = names.get(name)
            if pollutant is None:
                continue
            instance = ev.attribute(entity, name)
            if instance is None or instance.get("type", "Property") != "Property":
                continue
            stamp = instance.get("observedAt")
            if stamp is None:
                if fallback is None:
                    fallback = ev.value(entity, "dateObserved") or now.isoformat()
                stamp = fallback
            if station.last_stamps.get(name) == stamp:
                continue
            station.last_stamps[name] = stamp
            if stamp != parsed_stamp:  # attributes of one update usually share their instant
                parsed_stamp, parsed_second = stamp, _instant(stamp)
            second = parsed_second
            value = ev.number(entity, name)
            if second is None or value is None or second > latest_allowed:
                continue
            unit = ev.unit_code(entity, name) or settings.default_unit_codes[pollutant]
            try:
                concentration = to_canonical(pollutant, value, unit, settings.molar_volume)
            except UnitError:
                continue
            if not math.isfinite(concentration):  # a finite value overflowing in conversion
                continue
            series = station.series.get(pollutant)
            if series is None:
                series = station.series[pollutant] = HourlySeries(_HOURS_KEPT)
            whole_second = int(second) - shift
            if series.add(whole_second, concentration) and (newest is None or second > newest):
                newest = second
        if newest is None:
            return False
        if newest > station.newest:
            station.newest = newest
            station.hour = (int(newest) - shift) // HOUR
        return True

    def _evaluate(self, station: _Station) -> _Evaluation:
        settings = self.settings
        sub_indices: list[epa_aqi.SubIndex] = []
        used: list[float] = []
        completeness: dict[str, dict[str, float]] = {}
        european: dict[str, float] = {}
        who: dict[str, float] = {}
        for pollutant in _POLLUTANTS:
            series = station.series.get(pollutant)
            if series is None:
                continue
            key = (series.version, station.hour)
            result = station.results.get(pollutant)
            if result is None or result.key != key:
                result = station.results[pollutant] = self._pollutant(
                    pollutant, series.recent(station.hour, _HOURS_KEPT), key)
            completeness[pollutant] = result.completeness
            if result.sub_index is not None:
                sub_indices.append(result.sub_index)
                used.append(result.share)
            if result.european is not None:
                european[pollutant] = result.european
            who.update(result.who)
        return _Evaluation(
            aqi=epa_aqi.overall(sub_indices),
            reliability=min(used) if used else 0.0,
            completeness=completeness,
            european=eaqi.european_index(
                european, settings.european_bands, settings.european_plausible_maximum),
            who_concentrations=who,
        )

    def _pollutant(
        self, pollutant: str, hours: list[float | None], key: tuple[int, int]
    ) -> _PollutantResult:
        """One pollutant's sub-index, completeness, European and WHO inputs from its hourly
        means (most recent first, canonical units)."""
        settings = self.settings
        breakpoints = settings.breakpoints
        molar_volume = settings.molar_volume
        one_hour = hours[0]
        day, day_present = window_mean(hours, 24, settings.min_hours_24h)
        record = {"1h": 0.0 if one_hour is None else 1.0, "24h": _SHARE[24][day_present]}
        sub_index: epa_aqi.SubIndex | None = None
        share = 1.0
        european: float | None = None
        who: tuple[tuple[str, float], ...] = ()
        if pollutant in ("pm25", "pm10"):
            record["nowcast"] = _SHARE[12][12 - hours[:12].count(None)]
            if settings.us_pm_averaging == "nowcast":
                concentration = nowcast.pm_nowcast(hours, settings.nowcast_recent_required)
                metric, share = _NOWCAST_METRIC[pollutant], record["nowcast"]
            else:
                concentration, metric, share = day, _DAY_METRIC[pollutant], record["24h"]
            if concentration is not None:
                sub_index = epa_aqi.simple_sub_index(
                    pollutant, metric, concentration, breakpoints, _DAY_METRIC[pollutant])
            european = day if settings.european_pm_averaging == "24h" else one_hour
            if day is not None:
                who = ((_DAY_METRIC[pollutant], day),)
        elif pollutant == "o3":
            eight, eight_present = window_mean(hours, 8, settings.min_hours_8h)
            record["8h"] = _SHARE[8][eight_present]
            if settings.us_o3_averaging == "nowcast":
                eight_hour = nowcast.ozone_nowcast(hours, settings.nowcast_recent_required)
                record["nowcast"] = record["8h"]  # the O3 NowCast spans the same 8 hours
            else:
                eight_hour = eight
            sub_index = epa_aqi.ozone_sub_index(eight_hour, one_hour, breakpoints)
            if sub_index is not None and sub_index.metric == "o3_8h":
                share = record["8h"]
                if settings.us_o3_averaging == "nowcast":
                    sub_index = epa_aqi.SubIndex("o3", sub_index.value, "o3_nowcast")
            if one_hour is not None:
                european = to_micrograms("o3", one_hour, molar_volume)
            if eight is not None:
                who = (("o3_8h", to_micrograms("o3", eight, molar_volume)),)
        elif pollutant == "co":
            eight, eight_present = window_mean(hours, 8, settings.min_hours_8h)
            record["8h"] = share = _SHARE[8][eight_present]
            if eight is not None:
                sub_index = epa_aqi.simple_sub_index("co", "co_8h", eight, breakpoints)
            if day is not None:
                who = (("co_24h", to_micrograms("co", day, molar_volume)),)
        else:  # no2, so2: hourly sub-indices, hourly European levels, 24-hour WHO levels
            if pollutant == "so2":
                sub_index = epa_aqi.sulfur_dioxide_sub_index(one_hour, day, breakpoints)
                if sub_index is not None and sub_index.metric == "so2_24h":
                    share = record["24h"]
            elif one_hour is not None:
                sub_index = epa_aqi.simple_sub_index("no2", "no2_1h", one_hour, breakpoints)
            if one_hour is not None:
                european = to_micrograms(pollutant, one_hour, molar_volume)
            if day is not None:
                who = ((_DAY_METRIC[pollutant], to_micrograms(pollutant, day, molar_volume)),)
        return _PollutantResult(key, sub_index, share, record, european, who)

    def _attributes(self, station: _Station, evaluation: _Evaluation) -> dict[str, Any]:
        settings = self.settings
        # One observedAt text for all attributes (formatting it is a measurable share of a call).
        observed = ev.iso(datetime.fromtimestamp(station.newest, UTC))
        attributes: dict[str, Any] = {}
        aqi = evaluation.aqi
        if aqi is not None:
            attributes["airQualityIndex"] = _observed(
                aqi.value, observed,
                referenceSpecification=US_AQI_REFERENCE,
                responsiblePollutant=aqi.responsible,
                subIndices={s.pollutant: s.value for s in aqi.sub_indices},
                averagingPeriods={s.pollutant: s.metric.split("_", 1)[1] for s in aqi.sub_indices},
            )
            level = _observed(aqi.category.name, observed,
                              referenceSpecification=US_AQI_REFERENCE, color=aqi.category.color)
            advice = epa_aqi.cautionary_statement(
                aqi.responsible, aqi.category.rank, settings.health_advice)
            if advice:
                level["healthAdvice"] = ev.prop(advice)
            attributes["airQualityLevel"] = level
        if evaluation.completeness:
            attributes["reliability"] = _observed(evaluation.reliability, observed,
                                                  completeness=evaluation.completeness)
        european = evaluation.european
        if european is not None:
            general, sensitive = eaqi.HEALTH_MESSAGES[european.level]
            attributes["europeanAirQualityLevel"] = _observed(
                european.level, observed,
                referenceSpecification=self._european_reference,
                responsiblePollutant=european.responsible,
                levels=european.levels,
                healthAdviceGeneral=general,
                healthAdviceSensitive=sensitive,
            )
        if evaluation.who_concentrations:
            check = check_guidelines(evaluation.who_concentrations, settings.who_guidelines)
            if check.ratios:
                attributes["whoGuidelineExceedances"] = _observed(
                    list(check.exceeded), observed,
                    referenceSpecification=WHO_REFERENCE, ratios=check.ratios)
        return attributes

    def _alerts(
        self, station: _Station, entity_id: str, entity: dict[str, Any],
        aqi: epa_aqi.UsAqi | None, now: datetime,
    ) -> list[Write]:
        """Raise, update or clear the station's air-pollution Alert (hysteresis on the AQI)."""
        if aqi is None:
            return []
        settings = self.settings
        severity = settings.alert_severity.get(aqi.category.name, "informational")
        state = station.alert
        if state is None:
            if aqi.value < settings.alert_raise_aqi:
                return []
            state = station.alert = _AlertState(
                f"{ALERT_PREFIX}{ev.id_part(entity_id)}:{int(station.newest)}", severity)
            attributes: dict[str, Any] = {
                "category": ev.prop("environment"),
                "subCategory": ev.prop("airPollution"),
                "severity": ev.prop(severity),
                **_alert_text(entity_id, aqi),
                "dateIssued": ev.date_time(now),
                "validFrom": ev.date_time(datetime.fromtimestamp(station.newest, UTC)),
                "alertSource": ev.rel(entity_id),
            }
            location = ev.attribute(entity, "location")
            if location is not None and location.get("type") == "GeoProperty":
                attributes["location"] = {"type": "GeoProperty", "value": location.get("value")}
            return [Write(state.alert_id, "Alert", attributes)]
        if aqi.value >= settings.alert_clear_below:
            state.below_since = None
            if severity == state.severity:
                return []
            state.severity = severity
            return [Write(state.alert_id, "Alert", {
                "severity": ev.prop(severity), **_alert_text(entity_id, aqi)})]
        if state.below_since is None:
            state.below_since = station.newest
        if station.newest - state.below_since < settings.alert_clear_after_s:
            return []
        station.alert = None
        return [Write(state.alert_id, "Alert", {
            "validTo": ev.date_time(datetime.fromtimestamp(station.newest, UTC)),
            **_alert_text(entity_id, aqi)})]


def _alert_text(entity_id: str, aqi: epa_aqi.UsAqi) -> dict[str, Any]:
    """An air-pollution Alert's `description` and `data` for the current AQI."""
    return {
        "description": ev.prop(f"US AQI {aqi.value} ({aqi.category.label}) at {entity_id}; "
                               f"responsible pollutant {aqi.responsible}."),
        "data": ev.prop({"airQualityIndex": aqi.value, "airQualityLevel": aqi.category.name,
                         "responsiblePollutant": aqi.responsible}),
    }


# Share of a window's hours present, by count, rounded for the written completeness.
_SHARE = {length: [round(count / length, 3) for count in range(length + 1)]
          for length in (8, 12, 24)}


def _instant(stamp: Any) -> float | None:
    """Unix time of an observedAt or dateObserved (an ISO interval's start), None if unreadable."""
    if not isinstance(stamp, str):
        return None
    moment = ev.parse_datetime(stamp.split("/", 1)[0])
    return None if moment is None else moment.timestamp()


def _observed(value: Any, observed_at: str, **sub_properties: Any) -> dict[str, Any]:
    """A Property observed at `observed_at` (ISO text), with sub-properties given as values."""
    attribute: dict[str, Any] = {"type": "Property", "value": value, "observedAt": observed_at}
    for name, sub_value in sub_properties.items():
        attribute[name] = {"type": "Property", "value": sub_value}
    return attribute
