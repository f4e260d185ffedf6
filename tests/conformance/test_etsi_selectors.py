"""ETSI NGSI-LD test suite: type selectors on writes, batch input validation, discovery edges.

Each test names the ETSI test purpose it mirrors. Tests marked xfail are behaviours where the
broker disagrees with the spec text the TP cites.
"""

from __future__ import annotations

import pytest

from .conftest import BASE, assert_problem, create, entity, exists, prop, retrieve

B1 = "urn:ngsi-ld:Building:etsi-sel-1"
V1 = "urn:ngsi-ld:Vehicle:etsi-sel-1"


@pytest.fixture
def building(client):
    create(client, entity(B1, "Building", name=prop("x"), scope="/a"))
    return client


# --- 566_01 / 563_01: the optional type selector on writes (clauses 4.17, 5.6.3, 5.6.6) -----


def test_delete_with_non_matching_type_is_404_and_keeps_entity(building):
    # 566_01_01
    response = building.delete(f"{BASE}/entities/{B1}", params={"type": "Vehicle"})
    assert_problem(response, 404, "ResourceNotFound")
    assert exists(building, B1)


def test_delete_with_matching_type_deletes(building):
    # 566_01_01 (second half)
    assert building.delete(f"{BASE}/entities/{B1}", params={"type": "Building"}).status_code == 204
    assert not exists(building, B1)


def test_append_with_non_matching_type_is_404(building):
    # 563_01_01
    response = building.post(f"{BASE}/entities/{B1}/attrs", params={"type": "Vehicle"},
                             json={"name": prop("y")})
    assert_problem(response, 404, "ResourceNotFound")
    assert retrieve(building, B1)["name"]["value"] == "x"


def test_append_with_matching_type_is_204(building):
    # 563_01_01 (second half)
    response = building.post(f"{BASE}/entities/{B1}/attrs", params={"type": "Building"},
                             json={"name": prop("y")})
    assert response.status_code == 204, response.text
    assert retrieve(building, B1)["name"]["value"] == "y"


# --- 567_01: batch input validation (clause 5.6.7.4) ----------------------------------------


def test_batch_create_with_null_item_fails_whole_batch(client):
    # 567_01_01
    response = client.post(f"{BASE}/entityOperations/create",
                           json=[entity(V1, "Vehicle"), None])
    assert_problem(response, 400, "BadRequestData")
    assert not exists(client, V1)


def test_batch_create_with_empty_array_is_400(client):
    # 567_01_01 (second half)
    assert_problem(client.post(f"{BASE}/entityOperations/create", json=[]), 400,
                   "BadRequestData", "InvalidRequest")


def test_batch_create_error_entry_shape(client):
    # 003_02_01: 207 with success ids and errors {entityId, error: ProblemDetails}
    create(client, entity(V1, "Vehicle"))
    other = "urn:ngsi-ld:Vehicle:etsi-sel-2"
    response = client.post(f"{BASE}/entityOperations/create",
                           json=[entity(V1, "Vehicle"), entity(other, "Vehicle")])
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["success"] == [other]
    [error] = body["errors"]
    assert error["entityId"] == V1
    assert error["error"]["type"].endswith("/AlreadyExists")
    assert error["error"]["title"]


# --- 577_01 / 5710_01: discovery edges (clauses 5.7.7, 5.7.8, 5.7.10) ---------------------


def test_unknown_entity_type_is_resource_not_found(building):
    # 577_01_01
    assert_problem(building.get(f"{BASE}/types/NoSuchType12345"), 404, "ResourceNotFound")


def test_entity_types_are_scoped_to_the_tenant(client):
    # 577_01_03
    tenant_a, tenant_b = {"NGSILD-Tenant": "tp577a"}, {"NGSILD-Tenant": "tp577b"}
    create(client, entity(B1, "TenantAType"), headers=tenant_a)
    create(client, entity(V1, "Building"), headers=tenant_b)
    assert "TenantAType" in client.get(f"{BASE}/types", headers=tenant_a).json()["typeList"]
    assert "TenantAType" not in client.get(f"{BASE}/types", headers=tenant_b).json()["typeList"]
    assert_problem(client.get(f"{BASE}/types/TenantAType", headers=tenant_b), 404,
                   "ResourceNotFound")


def test_entity_members_are_not_discoverable_attributes(building):
    # 5710_01_01, 5710_01_02
    building.patch(f"{BASE}/entities/{B1}/attrs", json={"name": prop("y")})
    listed = building.get(f"{BASE}/attributes").json()["attributeList"]
    assert listed == ["name"]
    for member in ("id", "type", "scope", "createdAt", "modifiedAt", "deletedAt",
                   "noSuchAttribute12345"):
        assert_problem(building.get(f"{BASE}/attributes/{member}"), 404, "ResourceNotFound")


@pytest.mark.parametrize("path", ["/types/Building?details=true", "/attributes?limit=5",
                                  "/attributes/name?details=true"])
def test_undefined_discovery_parameter_is_invalid_request(building, path):
    assert_problem(building.get(f"{BASE}{path}"), 400, "InvalidRequest")


def test_type_list_as_ld_json_carries_context_in_body(building):
    # 022_01 with Accept: application/ld+json
    response = building.get(f"{BASE}/types", headers={"Accept": "application/ld+json"})
    assert response.headers["Content-Type"].split(";")[0] == "application/ld+json"
    body = response.json()
    assert body["type"] == "EntityTypeList" and body["typeList"] == ["Building"]
    assert "@context" in body and "Link" not in response.headers


# --- 019_33: linked-entity projections need join (clauses 4.21, 5.7.2.4) -----------------


def test_nested_pick_without_join_is_400(building):
    # 019_33_03 (join itself is not offered: with join the broker answers 422, which is fair)
    response = building.get(f"{BASE}/entities",
                            params={"type": "Building", "pick": "locatedAt{owner{name}}"})
    assert_problem(response, 400, "BadRequestData")
