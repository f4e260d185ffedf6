"""The reactive noise service: NoiseLevelObserved LAeq values become L_day, L_evening, L_night
and L_den per assessment day, and WHO 2018 guideline exceedances.

Each observation is an A-weighted equivalent level over an interval: the entity's
`dateObservedFrom`/`dateObservedTo` (Smart Data Models), else an ISO interval in `dateObserved`,
else the LAeq's `observedAt` taken as the end of a `default_interval_s` interval. Its sound energy
is split over the day/evening/night periods it covers (local clock hours of the city's timezone,
noise.py) of the assessment day it falls in — the 24 hours from the day period's start, so the
night after a day belongs to it. Intervals are assumed not to overlap; one already counted (same
start) is ignored, as is one longer than 24 hours, ending more than an hour after `now`, or
starting before the days kept.

Once observations reach past an assessment day's end, the service writes that day's levels to the
entity — `Lday`, `Levening`, `Lnight` (each once its period is covered to `min_period_coverage`)
and `Lden` (when all three are), in dB (`unitCode` "2N"), observed at the day's end, with their
`coverage` — and `noiseGuidelineExceedances`: the indicators above the WHO levels of the
configured noise source, with every period's `coverage` (also of those too thin to report).
Late data for that day rewrites them; nothing is written when nothing changed. State is in
memory and bounded: `days_kept` days per station, `max_stations` stations.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from madina.domains import entity_values as ev
from madina.domains.environment import noise
from madina.domains.environment.settings import NoiseSettings
from madina.domains.memory import recently_used
from madina.domains.writes import Write

END_REFERENCE = "Directive 2002/49/EC, Annex I"
WHO_NOISE_REFERENCE = "WHO Environmental Noise Guidelines for the European Region (2018)"
DECIBEL = "2N"  # UN/CEFACT common code
_LONGEST_INTERVAL_S = 86_400
_FUTURE_TOLERANCE_S = 3600
# Levels outside these are instrument errors (194 dB is a sound wave's limit in air at 1 atm).
_QUIETEST_DB, _LOUDEST_DB = -20.0, 200.0
_INDICATORS = (("Lday", 0), ("Levening", 1), ("Lnight", 2))


class _Day:
    """Energy and measured time of one assessment day's three periods."""

    __slots__ = ("bounds", "covered", "energy", "starts")

    def __init__(self, bounds: tuple[float, float, float, float]) -> None:
        self.bounds = bounds  # day, evening, night starts and the next day's start (Unix time)
        self.energy = [0.0, 0.0, 0.0]
        self.covered = [0.0, 0.0, 0.0]
        self.starts: set[float] = set()  # interval starts counted (redelivery guard)


class _Station:
    __slots__ = ("days", "emitted", "newest_end")

    def __init__(self) -> None:
        self.days: dict[int, _Day] = {}
        self.newest_end = float("-inf")
        self.emitted: tuple[Any, ...] | None = None


class NoiseService:
    """Derives L_den and L_night from NoiseLevelObserved entities (see the module docstring)."""

    watched_types: frozenset[str] = frozenset({"NoiseLevelObserved"})

    def __init__(self, settings: NoiseSettings | None = None) -> None:
        self.settings = settings = settings or NoiseSettings()
        self._zone = ZoneInfo(settings.timezone)
        self._starts = (settings.day_start_hour, settings.evening_start_hour,
                        settings.night_start_hour)
        day_hours, evening_hours, _ = noise.period_lengths(*self._starts)
        self._offsets = (day_hours, day_hours + evening_hours, 24)  # hours after the day start
        self._guidelines = dict(settings.who_guidelines[settings.noise_source])
        self._stations: OrderedDict[str, _Station] = OrderedDict()

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]:
        """The writes one entity change calls for (none when no day's levels changed)."""
        entity_id = entity.get("id")
        if not isinstance(entity_id, str) or entity.get("type") not in self.watched_types:
            return []
        level_db = ev.number(entity, self.settings.attribute)
        span = self._interval(entity, now)
        if level_db is None or not _QUIETEST_DB <= level_db <= _LOUDEST_DB or span is None:
            return []
        station = self._station(entity_id)
        if not self._add(station, span[0], span[1], level_db):
            return []
        return self._report(station, entity_id, entity["type"])

    def _interval(self, entity: dict[str, Any], now: datetime) -> tuple[float, float] | None:
        start = ev.parse_datetime(ev.value(entity, "dateObservedFrom"))
        end = ev.parse_datetime(ev.value(entity, "dateObservedTo"))
        if start is None or end is None:
            observed = ev.value(entity, "dateObserved")
            if isinstance(observed, str) and "/" in observed:
                start_text, end_text = observed.split("/", 1)
                start, end = ev.parse_datetime(start_text), ev.parse_datetime(end_text)
            if start is None or end is None:
                end = ev.observed_at(entity, self.settings.attribute) or now
                start = end - timedelta(seconds=self.settings.default_interval_s)
        start, end = start.timestamp(), end.timestamp()
        # Nothing later than the clock allows, nor older than the days kept could take it.
        earliest = now.timestamp() - (self.settings.days_kept + 1) * _LONGEST_INTERVAL_S
        if not earliest <= start < end <= now.timestamp() + _FUTURE_TOLERANCE_S:
            return None
        if end - start > _LONGEST_INTERVAL_S:
            return None
        return start, end

    def _station(self, entity_id: str) -> _Station:
        return recently_used(self._stations, entity_id, _Station, self.settings.max_stations)

    def _day_of(self, second: float) -> int:
        """The assessment day (an ordinal) a moment belongs to: local date of the last day start."""
        local = datetime.fromtimestamp(second, self._zone)
        return (local - timedelta(hours=self._starts[0])).date().toordinal()

    def _bounds(self, ordinal: int) -> tuple[float, float, float, float]:
        first = datetime.combine(date.fromordinal(ordinal), datetime.min.time())
        first += timedelta(hours=self._starts[0])
        day_start = first.replace(tzinfo=self._zone).timestamp()
        rest = [(first + timedelta(hours=offset)).replace(tzinfo=self._zone).timestamp()
                for offset in self._offsets]
        return day_start, rest[0], rest[1], rest[2]

    def _add(self, station: _Station, start: float, end: float, level_db: float) -> bool:
        """Spread the interval's energy over the periods it covers; False if nothing was new."""
        first_day = self._day_of(start)
        newest_day = max(self._day_of(max(end, station.newest_end) - 1), first_day)
        oldest_kept = newest_day - self.settings.days_kept + 1
        if first_day < oldest_kept:
            return False
        day = station.days.get(first_day)
        if day is not None and start in day.starts:
            return False
        energy = noise.energy(level_db)
        moment, ordinal = start, first_day
        while moment < end:
            day = station.days.get(ordinal)
            if day is None:
                day = station.days[ordinal] = _Day(self._bounds(ordinal))
            if ordinal == first_day:
                day.starts.add(start)
            bounds = day.bounds
            for period in range(3):
                overlap = min(end, bounds[period + 1]) - max(moment, bounds[period])
                if overlap > 0:
                    day.energy[period] += energy * overlap
                    day.covered[period] += overlap
            moment, ordinal = bounds[3], ordinal + 1
        station.newest_end = max(station.newest_end, end)
        for old in [ordinal for ordinal in station.days if ordinal < oldest_kept]:
            del station.days[old]
        return True

    def _report(self, station: _Station, entity_id: str, entity_type: str) -> list[Write]:
        """Levels of the latest assessment day the observations have passed the end of."""
        complete = [ordinal for ordinal, day in station.days.items()
                    if day.bounds[3] <= station.newest_end]
        if not complete:
            return []
        ordinal = max(complete)
        day = station.days[ordinal]
        settings = self.settings
        lengths = [day.bounds[period + 1] - day.bounds[period] for period in range(3)]
        levels: dict[str, float] = {}
        coverage: dict[str, float] = {}
        for name, period in _INDICATORS:
            share = day.covered[period] / lengths[period]
            coverage[name] = round(share, 3)
            if day.covered[period] > 0 and share >= settings.min_period_coverage:
                levels[name] = noise.level(day.energy[period] / day.covered[period])
        if len(levels) == 3:
            levels["Lden"] = noise.lden(
                levels["Lday"], levels["Levening"], levels["Lnight"],
                lengths[0] / 3600, lengths[1] / 3600, lengths[2] / 3600,
                settings.evening_penalty_db, settings.night_penalty_db)
            coverage["Lden"] = min(coverage.values())
        rounded = {name: round(value, 1) for name, value in levels.items()}
        signature = (ordinal, tuple(sorted(rounded.items())), tuple(sorted(coverage.items())))
        if signature == station.emitted or not rounded:
            return []
        station.emitted = signature
        observed = datetime.fromtimestamp(day.bounds[3], UTC)
        period_start = ev.iso(datetime.fromtimestamp(day.bounds[0], UTC))
        attributes: dict[str, Any] = {}
        for name, value in rounded.items():
            attribute = ev.prop(value, observed, DECIBEL)
            attribute["coverage"] = ev.prop(coverage[name])
            attribute["periodStart"] = ev.prop(period_start)
            attribute["referenceSpecification"] = ev.prop(END_REFERENCE)
            attributes[name] = attribute
        exceedances = ev.prop(list(noise.guideline_exceedances(rounded, self._guidelines)),
                              observed)
        exceedances["coverage"] = ev.prop(coverage)
        exceedances["noiseSource"] = ev.prop(settings.noise_source)
        exceedances["guidelines"] = ev.prop(self._guidelines)
        exceedances["referenceSpecification"] = ev.prop(WHO_NOISE_REFERENCE)
        attributes["noiseGuidelineExceedances"] = exceedances
        return [Write(entity_id, entity_type, attributes)]
