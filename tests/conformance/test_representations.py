"""Content negotiation and representations (clauses 4.5, 6.3.4-6.3.7, 6.3.15 GeoJSON)."""

from __future__ import annotations

import pytest

from .conftest import (
    BASE,
    CORE_CONTEXT,
    create,
    entity,
    exists,
    geo,
    prop,
    rel,
    retrieve,
)

E1 = "urn:ngsi-ld:Station:1"
E2 = "urn:ngsi-ld:Station:2"
URL = f"{BASE}/entities/{E1}"
GEOJSON = "application/geo+json"


@pytest.fixture
def station(client):
    create(client, entity(E1, "Station", temperature=prop(5, unitCode="CEL"),
                          operator=rel("urn:ngsi-ld:Org:1"),
                          location=geo("Point", [24.94, 60.17]),
                          area=geo("Polygon", [[[24.9, 60.1], [25.0, 60.1], [25.0, 60.2],
                                                [24.9, 60.1]]])))
    create(client, entity(E2, "Station", temperature=prop(7),
                          location=geo("Point", [24.95, 60.18])))
    return client


def test_json_response_has_link_header_and_no_context(station):
    response = station.get(URL, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert "@context" not in response.json()
    link = response.headers["Link"]
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in link


def test_ld_json_response_has_context_in_body(station):
    response = station.get(URL, headers={"Accept": "application/ld+json"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/ld+json")
    context = response.json()["@context"]
    flat = context if isinstance(context, list) else [context]
    assert any("ngsi-ld-core-context" in str(c) for c in flat)


def test_ld_json_query_has_context_in_each_entity(station):
    response = station.get(f"{BASE}/entities", params={"type": "Station"},
                           headers={"Accept": "application/ld+json"})
    assert response.status_code == 200
    assert all("@context" in item for item in response.json())


def test_default_accept_is_json(station):
    response = station.get(URL, headers={"Accept": "*/*"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png"])
def test_unacceptable_accept_is_406(station, accept):
    response = station.get(URL, headers={"Accept": accept})
    assert response.status_code == 406, response.text


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml",
                                          "application/x-www-form-urlencoded"])
def test_unsupported_content_type_is_415(client, content_type):
    response = client.post(f"{BASE}/entities", content=b'{"id":"urn:a:b","type":"T"}',
                           headers={"Content-Type": content_type})
    assert response.status_code == 415, response.text
    assert not exists(client, "urn:a:b")


def test_content_type_with_charset_is_accepted(client):
    response = client.post(f"{BASE}/entities", content=b'{"id":"urn:a:b","type":"T"}',
                           headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201, response.text


def test_merge_patch_content_type_is_accepted(station):
    response = station.patch(URL, content=b'{"temperature": 9}',
                             headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 204, response.text
    assert retrieve(station, E1)["temperature"]["value"] == 9


# --- keyValues / concise / normalized on retrieve -------------------------------------------


def test_retrieve_key_values(station):
    body = retrieve(station, E1, options="keyValues", attrs="temperature,operator,location")
    assert body == {"id": E1, "type": "Station", "temperature": 5,
                    "operator": "urn:ngsi-ld:Org:1",
                    "location": {"type": "Point", "coordinates": [24.94, 60.17]}}


def test_retrieve_concise(station):
    body = retrieve(station, E1, options="concise", attrs="temperature,operator,location")
    assert body == {"id": E1, "type": "Station",
                    "temperature": {"value": 5, "unitCode": "CEL"},
                    "operator": {"object": "urn:ngsi-ld:Org:1"},
                    "location": {"type": "Point", "coordinates": [24.94, 60.17]}}


def test_key_values_with_sys_attrs_has_no_attribute_metadata(station):
    body = retrieve(station, E1, options="keyValues,sysAttrs", attrs="temperature")
    assert body["temperature"] == 5


# --- GeoJSON (clause 6.3.15) --------------------------------------------------------------


def test_retrieve_as_geojson_feature(station):
    response = station.get(URL, headers={"Accept": GEOJSON})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(GEOJSON)
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == E1
    assert feature["geometry"] == {"type": "Point", "coordinates": [24.94, 60.17]}
    assert feature["properties"]["type"] == "Station"
    assert feature["properties"]["temperature"]["value"] == 5


def test_query_as_geojson_feature_collection(station):
    response = station.get(f"{BASE}/entities", params={"type": "Station"},
                           headers={"Accept": GEOJSON})
    assert response.status_code == 200, response.text
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert {f["id"] for f in collection["features"]} == {E1, E2}


def test_geojson_with_geometry_property(station):
    response = station.get(URL, params={"geometryProperty": "area"},
                           headers={"Accept": GEOJSON})
    assert response.status_code == 200, response.text
    assert response.json()["geometry"]["type"] == "Polygon"


def test_geojson_key_values(station):
    response = station.get(URL, params={"options": "keyValues"}, headers={"Accept": GEOJSON})
    assert response.status_code == 200, response.text
    assert response.json()["properties"]["temperature"] == 5


def test_geojson_without_location_has_null_geometry(client):
    create(client, entity(E1, "Station", temperature=prop(1)))
    response = client.get(URL, headers={"Accept": GEOJSON})
    assert response.status_code == 200, response.text
    assert response.json()["geometry"] is None


def test_geojson_carries_context(station):
    response = station.get(URL, headers={"Accept": GEOJSON})
    body = response.json()
    assert "@context" in body or "Link" in response.headers
    if "@context" in body:
        flat = body["@context"] if isinstance(body["@context"], list) else [body["@context"]]
        assert any(CORE_CONTEXT.split("-v")[0] in str(c) for c in flat)
