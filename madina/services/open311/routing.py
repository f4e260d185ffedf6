"""Where a request belongs: inside the city's boundary, and to the department whose service area
for its service holds the location (FixMyStreet's "bodies with categories per area", so a
citizen never has to know who is responsible)."""

from __future__ import annotations

import functools

import orjson
import shapely
from shapely import Geometry, prepare
from shapely.geometry import shape

from madina.services.open311.catalogue import Catalogue, Jurisdiction, Service
from madina.services.open311.errors import Open311Error, bad_request
from madina.store.open311 import Doc


@functools.lru_cache(maxsize=256)
def _geometry(text: bytes) -> Geometry:
    """Prepared geometries by their JSON text: the areas of the alerts around a new request
    are parsed once per process, not on every request."""
    geometry = shape(orjson.loads(text))
    prepare(geometry)
    return geometry


def covers(area: Doc, lat: float, lon: float) -> bool:
    """Whether the polygon (an alert's area) holds the point (a point on its edge counts as
    inside: for a point, intersecting is covering, and intersects_xy spares building a
    Point)."""
    return _holds(_geometry(orjson.dumps(area, option=orjson.OPT_SORT_KEYS)), lat, lon)


def _holds(geometry: Geometry, lat: float, lon: float) -> bool:
    return bool(shapely.intersects_xy(geometry, lon, lat))


def check_inside(catalogue: Catalogue, jurisdiction: Jurisdiction, lat: float,
                 lon: float) -> None:
    if catalogue.boundary_shape is None or not _holds(catalogue.boundary_shape, lat, lon):
        raise bad_request(
            f"the location (lat {lat}, long {lon}) is outside the boundary of "
            f"{jurisdiction.name} (jurisdiction {jurisdiction.id}); requests there go to "
            "another authority")


def serving(catalogue: Catalogue, service: Service) -> list[str]:
    """The departments with an area for the service, by code."""
    return list(dict.fromkeys(d for d, _ in catalogue.service_areas.get(service.code, ())))


def department_at(catalogue: Catalogue, jurisdiction: Jurisdiction, service: Service,
                  lat: float, lon: float) -> str:
    """The first department (by code) whose area for `service` holds the point; outside every
    area is refused."""
    for department, area in catalogue.service_areas.get(service.code, ()):
        if _holds(area, lat, lon):
            return department
    raise Open311Error(
        400,
        f"no department of {jurisdiction.name} handles service {service.code!r} "
        f"({service.name}) at lat {lat}, long {lon}: the location is inside the boundary of "
        f"{jurisdiction.name} (jurisdiction {jurisdiction.id}) but outside every service area "
        "for that service")
