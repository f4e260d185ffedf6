"""The demo city's devices: where each sensor stands, how it is provisioned (FIWARE IoT Agent
service groups and devices) and what it measures at a given time.

Places are real: loops where SUMO's detectors were, air-quality and noise sensors at the
kerb of the busiest recorded streets (the first at HSY's Mannerheimintie station), meters in
the city's named public buildings of the OpenStreetMap extract (floor area = footprint ×
storeys), tide gauges on its shoreline, the weather station in Kaisaniemi park where the Finnish
Meteorological Institute has one. Readings come from `scenario` and the traffic `recording`;
each reading is a dict of UltraLight keys to values, or None when the sensor has nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from madina.sim import geodata, scenario
from madina.sim.clock import CITY_ZONE
from madina.sim.recording import MINUTES_PER_DAY, LoopDetector, Recording

NGSI = "urn:ngsi-ld"
RESOURCE = "/iot/d"
DEFAULT_STOREYS = 4
"""Central Helsinki's usual height, for buildings OpenStreetMap gives no storeys for."""
PUBLIC_AMENITIES = frozenset({"townhall", "library", "fire_station", "theatre", "courthouse"})
PUBLIC_BUILDINGS = frozenset({"public", "school", "university", "train_station"})
MIN_METERED_FOOTPRINT_M2 = 800.0
MAX_METERED_BUILDINGS = 10
NEAR_STREET_M = 250.0
FLOW_WINDOW_MIN = 10
"""Minutes of loop counts averaged into the traffic an air-quality or noise sensor sees."""
WEATHER_STATION = ("kaisaniemi", "Kaisaniemi weather station", 24.9446, 60.1751)
AIR_STATION_HSY = ("mannerheimintie", "Mannerheimintie air quality station", 24.9394, 60.1697)


@dataclass(frozen=True)
class Measure:
    key: str
    """The UltraLight key (object_id)."""
    name: str
    type: str = "Number"
    unit: str | None = None

    def provisioning(self) -> dict[str, Any]:
        body: dict[str, Any] = {"object_id": self.key, "name": self.name, "type": self.type}
        if self.unit:
            body["metadata"] = {"unitCode": {"type": "Text", "value": self.unit}}
        return body


@dataclass(frozen=True)
class Kind:
    """A kind of device: one service group (apikey) and what its devices report."""

    apikey: str
    entity_type: str
    period_s: int
    measures: tuple[Measure, ...]

    def group(self) -> dict[str, Any]:
        return {"apikey": self.apikey, "resource": RESOURCE, "entity_type": self.entity_type,
                "protocol": "PDI-IoTA-UltraLight", "transport": "MQTT",
                "attributes": [m.provisioning() for m in self.measures]}


LOOP = Kind("sim-traffic", "TrafficFlowObserved", 300, (
    Measure("f", "intensity"), Measure("o", "occupancy", unit="C62"),
    Measure("s", "averageVehicleSpeed", unit="KMH"), Measure("d", "dateObserved", "Text"),
))
AIR = Kind("sim-air", "AirQualityObserved", 600, (
    Measure("no2", "no2", unit="GQ"), Measure("pm25", "pm25", unit="GQ"),
    Measure("pm10", "pm10", unit="GQ"), Measure("o3", "o3", unit="GQ"),
))
NOISE = Kind("sim-noise", "NoiseLevelObserved", 300, (
    Measure("l", "LAeq", unit="2N"), Measure("d", "dateObserved", "Text"),
))
METER = Kind("sim-energy", "ACMeasurement", 900, (
    Measure("e", "totalActiveEnergyImport", unit="KWH"),
    Measure("p", "totalActivePower", unit="KWT"),
))
GAUGE = Kind("sim-water", "FloodMonitoring", 300, (Measure("h", "currentLevel", unit="MTR"),))
WEATHER = Kind("sim-weather", "WeatherObserved", 600, (
    Measure("t", "temperature", unit="CEL"), Measure("rh", "relativeHumidity", unit="C62"),
    Measure("ws", "windSpeed", unit="MTS"), Measure("wd", "windDirection", unit="DD"),
    Measure("p", "atmosphericPressure", unit="A97"), Measure("r", "precipitation", unit="H67"),
))
KINDS = (LOOP, AIR, NOISE, METER, GAUGE, WEATHER)


@dataclass
class Sensor:
    kind: Kind
    device_id: str
    name: str
    lon: float
    lat: float
    read: Callable[[datetime], dict[str, str] | None]
    static: list[dict[str, Any]] = field(default_factory=list)

    @property
    def entity_id(self) -> str:
        return f"{NGSI}:{self.kind.entity_type}:{self.device_id}"

    def device(self) -> dict[str, Any]:
        static = [
            {"name": "location", "type": "geo:point", "value": f"{self.lon}, {self.lat}"},
            {"name": "name", "type": "Text", "value": self.name},
            *self.static,
        ]
        return {"device_id": self.device_id, "entity_name": self.entity_id,
                "entity_type": self.kind.entity_type, "apikey": self.kind.apikey,
                "transport": "MQTT", "static_attributes": static}


def hour_of_day(at: datetime) -> tuple[float, int]:
    """(local hours since midnight, weekday) in Helsinki."""
    local = at.astimezone(CITY_ZONE)
    return local.hour + local.minute / 60 + local.second / 3600, local.weekday()


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1 else f"{value:.1f}"


def _interval(at: datetime, period_s: int) -> str:
    start = at - timedelta(seconds=period_s)
    return f"{start.strftime('%Y-%m-%dT%H:%M:%SZ')}/{at.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance: exact enough over a few kilometres."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6_371_000 * math.hypot(x, math.radians(lat2 - lat1))


class Traffic:
    """Flow and speed from the recording, by minute of the local day."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording

    def minute(self, detector: str, at: datetime) -> Any:
        hour, _ = hour_of_day(at)
        return self.recording.minutes[detector][int(hour * 60) % MINUTES_PER_DAY]

    def flow(self, detectors: list[LoopDetector], at: datetime) -> tuple[float, float | None]:
        """(veh/h over the last FLOW_WINDOW_MIN minutes, mean speed km/h) of these loops."""
        vehicles, speed_sum, passed = 0, 0.0, 0
        for back in range(FLOW_WINDOW_MIN):
            moment = at - timedelta(minutes=back)
            for detector in detectors:
                row = self.minute(detector.id, moment)
                if row is None:
                    continue
                vehicles += row.vehicles
                if row.speed_kmh is not None and row.vehicles:
                    speed_sum += row.speed_kmh * row.vehicles
                    passed += row.vehicles
        return vehicles * 60 / FLOW_WINDOW_MIN, (speed_sum / passed if passed else None)


def build(recording: Recording, seed: int) -> list[Sensor]:
    """Every sensor of the demo city."""
    traffic = Traffic(recording)
    return [*loops(recording, traffic), *air_stations(recording, traffic, seed),
            *noise_sensors(recording, traffic, seed), *meters(seed), *gauges(seed),
            weather_station(seed)]


def loops(recording: Recording, traffic: Traffic) -> list[Sensor]:
    """A loop station per lane, reporting the recorded minutes aggregated over its period, as
    roadside stations commonly do (vehicles summed, occupancy averaged, speed averaged over the
    vehicles): the traffic service's thresholds are set for 5-minute data, and single minutes
    of a city street are too few vehicles to tell an incident from chance."""
    sensors = []
    minutes = LOOP.period_s // 60
    for detector in recording.detectors:
        def read(at: datetime, detector: LoopDetector = detector) -> dict[str, str] | None:
            rows = [traffic.minute(detector.id, at - timedelta(minutes=back, seconds=1))
                    for back in range(minutes)]
            rows = [row for row in rows if row is not None]
            if not rows:
                return None
            vehicles = sum(row.vehicles for row in rows)
            timed = [row for row in rows if row.speed_kmh is not None and row.vehicles]
            values = {"f": str(vehicles),
                      "o": _number(sum(row.occupancy for row in rows) / len(rows)),
                      "d": _interval(at, LOOP.period_s)}
            if timed:
                speed = sum(r.speed_kmh * r.vehicles for r in timed) / sum(r.vehicles
                                                                           for r in timed)
                values["s"] = _number(speed)
            return values

        sensors.append(Sensor(
            LOOP, detector.id, f"{detector.street}, lane {detector.lane + 1}", detector.lon,
            detector.lat, read, [
                {"name": "refRoadSegment", "type": "Relationship",
                 "value": road_segment_id(detector.segment)},
                {"name": "laneId", "type": "Number", "value": detector.lane + 1},
            ]))
    return sensors


def road_segment_id(segment: str) -> str:
    return f"{NGSI}:RoadSegment:{segment}"


def busiest_segments(recording: Recording, count: int) -> list[list[LoopDetector]]:
    """The segments with most vehicles over the day, spaced at least NEAR_STREET_M apart."""
    totals = []
    for detectors in recording.segments().values():
        vehicles = sum(row.vehicles for d in detectors for row in recording.minutes[d.id] if row)
        totals.append((-vehicles, detectors[0].segment, detectors))
    chosen: list[list[LoopDetector]] = []
    for _, _, detectors in sorted(totals):
        first = detectors[0]
        if all(distance_m(first.lon, first.lat, c[0].lon, c[0].lat) >= NEAR_STREET_M
               for c in chosen):
            chosen.append(detectors)
        if len(chosen) == count:
            break
    return chosen


def nearby(recording: Recording, lon: float, lat: float) -> list[LoopDetector]:
    """The loops within NEAR_STREET_M, or the nearest segment's when none is."""
    found = [d for d in recording.detectors if distance_m(lon, lat, d.lon, d.lat) <= NEAR_STREET_M]
    if found:
        return found
    nearest = min(recording.detectors, key=lambda d: distance_m(lon, lat, d.lon, d.lat))
    return [d for d in recording.detectors if d.segment == nearest.segment]


def air_stations(recording: Recording, traffic: Traffic, seed: int) -> list[Sensor]:
    places = [AIR_STATION_HSY]
    for detectors in busiest_segments(recording, 4):
        first = detectors[0]
        if distance_m(first.lon, first.lat, AIR_STATION_HSY[2], AIR_STATION_HSY[3]) < 200:
            continue
        places.append((first.segment, f"{first.street} air quality sensor",
                       round(first.lon + 0.00012, 6), round(first.lat + 0.00008, 6)))
    sensors = []
    for slug, name, lon, lat in places[:4]:
        around = nearby(recording, lon, lat)

        def read(at: datetime, slug: str = slug,
                 around: list[LoopDetector] = around) -> dict[str, str] | None:
            hour, _ = hour_of_day(at)
            flow, _ = traffic.flow(around, at)
            values = scenario.air_quality(hour, seed, slug, flow)
            return {key: _number(value) for key, value in values.items()}

        sensors.append(Sensor(AIR, f"air-{slug}", name, lon, lat, read))
    return sensors


def noise_sensors(recording: Recording, traffic: Traffic, seed: int) -> list[Sensor]:
    sensors = []
    for detectors in busiest_segments(recording, 4):
        first = detectors[0]
        lon, lat = round(first.lon - 0.0001, 6), round(first.lat - 0.00006, 6)

        def read(at: datetime, slug: str = first.segment,
                 around: list[LoopDetector] = detectors) -> dict[str, str] | None:
            hour, _ = hour_of_day(at)
            flow, speed = traffic.flow(around, at)
            level = scenario.road_noise(hour, seed, slug, flow, speed)
            return {"l": _number(level), "d": _interval(at, NOISE.period_s)}

        sensors.append(Sensor(NOISE, f"noise-{first.segment}", f"{first.street} noise sensor",
                              lon, lat, read))
    return sensors


@dataclass(frozen=True)
class PublicBuilding:
    id: str
    name: str
    category: str
    floor_area_m2: float
    storeys: int
    footprint: dict[str, Any]
    lon: float
    lat: float


@cache
def public_buildings() -> tuple[PublicBuilding, ...]:
    """The largest named public buildings of the extract (see the module doc)."""
    found = []
    for feature in geodata.layer("buildings")["features"]:
        props = feature["properties"]
        public = props.get("amenity") in PUBLIC_AMENITIES or props["building"] in PUBLIC_BUILDINGS
        if not (public and props.get("name") and props["footprint_m2"] >= MIN_METERED_FOOTPRINT_M2):
            continue
        storeys = props.get("levels") or DEFAULT_STOREYS
        ring = feature["geometry"]["coordinates"][0]
        if feature["geometry"]["type"] == "MultiPolygon":
            ring = ring[0]
        lon = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
        lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
        found.append(PublicBuilding(
            f"{NGSI}:Building:osm-{props['osm_id']}", props["name"],
            props.get("amenity") or props["building"],
            round(props["footprint_m2"] * storeys), storeys, feature["geometry"],
            round(lon, 6), round(lat, 6)))
    found.sort(key=lambda b: (-b.floor_area_m2, b.id))
    return tuple(found[:MAX_METERED_BUILDINGS])


def meters(seed: int) -> list[Sensor]:
    sensors = []
    for building in public_buildings():
        register = _Register(seed, building)

        def read(at: datetime, register: _Register = register) -> dict[str, str] | None:
            total, power = register.at(at)
            return {"e": f"{total:.2f}", "p": _number(power)}

        device = f"meter-{building.id.rsplit(':', 1)[-1]}"
        address = {"addressLocality": "Helsinki", "addressCountry": "FI",
                   "district": geodata.district_of(building.lon, building.lat)}
        sensors.append(Sensor(METER, device, f"{building.name} electricity meter",
                              building.lon, building.lat, read, [
                                  {"name": "refBuilding", "type": "Relationship",
                                   "value": building.id},
                                  # The energy service sums buildings per address.district.
                                  {"name": "address", "type": "Property", "value": address}]))
    return sensors


class _Register:
    """An energy register: kWh counted 15 minutes at a time from the load profile since
    1 January 2020. The scripted day repeats (only weekdays and weekends differ), so the count
    up to any midnight is a sum over whole days, and every replay gives the same readings."""

    EPOCH = date(2020, 1, 1)

    def __init__(self, seed: int, building: PublicBuilding) -> None:
        self.seed = seed
        self.building = building
        self._profiles: dict[bool, list[float]] = {}
        self._day: date | None = None
        self._day_start = 0.0

    def at(self, at: datetime) -> tuple[float, float]:
        local = at.astimezone(CITY_ZONE)
        day = local.date()
        if self._day != day:
            self._day = day
            self._day_start = self._before(day)
        profile = self._profile(day.weekday() >= 5)
        elapsed = local.hour * 3600 + local.minute * 60 + local.second
        step = min(elapsed // METER.period_s, len(profile) - 1)
        hour, weekday = hour_of_day(at)
        power = scenario.building_load(hour, weekday, self.seed, self.building.id,
                                       self.building.floor_area_m2)
        return self._day_start + profile[step], power

    def _before(self, day: date) -> float:
        days = (day - self.EPOCH).days
        weeks, rest = divmod(days, 7)
        weekend_days = weeks * 2 + sum(
            1 for n in range(rest) if (self.EPOCH + timedelta(days=weeks * 7 + n)).weekday() >= 5)
        return ((days - weekend_days) * self._profile(False)[-1]
                + weekend_days * self._profile(True)[-1])

    def _profile(self, weekend: bool) -> list[float]:
        """kWh since midnight at each 15-minute step of a weekday's (or weekend day's) script."""
        if weekend not in self._profiles:
            weekday = 5 if weekend else 0
            total, values = 0.0, [0.0]
            for step in range(MINUTES_PER_DAY * 60 // METER.period_s):
                hour = (step + 0.5) * METER.period_s / 3600
                total += scenario.building_load(
                    hour, weekday, self.seed, self.building.id, self.building.floor_area_m2,
                ) * METER.period_s / 3600
                values.append(total)
            self._profiles[weekend] = values
        return self._profiles[weekend]


def gauges(seed: int) -> list[Sensor]:
    """Tide gauges at the shoreline's ends and middle (Kauppatori harbour first)."""
    lines = [f["geometry"]["coordinates"] for f in geodata.layer("water")["features"]
             if f["properties"]["natural"] == "coastline"]
    lines.sort(key=len)
    harbour = lines[0][len(lines[0]) // 2]
    longest = lines[-1]
    places = [
        ("kauppatori", "Kauppatori harbour tide gauge", harbour, 1.0),
        ("siltavuorensalmi", "Siltavuorensalmi tide gauge", longest[0], 0.95),
        ("eläintarhanlahti".replace("ä", "a"), "Eläintarhanlahti tide gauge",
         longest[len(longest) // 2], 0.9),
    ]
    sensors = []
    for slug, name, (lon, lat), exposure in places:
        def read(at: datetime, slug: str = slug, exposure: float = exposure) -> dict[str, str]:
            hour, _ = hour_of_day(at)
            return {"h": f"{scenario.sea_level(hour, seed, slug, exposure):.3f}"}

        sensors.append(Sensor(GAUGE, f"gauge-{slug}", name, lon, lat, read, [
            {"name": "alertLevel", "type": "Number", "value": scenario.ALERT_LEVEL_M},
            {"name": "dangerLevel", "type": "Number", "value": scenario.DANGER_LEVEL_M},
        ]))
    return sensors


def weather_station(seed: int) -> Sensor:
    slug, name, lon, lat = WEATHER_STATION

    def read(at: datetime) -> dict[str, str]:
        hour, _ = hour_of_day(at)
        return {
            "t": f"{scenario.temperature(hour, seed):.1f}",
            "rh": f"{scenario.relative_humidity(hour, seed):.2f}",
            "ws": f"{scenario.wind_speed(hour, seed):.1f}",
            "wd": f"{scenario.wind_direction(hour, seed):.0f}",
            "p": f"{scenario.pressure(hour, seed):.1f}",
            "r": f"{scenario.precipitation(hour, seed):.1f}",
        }

    return Sensor(WEATHER, f"weather-{slug}", name, lon, lat, read)
