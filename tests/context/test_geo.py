"""GeoJSON validation and NGSI-LD geo-queries (clause 4.10), checked against known geodesy."""

from __future__ import annotations

import math
import random

import pytest

from madina.context.errors import BadRequestData
from madina.context.geo import (
    GeoQuery,
    geodesic_distance,
    geometry_bbox,
    parse_geoquery,
    validate_geometry,
)

# WGS84 radii of curvature, to place points a known number of metres away.
A = 6378137.0
E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)

HELSINKI = (24.9384, 60.1699)  # Senate Square
MADRID = (-3.7038, 40.4168)  # Puerta del Sol
BARCELONA = (2.1734, 41.3851)  # Plaça de Catalunya


def offset(lon: float, lat: float, north: float = 0.0, east: float = 0.0) -> tuple[float, float]:
    """The position `north` and `east` metres away, using the ellipsoid's local radii."""
    phi = math.radians(lat)
    w = math.sqrt(1 - E2 * math.sin(phi) ** 2)
    meridional = A * (1 - E2) / w**3
    parallel = A / w * math.cos(phi)
    return lon + math.degrees(east / parallel), lat + math.degrees(north / meridional)


def point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


def box(minlon: float, minlat: float, maxlon: float, maxlat: float) -> dict:
    ring = [[minlon, minlat], [maxlon, minlat], [maxlon, maxlat], [minlon, maxlat]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


# --- distances --------------------------------------------------------------------------------

KNOWN_DISTANCES = [
    # (from, to, metres, tolerance) — references: a·π/180 on the equator, the textbook lengths
    # of a degree of latitude, and Vincenty's inverse solution for Madrid–Barcelona.
    ((0.0, 0.0), (1.0, 0.0), 111319.4908, 0.001),
    ((0.0, 0.0), (0.0, 1.0), 110574.39, 0.01),
    ((0.0, 89.0), (0.0, 90.0), 111693.86, 0.01),
    (MADRID, BARCELONA, 506649.29, 1.0),
    (HELSINKI, offset(*HELSINKI, north=300), 300.0, 0.01),
    (HELSINKI, offset(*HELSINKI, east=300), 300.0, 0.01),
    (HELSINKI, offset(*HELSINKI, north=-120, east=160), 200.0, 0.01),
    # Vincenty: the flat north/east offset is 5 cm short of 1 km on the ellipsoid.
    (HELSINKI, offset(*HELSINKI, north=600, east=-800), 999.948, 0.005),
    (HELSINKI, HELSINKI, 0.0, 0.0),
]


@pytest.mark.parametrize(("start", "end", "metres", "tolerance"), KNOWN_DISTANCES)
def test_geodesic_distance_matches_known_values(start, end, metres, tolerance):
    assert geodesic_distance(*start, *end) == pytest.approx(metres, abs=tolerance)
    assert geodesic_distance(*end, *start) == pytest.approx(metres, abs=tolerance)


def test_antipodal_distance_stays_close_to_half_a_meridian():
    # Exact value 20 003 931.46 m; Lambert degenerates there and the mean sphere takes over.
    assert geodesic_distance(0, 0, 180, 0) == pytest.approx(20003931.46, rel=1e-3)


# --- validation -------------------------------------------------------------------------------

VALID_GEOMETRIES = [
    point(24.94, 60.17),
    {"type": "Point", "coordinates": [24.94, 60.17, 12.5]},
    {"type": "Point", "coordinates": [-180, -90]},
    {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]},
    {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
    {"type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]},
    box(24.9, 60.15, 24.98, 60.2),
    {
        "type": "Polygon",
        "coordinates": [
            [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
            [[2, 2], [2, 4], [4, 4], [2, 2]],
        ],
    },
    {"type": "MultiPolygon", "coordinates": [box(0, 0, 1, 1)["coordinates"]]},
    {"type": "GeometryCollection", "geometries": [point(1, 2), box(0, 0, 1, 1)]},
    {"type": "Point", "coordinates": [1, 2], "bbox": [1, 2, 1, 2]},
]


@pytest.mark.parametrize("geometry", VALID_GEOMETRIES)
def test_valid_geometries_pass(geometry):
    validate_geometry(geometry)


INVALID_GEOMETRIES = [
    ([24.94, 60.17], "must be a GeoJSON geometry object"),
    ({"coordinates": [1, 2]}, "no 'type' member"),
    ({"type": "Circle", "coordinates": [1, 2]}, "unknown GeoJSON geometry type 'Circle'"),
    ({"type": "Feature", "geometry": point(1, 2)}, "unknown GeoJSON geometry type 'Feature'"),
    ({"type": "Point"}, "no 'coordinates' member"),
    ({"type": "Point", "coordinates": [[1, 2]]}, "must be a position"),
    ({"type": "Point", "coordinates": [1]}, "must be a position"),
    ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "must be a position"),
    ({"type": "LineString", "coordinates": [1, 2]}, "wrong nesting for a LineString"),
    ({"type": "Polygon", "coordinates": [[0, 0], [1, 0], [1, 1], [0, 0]]}, "wrong nesting"),
    ({"type": "MultiPoint", "coordinates": []}, "is empty"),
    ({"type": "Polygon", "coordinates": []}, "is empty"),
    ({"type": "Point", "coordinates": ["24.9", 60.1]}, "non-numeric coordinate '24.9'"),
    ({"type": "Point", "coordinates": [True, 60.1]}, "non-numeric coordinate True"),
    ({"type": "Point", "coordinates": [None, 60.1]}, "non-numeric coordinate None"),
    ({"type": "Point", "coordinates": [math.nan, 60.1]}, "non-finite coordinate"),
    ({"type": "Point", "coordinates": [181, 60.1]}, "longitude 181 outside [-180, 180]"),
    ({"type": "Point", "coordinates": [-180.5, 0]}, "longitude -180.5 outside"),
    ({"type": "Point", "coordinates": [60.1, 91]}, "latitude 91 outside [-90, 90]"),
    ({"type": "MultiPoint", "coordinates": [[1, 2], [3, -95]]}, "coordinates[1] has latitude"),
    ({"type": "LineString", "coordinates": [[1, 2]]}, "needs at least 2"),
    ({"type": "MultiLineString", "coordinates": [[[1, 2], [3, 4]], [[1, 2]]]}, "coordinates[1]"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "needs at least 4"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "is not closed"),
    (
        {"type": "MultiPolygon", "coordinates": [box(0, 0, 1, 1)["coordinates"], [[[0, 0]] * 3]]},
        "coordinates[1][0] has 3 positions",
    ),
    ({"type": "GeometryCollection"}, "needs a 'geometries' array"),
    ({"type": "GeometryCollection", "geometries": []}, "has no geometries"),
    (
        {"type": "GeometryCollection", "geometries": [point(1, 2), {"type": "Point"}]},
        "geometry.geometries[1] (Point) has no 'coordinates'",
    ),
    (
        {"type": "GeometryCollection", "geometries": [point(1, 2), point(200, 2)]},
        "geometries[1].coordinates has longitude 200",
    ),
]


@pytest.mark.parametrize(("geometry", "problem"), INVALID_GEOMETRIES)
def test_invalid_geometries_name_the_problem(geometry, problem):
    with pytest.raises(BadRequestData) as raised:
        validate_geometry(geometry)
    assert problem in raised.value.detail


def test_deeply_nested_collections_are_refused():
    geometry: dict = point(1, 2)
    for _ in range(20):
        geometry = {"type": "GeometryCollection", "geometries": [geometry]}
    with pytest.raises(BadRequestData, match="too deeply"):
        validate_geometry(geometry)


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (point(24.94, 60.17), (24.94, 60.17, 24.94, 60.17)),
        ({"type": "Point", "coordinates": [1, 2, 300]}, (1, 2, 1, 2)),
        (box(24.9, 60.15, 24.98, 60.2), (24.9, 60.15, 24.98, 60.2)),
        ({"type": "LineString", "coordinates": [[5, -1], [-3, 4], [0, 0]]}, (-3, -1, 5, 4)),
        (
            {"type": "GeometryCollection", "geometries": [point(10, 10), box(0, 0, 1, 1)]},
            (0, 0, 10, 10),
        ),
    ],
)
def test_geometry_bbox(geometry, expected):
    assert geometry_bbox(geometry) == expected


# --- georels ----------------------------------------------------------------------------------

AREA = box(24.90, 60.15, 24.98, 60.20)  # central Helsinki
INSIDE = point(24.94, 60.17)
OUTSIDE = point(25.10, 60.17)
ON_EDGE = point(24.90, 60.17)
SMALL_INSIDE = box(24.93, 60.16, 24.95, 60.18)
STRADDLING = box(24.95, 60.18, 25.05, 60.25)
FAR = box(25.5, 61.0, 25.6, 61.1)
COVERING = box(24.0, 60.0, 26.0, 61.0)
CROSSING_LINE = {"type": "LineString", "coordinates": [[24.8, 60.17], [25.1, 60.17]]}
INNER_LINE = {"type": "LineString", "coordinates": [[24.92, 60.17], [24.96, 60.18]]}
SAME_AREA_ROTATED = {
    "type": "Polygon",
    "coordinates": [
        [[24.98, 60.20], [24.90, 60.20], [24.90, 60.15], [24.98, 60.15], [24.98, 60.20]]
    ],
}
COLLECTION_INSIDE = {"type": "GeometryCollection", "geometries": [INSIDE, SMALL_INSIDE]}

TOPOLOGY_CASES = [
    ("within", AREA, INSIDE, True),
    ("within", AREA, OUTSIDE, False),
    ("within", AREA, ON_EDGE, False),
    ("within", AREA, SMALL_INSIDE, True),
    ("within", AREA, STRADDLING, False),
    ("within", AREA, INNER_LINE, True),
    ("within", AREA, CROSSING_LINE, False),
    ("within", AREA, COLLECTION_INSIDE, True),
    ("within", AREA, {"type": "Point", "coordinates": [24.94, 60.17, 30.0]}, True),
    ("contains", AREA, COVERING, True),
    ("contains", AREA, SMALL_INSIDE, False),
    ("contains", AREA, STRADDLING, False),
    ("contains", INSIDE, SMALL_INSIDE, True),
    ("contains", INSIDE, INSIDE, True),
    ("contains", INSIDE, OUTSIDE, False),
    ("intersects", AREA, INSIDE, True),
    ("intersects", AREA, ON_EDGE, True),
    ("intersects", AREA, OUTSIDE, False),
    ("intersects", AREA, CROSSING_LINE, True),
    ("intersects", AREA, STRADDLING, True),
    ("intersects", AREA, FAR, False),
    ("equals", AREA, SAME_AREA_ROTATED, True),
    ("equals", AREA, SMALL_INSIDE, False),
    ("equals", INSIDE, INSIDE, True),
    ("equals", INSIDE, point(24.94, 60.1700001), False),
    ("disjoint", AREA, OUTSIDE, True),
    ("disjoint", AREA, INSIDE, False),
    ("disjoint", AREA, ON_EDGE, False),
    ("disjoint", AREA, FAR, True),
    ("disjoint", AREA, STRADDLING, False),
    ("overlaps", AREA, STRADDLING, True),
    ("overlaps", AREA, SMALL_INSIDE, False),
    ("overlaps", AREA, FAR, False),
    ("overlaps", AREA, INSIDE, False),
]


@pytest.mark.parametrize(("georel", "query", "entity", "expected"), TOPOLOGY_CASES)
def test_topological_georels(georel, query, entity, expected):
    assert GeoQuery(georel, query).matches(entity) is expected


def near(query: dict, max_distance: float | None = None, min_distance: float | None = None):
    return GeoQuery("near", query, max_distance=max_distance, min_distance=min_distance)


HELSINKI_300_NORTH = point(*offset(*HELSINKI, north=300))
HELSINKI_300_EAST = point(*offset(*HELSINKI, east=300))
NORTH_EDGE_LAT = 60.20
ABOVE_AREA_400 = point(*offset(24.94, NORTH_EDGE_LAT, north=400))
LINE_250_NORTH = {
    "type": "LineString",
    "coordinates": [
        list(offset(*HELSINKI, north=250, east=-500)),
        list(offset(*HELSINKI, north=250, east=500)),
    ],
}

NEAR_CASES = [
    # (query, entity, maxDistance, minDistance, expected)
    (point(*HELSINKI), HELSINKI_300_NORTH, 310, None, True),
    (point(*HELSINKI), HELSINKI_300_NORTH, 290, None, False),
    (point(*HELSINKI), HELSINKI_300_EAST, 301, None, True),
    (point(*HELSINKI), HELSINKI_300_EAST, 299, None, False),
    (point(*HELSINKI), HELSINKI_300_EAST, None, 299, True),
    (point(*HELSINKI), HELSINKI_300_EAST, None, 301, False),
    (point(*HELSINKI), HELSINKI_300_EAST, 350, 250, True),
    (point(*HELSINKI), HELSINKI_300_EAST, 350, 320, False),
    (point(*HELSINKI), point(*HELSINKI), 0, None, True),
    (point(*MADRID), point(*BARCELONA), 507_000, None, True),
    (point(*MADRID), point(*BARCELONA), 506_000, None, False),
    (point(*MADRID), point(*BARCELONA), None, 506_000, True),
    (
        {"type": "MultiPoint", "coordinates": [list(MADRID), list(offset(*HELSINKI, east=-50))]},
        HELSINKI_300_EAST,
        360,
        None,
        True,
    ),
    (
        {"type": "MultiPoint", "coordinates": [list(MADRID), list(offset(*HELSINKI, east=-50))]},
        HELSINKI_300_EAST,
        340,
        None,
        False,
    ),
    # Non-point shapes: distance from the closest points, measured on the ellipsoid.
    (AREA, ABOVE_AREA_400, 401, None, True),
    (AREA, ABOVE_AREA_400, 399, None, False),
    (AREA, ABOVE_AREA_400, None, 399, True),
    (AREA, INSIDE, 0, None, True),
    (AREA, INSIDE, None, 1, False),
    (point(*HELSINKI), LINE_250_NORTH, 251, None, True),
    (point(*HELSINKI), LINE_250_NORTH, 249, None, False),
    (LINE_250_NORTH, point(*HELSINKI), 251, None, True),
    (LINE_250_NORTH, point(*HELSINKI), 249, None, False),
    (
        point(*HELSINKI),
        box(*offset(*HELSINKI, east=700), *offset(*HELSINKI, 50, 800)),
        701,
        None,
        True,
    ),
    (
        point(*HELSINKI),
        box(*offset(*HELSINKI, east=700), *offset(*HELSINKI, 50, 800)),
        699,
        None,
        False,
    ),
    (
        AREA,
        {"type": "GeometryCollection", "geometries": [FAR, ABOVE_AREA_400]},
        401,
        None,
        True,
    ),
]


@pytest.mark.parametrize(
    ("query", "entity", "max_distance", "min_distance", "expected"), NEAR_CASES
)
def test_near(query, entity, max_distance, min_distance, expected):
    assert near(query, max_distance, min_distance).matches(entity) is expected


@pytest.mark.parametrize(
    "value",
    [
        "POINT (24.94 60.17)",
        None,
        {"type": "Point"},
        {"type": "Point", "coordinates": ["24.94", 60.17]},
        {"type": "Point", "coordinates": [24.94]},
        {"type": "Polygon", "coordinates": [[[24.94, 60.17]]]},
        {"type": "Polygon", "coordinates": "nope"},
        {"type": "GeometryCollection", "geometries": []},
    ],
)
@pytest.mark.parametrize("georel", ["within", "disjoint", "near"])
def test_values_that_are_not_geometries_match_nothing(value, georel):
    query = near(AREA, max_distance=10_000) if georel == "near" else GeoQuery(georel, AREA)
    assert query.matches(value) is False


# --- bounding-box prefilter -------------------------------------------------------------------


def test_prefilter_is_the_query_box_for_topological_georels():
    for georel in ("within", "contains", "intersects", "equals", "overlaps"):
        assert GeoQuery(georel, AREA).prefilter_bbox() == (24.90, 60.15, 24.98, 60.20)


def test_no_prefilter_when_matches_may_lie_anywhere():
    assert GeoQuery("disjoint", AREA).prefilter_bbox() is None
    assert near(point(*HELSINKI), min_distance=100).prefilter_bbox() is None


def test_near_prefilter_grows_by_the_distance_in_degrees_at_that_latitude():
    minlon, minlat, maxlon, maxlat = near(point(*HELSINKI), 1000).prefilter_bbox()
    # About 1000 m / 111.4 km per degree north-south, and twice that east-west at 60°N.
    assert HELSINKI[1] - minlat == pytest.approx(0.00898, rel=0.01)
    assert maxlat - HELSINKI[1] == pytest.approx(0.00898, rel=0.01)
    assert HELSINKI[0] - minlon == pytest.approx(0.01797, rel=0.01)
    assert maxlon - HELSINKI[0] == pytest.approx(0.01797, rel=0.01)


def test_near_prefilter_spans_all_longitudes_near_a_pole_or_the_antimeridian():
    assert near(point(0, 89.99), 5000).prefilter_bbox()[0::2] == (-180.0, 180.0)
    assert near(point(0, 89.99), 5000).prefilter_bbox()[3] == 90.0
    assert near(point(179.999, 10), 1000).prefilter_bbox()[0::2] == (-180.0, 180.0)
    assert near(point(10, 80), 1_000_000).prefilter_bbox()[0::2] == (-180.0, 180.0)


def _inside(position: tuple[float, float], bbox: tuple[float, float, float, float]) -> bool:
    return bbox[0] <= position[0] <= bbox[2] and bbox[1] <= position[1] <= bbox[3]


@pytest.mark.parametrize("latitude", [0.0, 40.4, 60.17, 75.0, 84.0])
@pytest.mark.parametrize("metres", [50.0, 1000.0, 25_000.0])
def test_near_prefilter_never_drops_a_match(latitude, metres):
    rng = random.Random(f"{latitude}/{metres}")
    queries = [
        point(24.94, latitude),
        box(24.94, latitude, 24.99, min(latitude + 0.03, 89.0)),
    ]
    for query in queries:
        geo_query = near(query, metres)
        bbox = geo_query.prefilter_bbox()
        matched = 0
        for _ in range(400):
            bearing = rng.uniform(0, 2 * math.pi)
            reach = metres * rng.uniform(0.9, 1.1)
            lon, lat = offset(
                24.94 if query["type"] == "Point" else rng.uniform(24.94, 24.99),
                latitude,
                north=reach * math.cos(bearing),
                east=reach * math.sin(bearing),
            )
            if geo_query.matches(point(lon, lat)):
                matched += 1
                assert _inside((lon, lat), bbox), (lon, lat, bbox)
        assert matched > 0


# --- query parameters -------------------------------------------------------------------------


def test_no_geo_parameters_means_no_geo_query():
    assert parse_geoquery(None, None, None) is None
    assert parse_geoquery(None, None, None, "location") is None


def test_parse_near_point():
    query = parse_geoquery("near;maxDistance==1000", "Point", "[24.94,60.17]")
    assert query == GeoQuery(
        "near", point(24.94, 60.17), max_distance=1000.0, min_distance=None, geoproperty="location"
    )


@pytest.mark.parametrize(
    ("georel", "max_distance", "min_distance"),
    [
        ("near;minDistance==15.5", None, 15.5),
        ("near;maxDistance==2e3", 2000.0, None),
        ("near;maxDistance==.5", 0.5, None),
        ("near;maxDistance==900;minDistance==100", 900.0, 100.0),
        ("within", None, None),
        (" overlaps ", None, None),
    ],
)
def test_parse_georel(georel, max_distance, min_distance):
    query = parse_geoquery(georel, "Polygon", AREA["coordinates"])
    assert (query.max_distance, query.min_distance) == (max_distance, min_distance)
    assert query.georel == georel.strip().split(";")[0]


@pytest.mark.parametrize(
    "coordinates",
    [
        "[24.94,60.17]",
        " [24.94, 60.17] ",
        "%5B24.94%2C60.17%5D",
        [24.94, 60.17],
    ],
)
def test_parse_coordinate_encodings(coordinates):
    query = parse_geoquery("intersects", "Point", coordinates)
    assert query.geometry == point(24.94, 60.17)


def test_parse_canonicalises_geometry_names_and_keeps_geoproperty():
    query = parse_geoquery("within", "polygon", AREA["coordinates"], "observationSpace")
    assert query.geometry == AREA
    assert query.geoproperty == "observationSpace"
    assert query.matches(INSIDE)


PARSE_ERRORS = [
    (("within", None, None), "missing geometry, coordinates"),
    ((None, "Point", "[1,2]"), "missing georel"),
    (("near;maxDistance==10", "Point", None), "missing coordinates"),
    (("nearby", "Point", "[1,2]"), "unknown georel 'nearby'"),
    (("", "Point", "[1,2]"), "unknown georel ''"),
    (("near", "Point", "[1,2]"), "near needs maxDistance==<metres>"),
    (("near;maxDistance:1000", "Point", "[1,2]"), "malformed near modifier 'maxDistance:1000'"),
    (("near;maxDistance==-5", "Point", "[1,2]"), "malformed near modifier"),
    (("near;maxDistance==abc", "Point", "[1,2]"), "malformed near modifier"),
    (("near;maxDistance==1_000", "Point", "[1,2]"), "malformed near modifier"),
    (("near;distance==10", "Point", "[1,2]"), "malformed near modifier"),
    (("near;maxDistance==1;maxDistance==2", "Point", "[1,2]"), "maxDistance is given twice"),
    (("near;maxDistance==10;minDistance==20", "Point", "[1,2]"), "minDistance is greater"),
    (("within;maxDistance==10", "Point", "[1,2]"), "within takes no modifiers"),
    (("within", "Circle", "[1,2]"), "geometry 'Circle' is not allowed"),
    (("within", "GeometryCollection", "[1,2]"), "'GeometryCollection' is not allowed"),
    (("within", "Point", "1,2"), "is not a JSON array"),
    (("within", "Point", "[1,2"), "is not a JSON array"),
    (("within", "Point", '{"lon": 1}'), "coordinates must be a JSON array"),
    (("within", "Point", "[200,2]"), "longitude 200 outside"),
    (("within", "Point", "[[1,2]]"), "must be a position"),
    (("within", "LineString", "[[1,2]]"), "needs at least 2"),
    (("within", "Polygon", "[[[0,0],[1,0],[1,1],[0,0.5]]]"), "is not closed"),
    (
        ("within", "Polygon", "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]"),
        "geo-query geometry is not valid: Self-intersection",
    ),
]


@pytest.mark.parametrize(("arguments", "problem"), PARSE_ERRORS)
def test_parse_errors_are_bad_request_data(arguments, problem):
    with pytest.raises(BadRequestData) as raised:
        parse_geoquery(*arguments)
    assert problem in raised.value.detail


def test_empty_geoproperty_is_refused():
    with pytest.raises(BadRequestData, match="geoproperty is empty"):
        parse_geoquery("within", "Point", "[1,2]", " ")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"georel": "inside", "geometry": AREA}, "unknown georel 'inside'"),
        ({"georel": "within", "geometry": AREA, "max_distance": 5}, "takes no distance"),
        ({"georel": "near", "geometry": AREA, "max_distance": -1}, "non-negative"),
        ({"georel": "near", "geometry": AREA, "min_distance": math.inf}, "non-negative"),
        ({"georel": "within", "geometry": {"type": "Point"}}, "no 'coordinates'"),
    ],
)
def test_geoquery_checks_its_own_invariants(kwargs, problem):
    with pytest.raises(BadRequestData, match=problem):
        GeoQuery(**kwargs)
