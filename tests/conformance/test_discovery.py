"""Type and attribute discovery (clauses 5.7.5-5.7.8, 6.25-6.28)."""

from __future__ import annotations

import pytest

from .conftest import BASE, assert_problem, create, entity, geo, link_header, prop, rel

EX = "https://example.org/city#"


@pytest.fixture
def world(client):
    create(client, entity("urn:ngsi-ld:Room:1", "Room", temperature=prop(1), name=prop("x")))
    create(client, entity("urn:ngsi-ld:Room:2", "Room", temperature=prop(2),
                          inBuilding=rel("urn:ngsi-ld:Building:1")))
    create(client, entity("urn:ngsi-ld:Building:1", "Building", name=prop("B"),
                          location=geo("Point", [24.9, 60.1])))
    return client


def test_types_list(world):
    response = world.get(f"{BASE}/types")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "EntityTypeList"
    assert body["id"].startswith("urn:")
    assert sorted(body["typeList"]) == ["Building", "Room"]


def test_types_details(world):
    response = world.get(f"{BASE}/types", params={"details": "true"})
    assert response.status_code == 200, response.text
    by_name = {item["typeName"]: item for item in response.json()}
    assert set(by_name) == {"Building", "Room"}
    assert by_name["Room"]["type"] == "EntityType"
    assert sorted(by_name["Room"]["attributeNames"]) == ["inBuilding", "name", "temperature"]


def test_type_info(world):
    response = world.get(f"{BASE}/types/Room")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "EntityTypeInfo"
    assert body["typeName"] == "Room" and body["entityCount"] == 2
    details = {a["attributeName"]: a for a in body["attributeDetails"]}
    assert set(details) == {"temperature", "name", "inBuilding"}
    assert details["temperature"]["attributeTypes"] == ["Property"]
    assert details["inBuilding"]["attributeTypes"] == ["Relationship"]
    assert details["temperature"]["type"] == "Attribute"


def test_unknown_type_is_404(world):
    assert_problem(world.get(f"{BASE}/types/Spaceship"), 404, "ResourceNotFound")


def test_attributes_list(world):
    response = world.get(f"{BASE}/attributes")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "AttributeList"
    assert sorted(body["attributeList"]) == ["inBuilding", "location", "name", "temperature"]


def test_attributes_details(world):
    response = world.get(f"{BASE}/attributes", params={"details": "true"})
    assert response.status_code == 200, response.text
    by_name = {item["attributeName"]: item for item in response.json()}
    assert sorted(by_name["name"]["typeNames"]) == ["Building", "Room"]
    assert by_name["location"]["type"] == "Attribute"


def test_attribute_info(world):
    response = world.get(f"{BASE}/attributes/name")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attributeName"] == "name"
    assert body["attributeCount"] == 2
    assert body["attributeTypes"] == ["Property"]
    assert sorted(body["typeNames"]) == ["Building", "Room"]


def test_unknown_attribute_is_404(world):
    assert_problem(world.get(f"{BASE}/attributes/wingspan"), 404, "ResourceNotFound")


def test_empty_broker_has_empty_lists(client):
    assert client.get(f"{BASE}/types").json()["typeList"] == []
    assert client.get(f"{BASE}/attributes").json()["attributeList"] == []


def test_discovery_follows_deletes(world):
    world.delete(f"{BASE}/entities/urn:ngsi-ld:Building:1")
    assert world.get(f"{BASE}/types").json()["typeList"] == ["Room"]
    assert "location" not in world.get(f"{BASE}/attributes").json()["attributeList"]


def test_discovery_compacts_with_request_context(client, context_server):
    ctx = context_server.add("/c.jsonld", {"Tram": EX + "Tram", "line": EX + "line"})
    create(client, entity("urn:ngsi-ld:Tram:1", "Tram", line=prop(4)), headers=link_header(ctx))
    assert client.get(f"{BASE}/types").json()["typeList"] == [EX + "Tram"]
    assert client.get(f"{BASE}/types", headers=link_header(ctx)).json()["typeList"] == ["Tram"]
    response = client.get(f"{BASE}/types/Tram", headers=link_header(ctx))
    assert response.status_code == 200 and response.json()["entityCount"] == 1
    attrs = client.get(f"{BASE}/attributes", headers=link_header(ctx)).json()
    assert attrs["attributeList"] == ["line"]
