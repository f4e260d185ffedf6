"""Geo-queries (clauses 4.10, 5.7.2): every georel and geometry, geoproperty, GeoJSON checks."""

from __future__ import annotations

import json

import pytest

from .conftest import BASE, assert_problem, create, entity, exists, geo, ids_of, query

# Helsinki: P1 in the market square, P2 ~640 m east, P3 ~4.8 km north-east.
P1, P2, P3 = (f"urn:ngsi-ld:Sensor:{n}" for n in (1, 2, 3))
ZONE, ROAD, FAR = "urn:ngsi-ld:Zone:1", "urn:ngsi-ld:Road:1", "urn:ngsi-ld:Zone:far"
SQUARE = [[[24.93, 60.16], [24.96, 60.16], [24.96, 60.18], [24.93, 60.18], [24.93, 60.16]]]
SMALL = [[[24.935, 60.165], [24.945, 60.165], [24.945, 60.175], [24.935, 60.175],
          [24.935, 60.165]]]


@pytest.fixture
def city(client):
    create(client, entity(P1, "Sensor", location=geo("Point", [24.9384, 60.1699])))
    create(client, entity(P2, "Sensor", location=geo("Point", [24.9500, 60.1700])))
    create(client, entity(P3, "Sensor", location=geo("Point", [25.0000, 60.2000]),
                          observationSpace=geo("Point", [24.9384, 60.1699])))
    create(client, entity(ZONE, "Zone", location=geo("Polygon", SQUARE)))
    create(client, entity(FAR, "Zone", location=geo("Polygon", [[
        [25.5, 61.0], [25.6, 61.0], [25.6, 61.1], [25.5, 61.1], [25.5, 61.0]]])))
    create(client, entity(ROAD, "Road", location=geo(
        "LineString", [[24.90, 60.17], [25.00, 60.17]])))
    return client


def geoq(client, georel, geometry, coordinates, **params):
    return query(client, georel=georel, geometry=geometry,
                 coordinates=json.dumps(coordinates), **params)


CENTER = [24.9384, 60.1699]

CASES = [
    ("Sensor", "near;maxDistance==100", "Point", CENTER, {P1}),
    ("Sensor", "near;maxDistance==1000", "Point", CENTER, {P1, P2}),
    ("Sensor", "near;maxDistance==10000", "Point", CENTER, {P1, P2, P3}),
    ("Sensor", "near;minDistance==1000", "Point", CENTER, {P3}),
    ("Sensor", "near;minDistance==100", "Point", CENTER, {P2, P3}),
    ("Sensor", "within", "Polygon", SQUARE, {P1, P2}),
    ("Sensor", "within", "Polygon", SMALL, {P1}),
    ("Sensor", "within", "MultiPolygon", [SMALL, [[[24.99, 60.19], [25.01, 60.19],
                                                  [25.01, 60.21], [24.99, 60.21],
                                                  [24.99, 60.19]]]], {P1, P3}),
    ("Zone", "contains", "Point", CENTER, {ZONE}),
    ("Zone", "contains", "Point", [25.0, 60.2], set()),
    ("Zone", "contains", "Polygon", SMALL, {ZONE}),
    ("Zone", "intersects", "Point", CENTER, {ZONE}),
    ("Zone", "intersects", "LineString", [[24.0, 60.17], [26.0, 60.17]], {ZONE}),
    ("Zone", "intersects", "MultiPoint", [[0.0, 0.0], [25.55, 61.05]], {FAR}),
    ("Road", "intersects", "Polygon", SQUARE, {ROAD}),
    ("Road", "intersects", "LineString", [[24.95, 60.10], [24.95, 60.30]], {ROAD}),
    ("Road", "intersects", "LineString", [[24.80, 60.10], [24.80, 60.30]], set()),
    ("Zone", "disjoint", "Point", CENTER, {FAR}),
    ("Sensor", "disjoint", "Polygon", SQUARE, {P3}),
    ("Sensor", "equals", "Point", [24.95, 60.17], {P2}),
    ("Zone", "equals", "Polygon", SQUARE, {ZONE}),
    ("Zone", "overlaps", "Polygon", [[[24.95, 60.17], [25.0, 60.17], [25.0, 60.19],
                                      [24.95, 60.19], [24.95, 60.17]]], {ZONE}),
    ("Zone", "overlaps", "Polygon", SMALL, set()),
]


@pytest.mark.parametrize(("etype", "georel", "geometry", "coords", "expected"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_georel(city, etype, georel, geometry, coords, expected):
    assert ids_of(geoq(city, georel, geometry, coords, type=etype)) == expected


def test_geoquery_alone_is_a_valid_restriction(city):
    response = geoq(city, "near;maxDistance==100", "Point", CENTER)
    assert ids_of(response) == {P1, ZONE, ROAD}


def test_geoproperty_selects_another_geoproperty(city):
    response = geoq(city, "near;maxDistance==100", "Point", CENTER, type="Sensor",
                    geoproperty="observationSpace")
    assert ids_of(response) == {P3}


def test_geoquery_with_q_and_paging(city):
    response = geoq(city, "near;maxDistance==10000", "Point", CENTER, type="Sensor",
                    q="location", count="true", limit=1)
    assert response.status_code == 200 and len(response.json()) == 1
    assert response.headers["NGSILD-Results-Count"] == "3"


@pytest.mark.parametrize(
    "params",
    [
        {"georel": "near;maxDistance==100", "geometry": "Point"},
        {"georel": "near;maxDistance==100", "coordinates": json.dumps(CENTER)},
        {"geometry": "Point", "coordinates": json.dumps(CENTER)},
        {"georel": "near", "geometry": "Point", "coordinates": json.dumps(CENTER)},
        {"georel": "near;distance==3", "geometry": "Point", "coordinates": json.dumps(CENTER)},
        {"georel": "near;maxDistance==abc", "geometry": "Point",
         "coordinates": json.dumps(CENTER)},
        {"georel": "around", "geometry": "Point", "coordinates": json.dumps(CENTER)},
        {"georel": "within", "geometry": "Circle", "coordinates": json.dumps(CENTER)},
        {"georel": "within", "geometry": "Point", "coordinates": "not json"},
        {"georel": "within", "geometry": "Polygon", "coordinates": json.dumps(CENTER)},
        {"georel": "within", "geometry": "Polygon",
         "coordinates": json.dumps([[[24.9, 60.1], [25.0, 60.1], [25.0, 60.2]]])},
        {"georel": "intersects", "geometry": "Point", "coordinates": "[200, 60]"},
        {"georel": "intersects", "geometry": "Point", "coordinates": "[24, 95]"},
    ],
    ids=["no-coordinates", "no-geometry", "no-georel", "near-without-distance",
         "near-bad-modifier", "near-bad-number", "unknown-georel", "unknown-geometry",
         "coordinates-not-json", "coordinates-wrong-depth", "ring-not-closed",
         "longitude-out-of-range", "latitude-out-of-range"],
)
def test_invalid_geoquery_is_400(city, params):
    response = query(city, type="Sensor", **params)
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


# --- GeoJSON validation on write (clause 4.7) --------------------------------------------


BAD_GEOMETRIES = {
    "unclosed-ring": {"type": "Polygon", "coordinates": [[[24.9, 60.1], [25.0, 60.1],
                                                          [25.0, 60.2], [24.9, 60.2]]]},
    "ring-too-short": {"type": "Polygon", "coordinates": [[[24.9, 60.1], [25.0, 60.1],
                                                           [24.9, 60.1]]]},
    "longitude-out-of-range": {"type": "Point", "coordinates": [181.0, 60.0]},
    "latitude-out-of-range": {"type": "Point", "coordinates": [24.0, -91.0]},
    "point-one-number": {"type": "Point", "coordinates": [24.0]},
    "point-strings": {"type": "Point", "coordinates": ["24", "60"]},
    "linestring-one-point": {"type": "LineString", "coordinates": [[24.0, 60.0]]},
    "unknown-type": {"type": "Circle", "coordinates": [24.0, 60.0]},
    "no-coordinates": {"type": "Point"},
    "not-an-object": "POINT(24 60)",
}


@pytest.mark.parametrize("name", sorted(BAD_GEOMETRIES))
def test_invalid_geojson_is_rejected_on_create(client, name):
    body = entity(P1, "Sensor", location={"type": "GeoProperty", "value": BAD_GEOMETRIES[name]})
    assert_problem(client.post(f"{BASE}/entities", json=body), 400, "BadRequestData")
    assert not exists(client, P1)


@pytest.mark.parametrize("name", sorted(BAD_GEOMETRIES))
def test_invalid_geojson_is_rejected_on_update(city, name):
    response = city.patch(f"{BASE}/entities/{P1}/attrs",
                          json={"location": {"type": "GeoProperty",
                                             "value": BAD_GEOMETRIES[name]}})
    assert_problem(response, 400, "BadRequestData")
    assert ids_of(geoq(city, "near;maxDistance==10", "Point", CENTER, type="Sensor")) == {P1}


def test_geometry_round_trips_exactly(client):
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE, SMALL]}
    create(client, entity(ZONE, "Zone", location={"type": "GeoProperty", "value": multi}))
    body = client.get(f"{BASE}/entities/{ZONE}").json()
    assert body["location"]["value"] == multi


def test_moving_an_entity_moves_it_in_geoqueries(city):
    city.patch(f"{BASE}/entities/{P3}/attrs", json={"location": geo("Point", CENTER)})
    assert ids_of(geoq(city, "near;maxDistance==100", "Point", CENTER, type="Sensor")) == {P1, P3}


def test_deleted_entity_leaves_geo_index(city):
    city.delete(f"{BASE}/entities/{P1}")
    assert ids_of(geoq(city, "near;maxDistance==100", "Point", CENTER, type="Sensor")) == set()


@pytest.mark.parametrize("value", [
    {"type": ["Point"], "coordinates": [24.94, 60.17]},
    {"type": {"x": 1}, "coordinates": [24.94, 60.17]},
])
def test_a_geometry_type_that_is_not_a_string_is_400(client, value):
    """It reached a set lookup unguarded and answered 500 (found by the IoT conversion fuzz)."""
    body = entity("urn:ngsi-ld:Thing:badgeo", location={"type": "GeoProperty", "value": value})
    assert_problem(client.post(f"{BASE}/entities", json=body), 400, "BadRequestData")
    query_answer = query(client, type="Thing", georel="near;maxDistance==10",
                         geometry="Point", coordinates="[24.94,60.17]")
    assert query_answer.status_code == 200
