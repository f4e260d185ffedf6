"""What the demo city publishes once: its static things as NGSI-LD entities (the road segments
the loops measure, the metered public buildings) and its Open311 catalogue (services, and one
maintenance department per district serving every request made inside it)."""

from __future__ import annotations

from typing import Any

from madina.sim import geodata
from madina.sim.recording import LoopDetector, Recording
from madina.sim.recording import load as load_recording
from madina.sim.sensors import distance_m, public_buildings, road_segment_id

JURISDICTION = "demo.helsinki.madina"
CITY_TIMEZONE = "Europe/Helsinki"
SERVICES = (
    {"service_code": "pothole", "service_name": "Pothole", "group": "streets",
     "description": "A hole or a broken surface in a street, cycle path or pavement",
     "keywords": ["road", "hole", "asphalt"], "type": "realtime",
     "service_notice": "Dangerous potholes are made safe within 24 hours.",
     "attributes": [{"code": "size", "datatype": "singlevaluelist", "required": True,
                     "order": 1, "description": "How big is it?",
                     "values": [{"key": "small", "name": "Smaller than a hand"},
                                {"key": "medium", "name": "Up to a plate"},
                                {"key": "large", "name": "Larger than a plate"}]}]},
    {"service_code": "streetlight", "service_name": "Broken streetlight", "group": "lighting",
     "description": "A streetlight that is dark, flickers, or is damaged",
     "keywords": ["lamp", "light", "dark"], "type": "realtime",
     "attributes": [{"code": "problem", "datatype": "singlevaluelist", "required": True,
                     "order": 1, "description": "What is wrong with it?",
                     "values": [{"key": "dark", "name": "It is dark"},
                                {"key": "flickering", "name": "It flickers"},
                                {"key": "damaged", "name": "The pole or lamp is damaged"}]}]},
    {"service_code": "litter", "service_name": "Litter", "group": "cleaning",
     "description": "Litter, an overflowing bin or dumped rubbish",
     "keywords": ["rubbish", "bin", "trash"], "type": "realtime",
     "attributes": [{"code": "kind", "datatype": "singlevaluelist", "required": False,
                     "order": 1, "description": "What kind of mess?",
                     "values": [{"key": "bin", "name": "An overflowing bin"},
                                {"key": "dumped", "name": "Dumped rubbish"},
                                {"key": "litter", "name": "Scattered litter"}]}]},
)
GROUPS = ({"code": "streets", "name": "Streets"}, {"code": "lighting", "name": "Lighting"},
          {"code": "cleaning", "name": "Cleaning"})


def district_slug(name: str) -> str:
    table = str.maketrans({"ä": "a", "ö": "o", "å": "a", "Ä": "a", "Ö": "o", "Å": "a"})
    return name.translate(table).lower().replace(" ", "-")


def catalogue() -> dict[str, Any]:
    """The Open311 catalogue document (the admin API's `PUT /open311/v2/admin/catalogue`)."""
    west, south, east, north = geodata.bounds()
    boundary = {"type": "Polygon", "coordinates": [[
        [west, south], [east, south], [east, north], [west, north], [west, south]]]}
    departments = []
    for feature in geodata.layer("districts")["features"]:
        name = feature["properties"]["name"]
        departments.append({
            "code": f"maintenance-{district_slug(name)}",
            "name": f"{name} street maintenance",
            "service_areas": [{"service_code": s["service_code"], "area": feature["geometry"]}
                              for s in SERVICES],
        })
    return {
        "jurisdiction": {"jurisdiction_id": JURISDICTION, "name": "Helsinki (Madina demo)",
                         "boundary": boundary, "contact": "demo@madina.invalid",
                         "service_notice": "This is the Madina demo city: reports are "
                                           "simulated."},
        "groups": list(GROUPS),
        "services": [dict(service) for service in SERVICES],
        "departments": departments,
    }


def static_entities(recording: Recording) -> list[dict[str, Any]]:
    """RoadSegment and Building entities in normalized form, under the core @context."""
    return [*road_segments(recording), *buildings()]


def road_segments(recording: Recording) -> list[dict[str, Any]]:
    entities = []
    for segment, detectors in recording.segments().items():
        first = detectors[0]
        entity: dict[str, Any] = {
            "id": road_segment_id(segment),
            "type": "RoadSegment",
            "name": {"type": "Property", "value": first.street},
            "totalLaneNumber": {"type": "Property", "value": first.lanes},
            "maximumAllowedSpeed": {"type": "Property", "value": first.speed_limit_kmh,
                                    "unitCode": "KMH"},
            "location": {"type": "GeoProperty", "value": _street_line(first)},
        }
        entities.append(entity)
    return entities


def _street_line(detector: LoopDetector) -> dict[str, Any]:
    """The OpenStreetMap street piece of the segment's name nearest its loops (a point when
    the map has no street of that name)."""
    best, best_distance = None, float("inf")
    for feature in geodata.layer("streets")["features"]:
        if feature["properties"].get("name") != detector.street:
            continue
        for lon, lat in feature["geometry"]["coordinates"]:
            d = distance_m(lon, lat, detector.lon, detector.lat)
            if d < best_distance:
                best, best_distance = feature["geometry"], d
    return best or {"type": "Point", "coordinates": [detector.lon, detector.lat]}


def buildings() -> list[dict[str, Any]]:
    return [{
        "id": building.id,
        "type": "Building",
        "name": {"type": "Property", "value": building.name},
        "category": {"type": "Property", "value": [building.category]},
        "floorsAboveGround": {"type": "Property", "value": building.storeys},
        "floorArea": {"type": "Property", "value": building.floor_area_m2, "unitCode": "MTK"},
        "location": {"type": "GeoProperty", "value": building.footprint},
    } for building in public_buildings()]


def domains_config() -> str:
    """The demo city's settings for the domain services, as the TOML file a city writes
    (`MADINA_DOMAINS_CONFIG`; docs/domains.md): Helsinki's time zone, each road segment's
    speed limit as its free-flow prior, each metered building's floor area and district."""
    lines = ["# The demo city's domain settings, written by `madina demo` (madina/sim/city.py).",
             "", "[domains.traffic]", f'timezone = "{CITY_TIMEZONE}"']
    for segment, detectors in load_recording().segments().items():
        lines += ["", f'[domains.traffic.segments."{road_segment_id(segment)}"]',
                  f"free_flow_prior_kmh = {detectors[0].speed_limit_kmh}"]
    lines += ["", "[domains.energy]", f'timezone = "{CITY_TIMEZONE}"']
    for building in public_buildings():
        district = geodata.district_of(building.lon, building.lat)
        lines += ["", f'[domains.energy.buildings."{building.id}"]',
                  f"floor_area_m2 = {building.floor_area_m2}"]
        if district:
            lines.append(f'district = "{district}"')
    lines += ["", "[domains.environment.noise]", f'timezone = "{CITY_TIMEZONE}"', ""]
    return "\n".join(lines)
