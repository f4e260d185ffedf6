"""Multi-tenancy with NGSILD-Tenant (clause 4.14, 6.3.14)."""

from __future__ import annotations

from .conftest import BASE, assert_problem, create, entity, ids_of, prop, query, retrieve

E1 = "urn:ngsi-ld:Room:1"
T1 = {"NGSILD-Tenant": "helsinki"}
T2 = {"NGSILD-Tenant": "espoo"}


def test_tenant_is_created_on_first_write(client):
    create(client, entity(E1, "Room", t=prop(1)), headers=T1)
    assert retrieve(client, E1, headers=T1)["t"]["value"] == 1


def test_read_from_unknown_tenant_is_nonexistent_tenant(client):
    response = client.get(f"{BASE}/entities/{E1}", headers={"NGSILD-Tenant": "atlantis"})
    assert_problem(response, 404, "NonexistentTenant")
    response = query(client, type="Room", headers={"NGSILD-Tenant": "atlantis"})
    assert_problem(response, 404, "NonexistentTenant")


def test_update_in_unknown_tenant_is_nonexistent_tenant(client):
    response = client.patch(f"{BASE}/entities/{E1}/attrs", json={"t": prop(1)},
                            headers={"NGSILD-Tenant": "atlantis"})
    assert_problem(response, 404, "NonexistentTenant")


def test_tenants_are_isolated(client):
    create(client, entity(E1, "Room", t=prop(1)), headers=T1)
    create(client, entity(E1, "Room", t=prop(2)), headers=T2)
    create(client, entity(E1, "Room", t=prop(3)))
    assert retrieve(client, E1, headers=T1)["t"]["value"] == 1
    assert retrieve(client, E1, headers=T2)["t"]["value"] == 2
    assert retrieve(client, E1)["t"]["value"] == 3


def test_entity_in_one_tenant_is_invisible_in_another(client):
    create(client, entity(E1, "Room"), headers=T1)
    create(client, entity("urn:ngsi-ld:Room:2", "Room"), headers=T2)
    assert ids_of(query(client, type="Room", headers=T1)) == {E1}
    assert ids_of(query(client, type="Room", headers=T2)) == {"urn:ngsi-ld:Room:2"}
    assert_problem(client.get(f"{BASE}/entities/{E1}"), 404, "ResourceNotFound")


def test_delete_in_one_tenant_only(client):
    create(client, entity(E1, "Room"), headers=T1)
    create(client, entity(E1, "Room"), headers=T2)
    assert client.delete(f"{BASE}/entities/{E1}", headers=T1).status_code == 204
    assert_problem(client.get(f"{BASE}/entities/{E1}", headers=T1), 404, "ResourceNotFound")
    assert retrieve(client, E1, headers=T2)["id"] == E1


def test_batch_and_discovery_respect_tenant(client):
    response = client.post(f"{BASE}/entityOperations/create", headers=T1,
                           json=[entity(E1, "Tram"), entity("urn:ngsi-ld:Bus:1", "Bus")])
    assert response.status_code == 201, response.text
    assert sorted(client.get(f"{BASE}/types", headers=T1).json()["typeList"]) == ["Bus", "Tram"]
    create(client, entity("urn:ngsi-ld:Room:9", "Room"), headers=T2)
    assert client.get(f"{BASE}/types", headers=T2).json()["typeList"] == ["Room"]


def test_tenant_is_echoed_in_response(client):
    response = client.post(f"{BASE}/entities", json=entity(E1, "Room"), headers=T1)
    assert response.status_code == 201
    assert response.headers.get("NGSILD-Tenant") == "helsinki"
