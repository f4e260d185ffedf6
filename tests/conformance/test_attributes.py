"""Attribute operations (clauses 5.6.3-5.6.5, 5.6.19, 6.6-6.7) and every attribute kind."""

from __future__ import annotations

import pytest

from .conftest import BASE, assert_problem, create, entity, prop, rel, retrieve

E1 = "urn:ngsi-ld:Room:1"
ATTRS = f"{BASE}/entities/{E1}/attrs"


@pytest.fixture
def room(client):
    create(client, entity(E1, "Room", temperature=prop(20, unitCode="CEL"), name=prop("R")))
    return client


# --- append (POST .../attrs) -----------------------------------------------------------------


def test_append_new_attributes_is_204(room):
    response = room.post(ATTRS, json={"humidity": prop(40), "inRoom": rel("urn:ngsi-ld:X:1")})
    assert response.status_code == 204, response.text
    body = retrieve(room, E1)
    assert body["humidity"]["value"] == 40
    assert body["inRoom"]["object"] == "urn:ngsi-ld:X:1"
    assert body["temperature"]["value"] == 20


def test_append_overwrites_by_default(room):
    response = room.post(ATTRS, json={"temperature": prop(25)})
    assert response.status_code == 204, response.text
    assert retrieve(room, E1)["temperature"] == {"type": "Property", "value": 25}


def test_append_no_overwrite_reports_207(room):
    response = room.post(ATTRS, params={"options": "noOverwrite"},
                         json={"temperature": prop(99), "humidity": prop(40)})
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["updated"] == ["humidity"]
    assert [item["attributeName"] for item in result["notUpdated"]] == ["temperature"]
    assert isinstance(result["notUpdated"][0]["reason"], str)
    body = retrieve(room, E1)
    assert body["temperature"]["value"] == 20 and body["humidity"]["value"] == 40


def test_append_no_overwrite_all_new_is_204(room):
    response = room.post(ATTRS, params={"options": "noOverwrite"}, json={"humidity": prop(4)})
    assert response.status_code == 204, response.text


def test_append_to_unknown_entity_is_404(client):
    response = client.post(ATTRS, json={"humidity": prop(40)})
    assert_problem(response, 404, "ResourceNotFound")


def test_append_invalid_attribute_is_400(room):
    response = room.post(ATTRS, json={"humidity": {"type": "Property"}})
    assert_problem(response, 400, "BadRequestData")
    assert "humidity" not in retrieve(room, E1)


def test_append_new_dataset_instance_keeps_default(room):
    response = room.post(ATTRS, json={"temperature": prop(30, datasetId="urn:ngsi-ld:ds:b")})
    assert response.status_code == 204, response.text
    instances = retrieve(room, E1)["temperature"]
    assert isinstance(instances, list) and len(instances) == 2
    assert {i.get("datasetId") for i in instances} == {None, "urn:ngsi-ld:ds:b"}


# --- update (PATCH .../attrs) ----------------------------------------------------------------


def test_update_existing_attributes_is_204(room):
    response = room.patch(ATTRS, json={"temperature": prop(22), "name": prop("S")})
    assert response.status_code == 204, response.text
    body = retrieve(room, E1)
    assert body["temperature"]["value"] == 22 and body["name"]["value"] == "S"


def test_update_with_missing_attribute_is_207(room):
    response = room.patch(ATTRS, json={"temperature": prop(22), "ghost": prop(1)})
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["updated"] == ["temperature"]
    assert [item["attributeName"] for item in result["notUpdated"]] == ["ghost"]
    body = retrieve(room, E1)
    assert body["temperature"]["value"] == 22 and "ghost" not in body


def test_update_unknown_entity_is_404(client):
    assert_problem(client.patch(ATTRS, json={"a": prop(1)}), 404, "ResourceNotFound")


def test_update_replaces_whole_attribute(room):
    room.patch(ATTRS, json={"temperature": prop(22)})
    assert retrieve(room, E1)["temperature"] == {"type": "Property", "value": 22}


# --- partial attribute update (PATCH .../attrs/{attrId}) -----------------------------------


def test_partial_update_changes_only_given_members(room):
    response = room.patch(f"{ATTRS}/temperature", json={"value": 23})
    assert response.status_code == 204, response.text
    assert retrieve(room, E1)["temperature"] == {"type": "Property", "value": 23, "unitCode": "CEL"}


def test_partial_update_adds_sub_attribute(room):
    response = room.patch(f"{ATTRS}/temperature", json={"accuracy": prop(0.1)})
    assert response.status_code == 204, response.text
    body = retrieve(room, E1)["temperature"]
    assert body["value"] == 20 and body["accuracy"]["value"] == 0.1


def test_partial_update_missing_attribute_is_404(room):
    assert_problem(room.patch(f"{ATTRS}/ghost", json={"value": 1}), 404, "ResourceNotFound")


def test_partial_update_missing_entity_is_404(client):
    response = client.patch(f"{ATTRS}/temperature", json={"value": 1})
    assert_problem(response, 404, "ResourceNotFound")


def test_partial_update_on_dataset_instance(room):
    room.post(ATTRS, json={"temperature": prop(30, datasetId="urn:ngsi-ld:ds:b")})
    response = room.patch(f"{ATTRS}/temperature",
                          json={"value": 31, "datasetId": "urn:ngsi-ld:ds:b"})
    assert response.status_code == 204, response.text
    values = {i.get("datasetId"): i["value"] for i in retrieve(room, E1)["temperature"]}
    assert values == {None: 20, "urn:ngsi-ld:ds:b": 31}


# --- replace attribute (PUT .../attrs/{attrId}) ------------------------------------------


def test_replace_attribute(room):
    response = room.put(f"{ATTRS}/temperature", json=prop(18))
    assert response.status_code == 204, response.text
    assert retrieve(room, E1)["temperature"] == {"type": "Property", "value": 18}


def test_replace_attribute_can_change_kind(room):
    response = room.put(f"{ATTRS}/name", json=rel("urn:ngsi-ld:Name:1"))
    assert response.status_code == 204, response.text
    assert retrieve(room, E1)["name"] == {"type": "Relationship", "object": "urn:ngsi-ld:Name:1"}


def test_replace_missing_attribute_is_404(room):
    assert_problem(room.put(f"{ATTRS}/ghost", json=prop(1)), 404, "ResourceNotFound")


def test_replace_attribute_invalid_body_is_400(room):
    assert_problem(room.put(f"{ATTRS}/temperature", json={"type": "Property"}), 400,
                   "BadRequestData")
    assert retrieve(room, E1)["temperature"]["value"] == 20


# --- delete attribute (DELETE .../attrs/{attrId}) ----------------------------------------


def test_delete_attribute(room):
    response = room.delete(f"{ATTRS}/temperature")
    assert response.status_code == 204, response.text
    body = retrieve(room, E1)
    assert "temperature" not in body and body["name"]["value"] == "R"


def test_delete_missing_attribute_is_404(room):
    assert_problem(room.delete(f"{ATTRS}/ghost"), 404, "ResourceNotFound")


def test_delete_attribute_of_missing_entity_is_404(client):
    assert_problem(client.delete(f"{ATTRS}/temperature"), 404, "ResourceNotFound")


def _with_datasets(client):
    client.post(ATTRS, json={"temperature": [prop(30, datasetId="urn:ngsi-ld:ds:b"),
                                              prop(40, datasetId="urn:ngsi-ld:ds:c")]})


def test_delete_one_dataset_instance(room):
    _with_datasets(room)
    response = room.delete(f"{ATTRS}/temperature", params={"datasetId": "urn:ngsi-ld:ds:b"})
    assert response.status_code == 204, response.text
    instances = retrieve(room, E1)["temperature"]
    assert {i.get("datasetId") for i in instances} == {None, "urn:ngsi-ld:ds:c"}


def test_delete_default_instance_keeps_datasets(room):
    _with_datasets(room)
    assert room.delete(f"{ATTRS}/temperature").status_code == 204
    instances = retrieve(room, E1)["temperature"]
    instances = instances if isinstance(instances, list) else [instances]
    assert {i.get("datasetId") for i in instances} == {"urn:ngsi-ld:ds:b", "urn:ngsi-ld:ds:c"}


def test_delete_all_instances(room):
    _with_datasets(room)
    response = room.delete(f"{ATTRS}/temperature", params={"deleteAll": "true"})
    assert response.status_code == 204, response.text
    assert "temperature" not in retrieve(room, E1)


def test_delete_unknown_dataset_is_404(room):
    response = room.delete(f"{ATTRS}/temperature", params={"datasetId": "urn:ngsi-ld:ds:zz"})
    assert_problem(response, 404, "ResourceNotFound")
    assert retrieve(room, E1)["temperature"]["value"] == 20


def test_retrieve_filtered_by_dataset_id(room):
    _with_datasets(room)
    body = retrieve(room, E1, datasetId="urn:ngsi-ld:ds:c", attrs="temperature")
    instances = body["temperature"]
    instances = instances if isinstance(instances, list) else [instances]
    assert [(i["datasetId"], i["value"]) for i in instances] == [("urn:ngsi-ld:ds:c", 40)]


def test_two_instances_with_same_dataset_id_is_400(client):
    body = entity(E1, "Room", t=[prop(1, datasetId="urn:ngsi-ld:ds:a"),
                                 prop(2, datasetId="urn:ngsi-ld:ds:a")])
    assert_problem(client.post(f"{BASE}/entities", json=body), 400, "BadRequestData")


# --- every attribute kind (clause 4.5) ----------------------------------------------------

KINDS = {
    "Property-number": prop(3.5),
    "Property-string": prop("text"),
    "Property-bool": prop(True),
    "Property-array": prop([1, "two", {"three": 3}]),
    "Property-object": prop({"street": "Main 1", "city": "Helsinki"}),
    "Property-meta": prop(7, unitCode="MTR", observedAt="2024-05-01T12:00:00Z",
                          datasetId="urn:ngsi-ld:ds:1"),
    "Property-sub": prop(1, accuracy=prop(0.5, unitCode="P1"),
                         measuredBy=rel("urn:ngsi-ld:Device:1")),
    "Relationship": rel("urn:ngsi-ld:Building:7"),
    "Relationship-objectType": rel("urn:ngsi-ld:Building:7", objectType="Building"),
    "Relationship-sub": rel("urn:ngsi-ld:Building:7", since=prop("2020")),
    "GeoProperty-Point": {"type": "GeoProperty", "value": {"type": "Point",
                                                           "coordinates": [24.9, 60.1]}},
    "GeoProperty-LineString": {"type": "GeoProperty", "value": {
        "type": "LineString", "coordinates": [[24.9, 60.1], [24.95, 60.15]]}},
    "GeoProperty-Polygon": {"type": "GeoProperty", "value": {
        "type": "Polygon",
        "coordinates": [[[24.9, 60.1], [25.0, 60.1], [25.0, 60.2], [24.9, 60.1]]]}},
    "LanguageProperty": {"type": "LanguageProperty",
                         "languageMap": {"en": "Market square", "fi": "Kauppatori"}},
    "VocabProperty": {"type": "VocabProperty", "vocab": "Open"},
    "VocabProperty-list": {"type": "VocabProperty", "vocab": ["Open", "Closed"]},
    "JsonProperty": {"type": "JsonProperty", "json": {"@id": "x", "type": "raw", "n": [1, 2]}},
    "ListProperty": {"type": "ListProperty", "valueList": [1, 2, 3]},
    "ListRelationship": {"type": "ListRelationship",
                         "objectList": [{"object": "urn:ngsi-ld:A:1"},
                                        {"object": "urn:ngsi-ld:A:2"}]},
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_attribute_kind_round_trips_normalized(client, kind):
    create(client, entity(E1, "Room", attr=KINDS[kind]))
    assert retrieve(client, E1)["attr"] == KINDS[kind]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_attribute_kind_has_system_attributes(client, kind):
    create(client, entity(E1, "Room", attr=KINDS[kind]))
    body = retrieve(client, E1, options="sysAttrs")
    for member in ("createdAt", "modifiedAt"):
        assert body[member].endswith("Z"), body
        assert body["attr"][member].endswith("Z"), body


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_attribute_kind_concise_round_trip(client, kind):
    """Whatever the broker renders as concise must be accepted back as the same attribute."""
    create(client, entity(E1, "Room", attr=KINDS[kind]))
    concise = retrieve(client, E1, options="concise")
    rendered = concise["attr"]
    assert not isinstance(rendered, dict) or rendered.get("type") != "Property"
    other = "urn:ngsi-ld:Room:2"
    concise["id"] = other
    create(client, concise)
    assert retrieve(client, other)["attr"] == KINDS[kind]


CONCISE_INPUT = {
    "plain-value": (21, prop(21)),
    "value-member": ({"value": 21, "unitCode": "CEL"}, prop(21, unitCode="CEL")),
    "object": ({"object": "urn:ngsi-ld:B:1"}, rel("urn:ngsi-ld:B:1")),
    "languageMap": ({"languageMap": {"en": "x"}},
                    {"type": "LanguageProperty", "languageMap": {"en": "x"}}),
    "vocab": ({"vocab": "Open"}, {"type": "VocabProperty", "vocab": "Open"}),
    "json": ({"json": {"a": 1}}, {"type": "JsonProperty", "json": {"a": 1}}),
    "valueList": ({"valueList": [1, 2]}, {"type": "ListProperty", "valueList": [1, 2]}),
    "geo": ({"type": "Point", "coordinates": [24.9, 60.1]},
            {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [24.9, 60.1]}}),
    "sub-attribute": ({"value": 1, "accuracy": 0.5}, prop(1, accuracy=prop(0.5))),
}


@pytest.mark.parametrize("case", sorted(CONCISE_INPUT))
def test_concise_input_is_understood(client, case):
    concise, normalized = CONCISE_INPUT[case]
    attr_name = "location" if case == "geo" else "attr"
    create(client, {"id": E1, "type": "Room", attr_name: concise})
    assert retrieve(client, E1)[attr_name] == normalized


def test_observed_at_is_returned_in_utc(client):
    create(client, entity(E1, "Room", t=prop(1, observedAt="2024-05-01T14:00:00+02:00")))
    observed = retrieve(client, E1)["t"]["observedAt"]
    assert observed.startswith("2024-05-01T12:00:00") and observed.endswith("Z")


def test_modified_at_moves_on_update(client):
    create(client, entity(E1, "Room", t=prop(1)))
    before = retrieve(client, E1, options="sysAttrs")
    client.patch(f"{ATTRS}/t", json={"value": 2})
    after = retrieve(client, E1, options="sysAttrs")
    assert after["createdAt"] == before["createdAt"]
    assert after["t"]["createdAt"] == before["t"]["createdAt"]
    assert after["t"]["modifiedAt"] > before["t"]["modifiedAt"]
    assert after["modifiedAt"] > before["modifiedAt"]


def test_system_attributes_sent_by_client_are_ignored(client):
    body = entity(E1, "Room", t=prop(1, createdAt="2000-01-01T00:00:00Z"))
    body["createdAt"] = "2000-01-01T00:00:00Z"
    client.post(f"{BASE}/entities", json=body)
    if client.get(f"{BASE}/entities/{E1}").status_code == 200:
        stored = retrieve(client, E1, options="sysAttrs")
        assert not stored["createdAt"].startswith("2000")
        assert not stored["t"]["createdAt"].startswith("2000")
