"""GeoJSON validation and NGSI-LD geo-queries (ETSI GS CIM 009 clause 4.10, RFC 7946).

Two jobs live here because they share one notion of geometry: checking the GeoJSON a client
writes into a GeoProperty, and deciding whether a stored GeoProperty satisfies a geo-query.

Geometry follows RFC 7946: positions are [longitude, latitude(, altitude)] in WGS84 and edges
are straight lines in that lon/lat plane, which is exactly what shapely evaluates, so the
topological georels (within, contains, intersects, equals, disjoint, overlaps) are shapely's OGC
predicates on lon/lat coordinates.

Distances (georel near) are geodesic metres on the WGS84 ellipsoid:
- point to point uses Lambert's formula for long lines on the ellipsoid (error of order f², a
  few centimetres per kilometre, about 10 m on 1000 km);
- any other pair of shapes is first projected onto an affine lon/lat plane centred on the query
  geometry, with the ellipsoid's radii of curvature at that latitude as scales. Being affine,
  the plane keeps RFC 7946's straight edges straight, so the closest pair of points it finds
  lies on the real shapes; their distance is then measured with Lambert's formula. The result
  is never below the true distance, and exceeds it by at most a factor (1 + e)/(1 - e) with
  e ≈ tan(latitude) × (north-south extent in radians): below 0.3 % for a 10 km city at 60°N,
  and in practice far less because the error enters only through which pair is chosen.
Lines crossing the antimeridian are not split (RFC 7946 asks writers to split them).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry import shape

from madina.context.errors import BadRequestData

GEOMETRY_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
# Clause 4.10 allows every GeoJSON geometry but GeometryCollection in a query.
QUERY_GEOMETRY_TYPES = GEOMETRY_TYPES - {"GeometryCollection"}
GEORELS = ("near", "within", "contains", "intersects", "equals", "disjoint", "overlaps")
DEFAULT_GEOPROPERTY = "location"

# How deep each type nests its positions inside "coordinates".
_NESTING = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
# RFC 7946 discourages nested collections; a bound keeps hostile input from exhausting the stack.
_MAX_COLLECTION_DEPTH = 8

# WGS84 ellipsoid.
_A = 6378137.0
_F = 1 / 298.257223563
_B = _A * (1 - _F)
_E2 = _F * (2 - _F)
_MEAN_RADIUS = 6371008.8

_CANONICAL_QUERY_TYPES = {name.lower(): name for name in QUERY_GEOMETRY_TYPES}
_DISTANCE = re.compile(r"(maxDistance|minDistance)==((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


# --- validation -------------------------------------------------------------------------------


def validate_geometry(value: Any) -> None:
    """Reject anything that is not an RFC 7946 geometry, naming the first problem found.

    Empty Multi* geometries and collections are refused: an entity location with no position
    can never answer a geo-query, so accepting it would only hide a client bug.
    """
    _validate(value, "geometry", 0)


def _validate(value: Any, where: str, depth: int) -> None:
    if not isinstance(value, dict):
        raise BadRequestData(f"{where} must be a GeoJSON geometry object")
    kind = value.get("type")
    if kind is None:
        raise BadRequestData(f"{where} has no 'type' member")
    if not isinstance(kind, str) or kind not in GEOMETRY_TYPES:
        raise BadRequestData(
            f"{where} has unknown GeoJSON geometry type {kind!r}; expected one of "
            + ", ".join(sorted(GEOMETRY_TYPES))
        )
    if kind == "GeometryCollection":
        _validate_collection(value, where, depth)
        return
    if "coordinates" not in value:
        raise BadRequestData(f"{where} ({kind}) has no 'coordinates' member")
    coordinates = value["coordinates"]
    _check_nesting(coordinates, _NESTING[kind], f"{where}.coordinates", kind)
    _check_shape(kind, coordinates, f"{where}.coordinates")


def _validate_collection(value: dict, where: str, depth: int) -> None:
    members = value.get("geometries")
    if not isinstance(members, list):
        raise BadRequestData(f"{where} (GeometryCollection) needs a 'geometries' array")
    if not members:
        raise BadRequestData(f"{where} (GeometryCollection) has no geometries")
    if depth >= _MAX_COLLECTION_DEPTH:
        raise BadRequestData(f"{where} nests GeometryCollections too deeply")
    for index, member in enumerate(members):
        _validate(member, f"{where}.geometries[{index}]", depth + 1)


def _check_nesting(node: Any, levels: int, where: str, kind: str) -> None:
    if levels == 0:
        _check_position(node, where, kind)
        return
    if not isinstance(node, list) or (node and not isinstance(node[0], list)):
        raise BadRequestData(
            f"{where} has the wrong nesting for a {kind}: expected an array of "
            + "arrays of " * (levels - 1)
            + "positions"
        )
    if not node:
        raise BadRequestData(f"{where} is empty; a {kind} needs at least one position")
    for index, child in enumerate(node):
        _check_nesting(child, levels - 1, f"{where}[{index}]", kind)


def _check_position(position: Any, where: str, kind: str) -> None:
    if not isinstance(position, list) or not 2 <= len(position) <= 3:
        raise BadRequestData(
            f"{where} must be a position [longitude, latitude] or "
            f"[longitude, latitude, altitude] in a {kind}"
        )
    for number in position:
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise BadRequestData(f"{where} holds a non-numeric coordinate {number!r}")
        if not math.isfinite(number):
            raise BadRequestData(f"{where} holds a non-finite coordinate {number!r}")
    lon, lat = position[0], position[1]
    if not -180 <= lon <= 180:
        raise BadRequestData(f"{where} has longitude {lon} outside [-180, 180]")
    if not -90 <= lat <= 90:
        raise BadRequestData(f"{where} has latitude {lat} outside [-90, 90]")


def _check_shape(kind: str, coordinates: list, where: str) -> None:
    if kind == "LineString":
        _check_line(coordinates, where)
    elif kind == "MultiLineString":
        for index, line in enumerate(coordinates):
            _check_line(line, f"{where}[{index}]")
    elif kind == "Polygon":
        _check_polygon(coordinates, where)
    elif kind == "MultiPolygon":
        for index, polygon in enumerate(coordinates):
            _check_polygon(polygon, f"{where}[{index}]")


def _check_line(line: list, where: str) -> None:
    if len(line) < 2:
        raise BadRequestData(f"{where} has {len(line)} position; a LineString needs at least 2")


def _check_polygon(rings: list, where: str) -> None:
    for index, ring in enumerate(rings):
        if len(ring) < 4:
            raise BadRequestData(
                f"{where}[{index}] has {len(ring)} positions; a polygon ring needs at least 4"
            )
        if ring[0] != ring[-1]:
            raise BadRequestData(
                f"{where}[{index}] is not closed: its first and last positions differ"
            )


# --- bounding boxes and distances -------------------------------------------------------------


def geometry_bbox(value: dict) -> tuple[float, float, float, float]:
    """The (minlon, minlat, maxlon, maxlat) box the store indexes; value must be validated."""
    if value["type"] == "Point":
        lon, lat = value["coordinates"][:2]
        return (lon, lat, lon, lat)
    lons, lats = zip(*_positions(value), strict=True)
    return (min(lons), min(lats), max(lons), max(lats))


def _positions(value: dict) -> Iterator[tuple[float, float]]:
    if value["type"] == "GeometryCollection":
        for member in value["geometries"]:
            yield from _positions(member)
        return
    stack = [(value["coordinates"], _NESTING[value["type"]])]
    while stack:
        node, levels = stack.pop()
        if levels == 0:
            yield (node[0], node[1])
        else:
            stack.extend((child, levels - 1) for child in node)


def geodesic_distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Metres between two WGS84 positions along the ellipsoid (Lambert's formula).

    Closed form, so it costs a few microseconds where an iterative solution would cost tens;
    near-antipodal pairs, where Lambert's terms degenerate, fall back to the mean sphere.
    """
    if lon1 == lon2 and lat1 == lat2:
        return 0.0
    beta1 = math.atan((1 - _F) * math.tan(math.radians(lat1)))
    beta2 = math.atan((1 - _F) * math.tan(math.radians(lat2)))
    half_dlon = math.radians(lon2 - lon1) / 2
    half_dbeta = (beta2 - beta1) / 2
    h = math.sin(half_dbeta) ** 2 + math.cos(beta1) * math.cos(beta2) * math.sin(half_dlon) ** 2
    sigma = 2 * math.asin(math.sqrt(min(1.0, h)))
    cos_half2 = math.cos(sigma / 2) ** 2
    if cos_half2 < 1e-12:
        return _MEAN_RADIUS * sigma
    sin_half2 = math.sin(sigma / 2) ** 2
    if sin_half2 == 0.0:
        return 0.0
    mid = (beta1 + beta2) / 2
    sin_sigma = math.sin(sigma)
    x = (sigma - sin_sigma) * (math.sin(mid) * math.cos(half_dbeta)) ** 2 / cos_half2
    y = (sigma + sin_sigma) * (math.cos(mid) * math.sin(half_dbeta)) ** 2 / sin_half2
    return _A * (sigma - _F / 2 * (x + y))


def _grow_bbox(
    box: tuple[float, float, float, float], metres: float
) -> tuple[float, float, float, float]:
    """A box holding every position within `metres` of the box, as seen by geodesic_distance.

    Lambert's distance is at least b·sigma (sigma: central angle on the reduced-latitude
    sphere; 0.1 % margin for the higher-order terms), geodetic latitude moves at most
    1/(1 - f) times faster than reduced latitude, and |reduced latitude| <= |latitude|, so
    the spherical bound sin(dlon/2) <= sin(sigma/2) / cos(max |latitude|) holds. Near the poles
    or across the antimeridian the box simply spans all longitudes.
    """
    minlon, minlat, maxlon, maxlat = box
    sigma = metres / (_B * 0.999)
    dlat = math.degrees(sigma / (1 - _F))
    low, high = minlat - dlat, maxlat + dlat
    if low <= -90 or high >= 90:
        return (-180.0, max(low, -90.0), 180.0, min(high, 90.0))
    ratio = math.sin(min(sigma, math.pi) / 2) / math.cos(math.radians(max(-low, high)))
    if ratio >= 1:
        return (-180.0, low, 180.0, high)
    dlon = math.degrees(2 * math.asin(ratio))
    if minlon - dlon < -180 or maxlon + dlon > 180:
        return (-180.0, low, 180.0, high)
    return (minlon - dlon, low, maxlon + dlon, high)


# --- geo-queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeoQuery:
    """One NGSI-LD geo-query, ready to test candidate GeoProperty values.

    Construction validates everything and prepares the query geometry once, because
    `matches` runs on every candidate row the store's bounding-box prefilter lets through.
    """

    georel: str
    geometry: dict
    max_distance: float | None = None
    min_distance: float | None = None
    geoproperty: str = DEFAULT_GEOPROPERTY
    _point_test: Callable[[float, float], bool] = field(init=False, repr=False, compare=False)
    _shape_test: Callable[[shapely.Geometry], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._check_relation()
        validate_geometry(self.geometry)
        if self.geometry["type"] not in QUERY_GEOMETRY_TYPES:
            raise BadRequestData(
                f"geo-query geometry {self.geometry['type']!r} is not allowed; expected one "
                "of " + ", ".join(sorted(QUERY_GEOMETRY_TYPES))
            )
        query = shape(self.geometry)
        if not query.is_valid:
            raise BadRequestData(
                f"geo-query geometry is not valid: {shapely.is_valid_reason(query)}"
            )
        shapely.prepare(query)
        near = _Distances(self.geometry, query) if self.georel == "near" else None
        point_test, shape_test = self._predicates(query, near)
        object.__setattr__(self, "_point_test", point_test)
        object.__setattr__(self, "_shape_test", shape_test)

    def _check_relation(self) -> None:
        if self.georel not in GEORELS:
            raise BadRequestData(
                f"unknown georel {self.georel!r}; expected one of " + ", ".join(GEORELS)
            )
        distances = (self.max_distance, self.min_distance)
        if self.georel != "near":
            if distances != (None, None):
                raise BadRequestData(f"georel {self.georel} takes no distance; only near does")
            return
        if distances == (None, None):
            raise BadRequestData("georel near needs maxDistance==<metres> or minDistance==<metres>")
        for name, metres in zip(("maxDistance", "minDistance"), distances, strict=True):
            if metres is not None and not (math.isfinite(metres) and metres >= 0):
                raise BadRequestData(f"{name} must be a non-negative number of metres")
        if None not in distances and self.min_distance > self.max_distance:
            raise BadRequestData("minDistance is greater than maxDistance")

    def _predicates(
        self, query: shapely.Geometry, near: _Distances | None
    ) -> tuple[Callable[[float, float], bool], Callable[[shapely.Geometry], bool]]:
        """Pick, once, the tests for a Point value (no shapely object built) and for any shape."""
        if near is not None:
            low = self.min_distance if self.min_distance is not None else 0.0
            high = self.max_distance if self.max_distance is not None else math.inf
            return (
                lambda lon, lat: low <= near.to_point(lon, lat) <= high,
                lambda geom: low <= near.to_shape(geom) <= high,
            )
        generic: Callable[[shapely.Geometry], bool] = {
            "within": lambda geom: bool(shapely.contains(query, geom)),
            "contains": lambda geom: bool(shapely.within(query, geom)),
            "intersects": lambda geom: bool(shapely.intersects(query, geom)),
            "equals": lambda geom: bool(shapely.equals(geom, query)),
            "disjoint": lambda geom: bool(shapely.disjoint(query, geom)),
            "overlaps": lambda geom: bool(shapely.overlaps(query, geom)),
        }[self.georel]
        if self.georel == "within":
            return (lambda lon, lat: bool(shapely.contains_xy(query, lon, lat))), generic
        if self.georel == "intersects":
            return (lambda lon, lat: bool(shapely.intersects_xy(query, lon, lat))), generic
        if self.georel == "disjoint":
            return (lambda lon, lat: not shapely.intersects_xy(query, lon, lat)), generic
        return (lambda lon, lat: generic(shapely.Point(lon, lat))), generic

    def prefilter_bbox(self) -> tuple[float, float, float, float] | None:
        """A lon/lat box that the bbox of every matching geometry intersects, for the index.

        None when matches may lie anywhere: disjoint, and near with only a minimum distance.
        """
        if self.georel == "disjoint" or (self.georel == "near" and self.max_distance is None):
            return None
        box = geometry_bbox(self.geometry)
        if self.georel == "near":
            return _grow_bbox(box, self.max_distance)
        return box

    def matches(self, value: dict) -> bool:
        """Whether an entity's GeoProperty value satisfies the query.

        A value that is not a usable geometry matches nothing, not even disjoint: an entity
        without a location is not "far from" anything.
        """
        if not isinstance(value, dict):
            return False
        if value.get("type") == "Point":
            position = value.get("coordinates")
            if (
                isinstance(position, list)
                and len(position) in (2, 3)
                and all(_is_number(n) for n in position)
            ):
                return self._point_test(position[0], position[1])
            return False
        try:
            geom = shape(value)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, GEOSException):
            return False
        if geom.is_empty:
            return False
        return self._shape_test(geom)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Distances:
    """Geodesic distances from one query geometry, with everything reusable precomputed."""

    def __init__(self, geometry: dict, query: shapely.Geometry) -> None:
        point_set = geometry["type"] in ("Point", "MultiPoint")
        self._points = list(_positions(geometry)) if point_set else None
        minlon, minlat, maxlon, maxlat = geometry_bbox(geometry)
        self._lon0 = (minlon + maxlon) / 2
        self._lat0 = (minlat + maxlat) / 2
        phi = math.radians(self._lat0)
        w = math.sqrt(1 - _E2 * math.sin(phi) ** 2)
        # Metres per degree along the parallel (prime-vertical radius) and the meridian.
        self._kx = math.radians(_A / w * math.cos(phi))
        self._ky = math.radians(_A * (1 - _E2) / w**3)
        self._origin = np.array([self._lon0, self._lat0])
        self._scale = np.array([self._kx, self._ky])
        self._plane_query = shapely.transform(query, self._to_plane)
        shapely.prepare(self._plane_query)

    def _to_plane(self, coords: np.ndarray) -> np.ndarray:
        return (coords - self._origin) * self._scale

    def _closest(self, plane_geom: shapely.Geometry) -> float:
        (ex, ey), (qx, qy) = shapely.shortest_line(plane_geom, self._plane_query).coords
        return geodesic_distance(
            ex / self._kx + self._lon0,
            ey / self._ky + self._lat0,
            qx / self._kx + self._lon0,
            qy / self._ky + self._lat0,
        )

    def to_point(self, lon: float, lat: float) -> float:
        if self._points is not None:
            return min(geodesic_distance(lon, lat, qlon, qlat) for qlon, qlat in self._points)
        x = (lon - self._lon0) * self._kx
        y = (lat - self._lat0) * self._ky
        if shapely.intersects_xy(self._plane_query, x, y):
            return 0.0
        return self._closest(shapely.Point(x, y))

    def to_shape(self, geom: shapely.Geometry) -> float:
        return self._closest(shapely.transform(geom, self._to_plane))


# --- HTTP parameters --------------------------------------------------------------------------


def parse_geoquery(
    georel: str | None,
    geometry: str | None,
    coordinates: str | list | None,
    geoproperty: str | None = None,
) -> GeoQuery | None:
    """Build a GeoQuery from the query parameters of clause 6 (or a subscription's geoQ).

    coordinates is the JSON text of the array (as the HTTP binding carries it, possibly still
    percent-encoded) or the array itself (as in a geoQ object). None of georel, geometry and
    coordinates given means no geo-query; geoproperty alone is then ignored.
    """
    given = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
    if all(value is None for value in given.values()):
        return None
    missing = [name for name, value in given.items() if value is None]
    if missing:
        raise BadRequestData(
            "a geo-query needs georel, geometry and coordinates; missing " + ", ".join(missing)
        )
    relation, max_distance, min_distance = _parse_georel(georel)
    canonical = _CANONICAL_QUERY_TYPES.get(str(geometry).strip().lower())
    if canonical is None:
        raise BadRequestData(
            f"geometry {geometry!r} is not allowed in a geo-query; expected one of "
            + ", ".join(sorted(QUERY_GEOMETRY_TYPES))
        )
    if geoproperty is None:
        geoproperty = DEFAULT_GEOPROPERTY
    geoproperty = geoproperty.strip()
    if not geoproperty:
        raise BadRequestData("geoproperty is empty")
    return GeoQuery(
        georel=relation,
        geometry={"type": canonical, "coordinates": _parse_coordinates(coordinates)},
        max_distance=max_distance,
        min_distance=min_distance,
        geoproperty=geoproperty,
    )


def _parse_georel(text: str) -> tuple[str, float | None, float | None]:
    relation, *modifiers = text.strip().split(";")
    if relation not in GEORELS:
        raise BadRequestData(f"unknown georel {relation!r}; expected one of " + ", ".join(GEORELS))
    if relation != "near":
        if modifiers:
            raise BadRequestData(f"georel {relation} takes no modifiers; only near does")
        return relation, None, None
    found: dict[str, float] = {}
    for modifier in modifiers:
        match = _DISTANCE.fullmatch(modifier)
        if match is None:
            raise BadRequestData(
                f"malformed near modifier {modifier!r}; expected maxDistance==<metres> or "
                "minDistance==<metres> with a non-negative number"
            )
        name, number = match.groups()
        if name in found:
            raise BadRequestData(f"{name} is given twice")
        found[name] = float(number)
    return relation, found.get("maxDistance"), found.get("minDistance")


def _parse_coordinates(coordinates: str | list) -> list:
    if isinstance(coordinates, str):
        text = coordinates.strip()
        if text.startswith("%"):
            text = unquote(text)
        try:
            coordinates = json.loads(text)
        except ValueError as exc:
            raise BadRequestData(
                f"coordinates {text!r} is not a JSON array such as [24.94,60.17] (longitude first)"
            ) from exc
    if not isinstance(coordinates, list):
        raise BadRequestData("coordinates must be a JSON array such as [24.94,60.17]")
    return coordinates
