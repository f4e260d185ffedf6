"""Entity lifecycle (ETSI GS CIM 009 clauses 5.6.1-5.6.6, 5.6.17-5.6.18, 6.4-6.5)."""

from __future__ import annotations

import pytest

from .conftest import (
    BASE,
    assert_problem,
    create,
    entity,
    exists,
    geo,
    ids_of,
    prop,
    query,
    rel,
    retrieve,
)

E1 = "urn:ngsi-ld:Room:1"


def test_create_returns_201_with_location(client):
    response = create(client, entity(E1, "Room", temperature=prop(21)))
    assert response.headers["Location"].endswith(f"{BASE}/entities/{E1}")
    assert response.content in (b"", b"null")


def test_created_entity_is_retrievable(client):
    create(client, entity(E1, "Room", temperature=prop(21), name=prop("Kitchen")))
    body = retrieve(client, E1)
    assert body["id"] == E1
    assert body["type"] == "Room"
    assert body["temperature"] == {"type": "Property", "value": 21}
    assert body["name"] == {"type": "Property", "value": "Kitchen"}


def test_create_twice_is_already_exists(client):
    create(client, entity(E1, "Room"))
    response = client.post(f"{BASE}/entities", json=entity(E1, "Room", x=prop(1)))
    assert_problem(response, 409, "AlreadyExists")
    assert "x" not in retrieve(client, E1)


@pytest.mark.parametrize("entity_id", ["urn:ngsi-ld:T:1", "http://example.org/e/1", "urn:x:a:b:c"])
def test_create_accepts_any_uri_id(client, entity_id):
    create(client, entity(entity_id, "T"))
    assert retrieve(client, entity_id)["id"] == entity_id


@pytest.mark.parametrize(
    "body",
    [
        {"type": "Room"},
        {"id": "urn:ngsi-ld:Room:1"},
        {"id": "not a uri", "type": "Room"},
        {"id": "", "type": "Room"},
        {"id": 42, "type": "Room"},
        {"id": "urn:ngsi-ld:Room:1", "type": ""},
        {"id": "urn:ngsi-ld:Room:1", "type": 7},
        {"id": "urn:ngsi-ld:Room:1", "type": "Room", "t": {"type": "Property"}},
        {"id": "urn:ngsi-ld:Room:1", "type": "Room", "t": {"type": "Relationship"}},
        {"id": "urn:ngsi-ld:Room:1", "type": "Room", "t": {"type": "Relationship", "object": 3}},
        {"id": "urn:ngsi-ld:Room:1", "type": "Room", "t": {"type": "Wrong", "value": 1}},
        {"id": "urn:ngsi-ld:Room:1", "type": "Room", "t": {"type": "Property", "value": None}},
        {"id": "urn:ngsi-ld:Room:1", "type": "Room", "location": {"type": "GeoProperty",
                                                                "value": {"type": "Point"}}},
        {"id": "urn:ngsi-ld:Room:1", "type": "Room",
         "t": {"type": "Property", "value": 1, "observedAt": "yesterday"}},
        {"id": "urn:ngsi-ld:Room:1", "type": "Room", "t": {"type": "Property", "value": 1,
                                                         "datasetId": "not a uri"}},
    ],
    ids=[
        "no-id", "no-type", "id-not-uri", "id-empty", "id-number", "type-empty", "type-number",
        "property-without-value", "relationship-without-object", "relationship-object-number",
        "unknown-attribute-type", "value-null", "geoproperty-without-coordinates",
        "observedAt-not-datetime", "datasetId-not-uri",
    ],
)
def test_create_rejects_invalid_entities(client, body):
    response = client.post(f"{BASE}/entities", json=body)
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    assert not exists(client, E1)


def test_create_rejects_non_object_body(client):
    response = client.post(f"{BASE}/entities", json=[entity(E1, "Room")])
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")
    assert not exists(client, E1)


def test_retrieve_unknown_is_404(client):
    assert_problem(client.get(f"{BASE}/entities/urn:ngsi-ld:Nope:1"), 404, "ResourceNotFound")


def test_retrieve_with_invalid_id_is_400(client):
    assert_problem(client.get(f"{BASE}/entities/not-a-uri"), 400, "BadRequestData")


def test_retrieve_with_type_mismatch_is_404(client):
    create(client, entity(E1, "Room"))
    response = client.get(f"{BASE}/entities/{E1}", params={"type": "Car"})
    assert_problem(response, 404, "ResourceNotFound")
    assert retrieve(client, E1, type="Room")["id"] == E1


def test_retrieve_attrs_projection(client):
    create(client, entity(E1, "Room", a=prop(1), b=prop(2), c=prop(3)))
    body = retrieve(client, E1, attrs="a,c")
    assert set(body) == {"id", "type", "a", "c"}


def test_retrieve_pick_and_omit(client):
    create(client, entity(E1, "Room", a=prop(1), b=prop(2)))
    assert set(retrieve(client, E1, pick="id,a")) == {"id", "a"}
    assert set(retrieve(client, E1, omit="type,b")) == {"id", "a"}


def test_pick_and_omit_together_is_400(client):
    create(client, entity(E1, "Room", a=prop(1)))
    response = client.get(f"{BASE}/entities/{E1}", params={"pick": "a", "omit": "type"})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


def test_delete_entity(client):
    create(client, entity(E1, "Room"))
    response = client.delete(f"{BASE}/entities/{E1}")
    assert response.status_code == 204, response.text
    assert not exists(client, E1)
    assert_problem(client.delete(f"{BASE}/entities/{E1}"), 404, "ResourceNotFound")


def test_delete_entity_invalid_id_is_400(client):
    assert_problem(client.delete(f"{BASE}/entities/not%20a%20uri"), 400, "BadRequestData")


def test_recreate_after_delete(client):
    create(client, entity(E1, "Room", a=prop(1)))
    client.delete(f"{BASE}/entities/{E1}")
    create(client, entity(E1, "Car", b=prop(2)))
    body = retrieve(client, E1)
    assert body["type"] == "Car" and "a" not in body and body["b"]["value"] == 2


# --- replace (PUT /entities/{id}, clause 5.6.18) ---------------------------------------------


def test_replace_entity_drops_old_attributes(client):
    create(client, entity(E1, "Room", a=prop(1), b=prop(2)))
    response = client.put(f"{BASE}/entities/{E1}", json=entity(E1, "Room", c=prop(3)))
    assert response.status_code == 204, response.text
    body = retrieve(client, E1)
    assert "a" not in body and "b" not in body
    assert body["c"]["value"] == 3


def test_replace_entity_can_change_type(client):
    create(client, entity(E1, "Room", a=prop(1)))
    response = client.put(f"{BASE}/entities/{E1}", json={"type": "Office", "a": prop(2)})
    assert response.status_code == 204, response.text
    body = retrieve(client, E1)
    assert body["type"] == "Office" and body["a"]["value"] == 2


def test_replace_unknown_entity_is_404(client):
    response = client.put(f"{BASE}/entities/{E1}", json=entity(E1, "Room", a=prop(1)))
    assert_problem(response, 404, "ResourceNotFound")
    assert not exists(client, E1)


def test_replace_with_other_id_in_body_is_400(client):
    create(client, entity(E1, "Room", a=prop(1)))
    response = client.put(f"{BASE}/entities/{E1}", json=entity("urn:ngsi-ld:Room:2", "Room"))
    assert_problem(response, 400, "BadRequestData")
    assert retrieve(client, E1)["a"]["value"] == 1


# --- merge (PATCH /entities/{id}, clause 5.6.17) -------------------------------------------


def test_merge_entity_adds_and_updates(client):
    create(client, entity(E1, "Room", a=prop(1), b=prop(2)))
    response = client.patch(f"{BASE}/entities/{E1}", json={"a": prop(10), "c": prop(3)})
    assert response.status_code == 204, response.text
    body = retrieve(client, E1)
    assert body["a"]["value"] == 10 and body["b"]["value"] == 2 and body["c"]["value"] == 3


def test_merge_keeps_untouched_sub_attributes(client):
    create(client, entity(E1, "Room", a=prop(1, unitCode="CEL", accuracy=prop(0.5))))
    client.patch(f"{BASE}/entities/{E1}", json={"a": {"value": 2}})
    body = retrieve(client, E1)
    assert body["a"]["value"] == 2
    assert body["a"]["unitCode"] == "CEL"
    assert body["a"]["accuracy"]["value"] == 0.5


def test_merge_with_null_token_deletes_attribute(client):
    create(client, entity(E1, "Room", a=prop(1), b=prop(2)))
    response = client.patch(f"{BASE}/entities/{E1}", json={"a": "urn:ngsi-ld:null"})
    assert response.status_code == 204, response.text
    body = retrieve(client, E1)
    assert "a" not in body and body["b"]["value"] == 2


def test_merge_unknown_entity_is_404(client):
    response = client.patch(f"{BASE}/entities/{E1}", json={"a": prop(1)})
    assert_problem(response, 404, "ResourceNotFound")


def test_merge_invalid_fragment_is_400_and_writes_nothing(client):
    create(client, entity(E1, "Room", a=prop(1)))
    response = client.patch(f"{BASE}/entities/{E1}",
                            json={"a": prop(2), "r": {"type": "Relationship", "object": 5}})
    assert_problem(response, 400, "BadRequestData")
    assert retrieve(client, E1)["a"]["value"] == 1


# --- purge (DELETE /entities, clause 5.6.21, new in 1.9) -----------------------------------


def _purge_setup(client):
    create(client, entity("urn:ngsi-ld:Room:1", "Room", temperature=prop(10)))
    create(client, entity("urn:ngsi-ld:Room:2", "Room", temperature=prop(30)))
    create(client, entity("urn:ngsi-ld:Car:1", "Car", temperature=prop(30)))


def test_purge_by_type(client):
    _purge_setup(client)
    response = client.delete(f"{BASE}/entities", params={"type": "Room"})
    assert response.status_code == 204, response.text
    assert ids_of(query(client, type="Room,Car")) == {"urn:ngsi-ld:Car:1"}


def test_purge_by_type_and_q(client):
    _purge_setup(client)
    response = client.delete(f"{BASE}/entities", params={"type": "Room", "q": "temperature>20"})
    assert response.status_code == 204, response.text
    assert ids_of(query(client, type="Room,Car")) == {"urn:ngsi-ld:Room:1", "urn:ngsi-ld:Car:1"}


def test_purge_by_id_pattern(client):
    _purge_setup(client)
    response = client.delete(f"{BASE}/entities", params={"idPattern": "urn:ngsi-ld:Room:.*"})
    assert response.status_code == 204, response.text
    assert ids_of(query(client, type="Room,Car")) == {"urn:ngsi-ld:Car:1"}


def test_purge_drop_removes_only_named_attributes(client):
    create(client, entity(E1, "Room", a=prop(1), b=prop(2)))
    response = client.delete(f"{BASE}/entities", params={"type": "Room", "drop": "a"})
    assert response.status_code == 204, response.text
    body = retrieve(client, E1)
    assert "a" not in body and body["b"]["value"] == 2


def test_purge_keep_removes_other_attributes(client):
    create(client, entity(E1, "Room", a=prop(1), b=prop(2), c=prop(3)))
    response = client.delete(f"{BASE}/entities", params={"type": "Room", "keep": "a"})
    assert response.status_code == 204, response.text
    body = retrieve(client, E1)
    assert body["a"]["value"] == 1 and "b" not in body and "c" not in body


def test_purge_without_any_selector_is_400(client):
    _purge_setup(client)
    response = client.delete(f"{BASE}/entities")
    assert_problem(response, 400, "BadRequestData")
    assert len(ids_of(query(client, type="Room,Car"))) == 3


def test_purge_nothing_matching_leaves_everything(client):
    _purge_setup(client)
    response = client.delete(f"{BASE}/entities", params={"type": "Bicycle"})
    assert response.status_code in (204, 404), response.text
    assert len(ids_of(query(client, type="Room,Car"))) == 3


# --- full entity shape round trip ----------------------------------------------------------


def test_entity_with_every_basic_kind_round_trips(client):
    body = entity(
        E1, "Room",
        temperature=prop(21.5, unitCode="CEL", observedAt="2024-01-01T10:00:00Z"),
        isPartOf=rel("urn:ngsi-ld:Building:1"),
        location=geo("Point", [24.94, 60.17]),
        tags=prop(["a", "b"]),
        config=prop({"k": {"nested": [1, 2, {"x": True}]}}),
        flag=prop(False),
    )
    create(client, body)
    assert retrieve(client, E1) == body


def test_scope_round_trip(client):
    create(client, entity(E1, "Room", scope=["/Helsinki/Kallio", "/Company"]))
    assert sorted(retrieve(client, E1)["scope"]) == ["/Company", "/Helsinki/Kallio"]


def test_multi_type_entity(client):
    create(client, entity(E1, ["Room", "Office"], a=prop(1)))
    body = retrieve(client, E1)
    assert sorted(body["type"]) == ["Office", "Room"]
    assert ids_of(query(client, type="Office")) == {E1}
