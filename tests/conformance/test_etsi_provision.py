"""ETSI NGSI-LD test suite, Provision: what the create/update/merge test purposes check.

Each test names the ETSI test purpose it mirrors (TP/NGSI-LD/ContextInformation/Provision/...).
Tests marked xfail are behaviours where the broker disagrees with the spec text the TP cites.
"""

from __future__ import annotations

import pytest

from .conftest import (
    BASE,
    assert_problem,
    create,
    entity,
    exists,
    prop,
    rel,
    retrieve,
)

V1 = "urn:ngsi-ld:Vehicle:etsi-1"
NULL = "urn:ngsi-ld:null"


def post(client, body, **kwargs):
    return client.post(f"{BASE}/entities", json=body, **kwargs)


# --- 001_01: a created entity answers 201, empty body, Location naming it ------------------


def test_create_answers_201_with_empty_body_and_location(client):
    # 001_01_01
    response = create(client, entity(V1, "Vehicle", speed=prop(5)))
    assert response.content == b""
    assert response.headers["Location"].endswith(f"/ngsi-ld/v1/entities/{V1}")


def test_create_already_existing_is_409_with_title(client):
    # 001_03_01
    create(client, entity(V1, "Vehicle"))
    body = assert_problem(post(client, entity(V1, "Vehicle")), 409, "AlreadyExists")
    assert body["title"]


# --- 402_01: the meta model's required members (clause 4.2.2) ------------------------------


@pytest.mark.parametrize(
    "attribute",
    [
        {"type": "Property"},  # 402_01_01
        {"type": "Relationship"},  # 402_01_02
        {"type": "Property", "value": None},  # 402_01_03
        {"type": "LanguageProperty"},  # 402_01_04
    ],
    ids=["property-no-value", "relationship-no-object", "null-value", "language-no-map"],
)
def test_attribute_without_its_required_member_is_bad_request_data(client, attribute):
    assert_problem(post(client, entity(V1, "Vehicle", probe=attribute)), 400, "BadRequestData")
    assert not exists(client, V1)


# --- 451_01: core non-reified terms are not attribute names (clause 4.5.1) -----------------


def test_embedded_context_inside_attribute_is_bad_request_data(client):
    # 451_01_04
    attribute = {"type": "Property", "value": 1, "@context": {"speed": "https://evil.example/s"}}
    assert_problem(post(client, entity(V1, "Vehicle", speed=attribute)), 400, "BadRequestData")


@pytest.mark.parametrize("name", ["datasetId", "instanceId", "observedAt"])
def test_core_non_reified_term_as_attribute_name_is_bad_request_data(client, name):
    # 451_01_01 .. 451_01_03
    response = post(client, entity(V1, "Vehicle", **{name: prop("2026-01-01T00:00:00Z")}))
    assert_problem(response, 400, "BadRequestData")


# --- 452_01: members a normalized Property never carries (clause 4.5.2.2) -----------------


@pytest.mark.parametrize(
    "member",
    [
        {"object": "urn:ngsi-ld:Other:1"},  # 452_01_01
        {"languageMap": {"en": "hello"}},  # 452_01_02
        {"valueList": [1, 2]},  # 452_01_03
    ],
    ids=["object", "languageMap", "valueList"],
)
def test_property_with_another_kinds_value_member_is_400(client, member):
    response = post(client, entity(V1, "Vehicle", speed=prop(1, **member)))
    assert_problem(response, 400, "BadRequestData")


@pytest.mark.parametrize("member", [{"previousValue": 0}, {"entityIdSealed": True}],
                         ids=["previousValue", "entityIdSealed"])
def test_property_with_output_only_member_is_400(client, member):
    # 452_01_04, 452_01_05
    response = post(client, entity(V1, "Vehicle", speed=prop(1, **member)))
    assert_problem(response, 400, "BadRequestData")


def test_property_with_value_type_is_accepted(client):
    # 452_01_06
    create(client, entity(V1, "Vehicle", speed=prop(1, valueType="xsd:double")))
    assert retrieve(client, V1)["speed"]["value"] == 1


# --- 5232_01: LanguageProperty data type (clause 5.2.32) -----------------------------------


def test_language_property_with_value_type_lang_string_is_created(client):
    # 5232_01_01
    attribute = {"type": "LanguageProperty", "valueType": "langString",
                 "languageMap": {"en": "hello", "sk": ["ahoj", "servus"]}}
    create(client, entity(V1, "Building", probe=attribute))
    assert retrieve(client, V1)["probe"]["languageMap"] == attribute["languageMap"]


@pytest.mark.parametrize(
    "language_map",
    [{"en": 5}, {"en": ["a", 5]}, {"": "x"}],  # 5232_01_03, 5232_01_04, 5232_01_05
    ids=["number", "mixed-array", "empty-tag"],
)
def test_malformed_language_map_is_bad_request_data(client, language_map):
    attribute = {"type": "LanguageProperty", "languageMap": language_map}
    assert_problem(post(client, entity(V1, "Building", probe=attribute)), 400, "BadRequestData")


def test_language_property_with_other_value_type_is_400(client):
    # 5232_01_02
    attribute = {"type": "LanguageProperty", "languageMap": {"en": "x"}, "valueType": "xsd:string"}
    assert_problem(post(client, entity(V1, "Building", probe=attribute)), 400, "BadRequestData")


# --- 554_01: the NGSI-LD Null (clauses 5.2.1, 5.5.4, 5.5.12) --------------------------------


def test_null_as_first_level_member_is_bad_request_data(client):
    # 554_01_01
    assert_problem(post(client, entity(V1, "Vehicle", scope=NULL)), 400, "BadRequestData")
    assert not exists(client, V1)


@pytest.mark.parametrize("value", [{"country": NULL}, {"geo": {"country": NULL}}],
                         ids=["nested", "deeper"])
def test_null_inside_compound_value_on_create_is_400(client, value):
    # 554_01_02
    assert_problem(post(client, entity(V1, "Vehicle", address=prop(value))), 400,
                   "BadRequestData")
    assert not exists(client, V1)


def test_null_urn_is_not_an_entity_id(client):
    # 554_01_01 (second half)
    assert_problem(post(client, entity(NULL, "Vehicle")), 400, "BadRequestData")


def test_null_inside_compound_value_on_partial_update_is_400(client):
    # 554_01_03
    create(client, entity(V1, "Vehicle", address=prop({"street": "S", "country": "Germany"})))
    response = client.patch(f"{BASE}/entities/{V1}/attrs/address",
                            json={"value": {"country": NULL}})
    assert_problem(response, 400, "BadRequestData")
    assert retrieve(client, V1)["address"]["value"]["country"] == "Germany"


def test_merge_null_removes_key_inside_compound_value(client):
    # 554_01_04
    value = {"street": "Unter den Linden", "city": "Berlin", "country": "Germany"}
    create(client, entity(V1, "Vehicle", address=prop(value)))
    fragment = {"address": prop({"street": "Pariser Platz", "country": NULL})}
    assert client.patch(f"{BASE}/entities/{V1}", json=fragment).status_code == 204
    assert retrieve(client, V1)["address"]["value"] == {"street": "Pariser Platz",
                                                         "city": "Berlin"}


def test_payload_that_is_not_json_is_invalid_request(client):
    # 554_01_05
    response = client.post(f"{BASE}/entities", content=b'{"id": "urn:ngsi-ld:V:1", "type":',
                           headers={"Content-Type": "application/ld+json"})
    assert_problem(response, 400, "InvalidRequest")


# --- 461_01: UTF-8 round trip (clause 4.6.1) ------------------------------------------------


def test_utf8_content_round_trips_byte_exact(client):
    # 461_01_01
    text = "žltý kôň — 100 €"
    create(client, entity(V1, "Vehicle", brandName=prop(text)))
    response = client.get(f"{BASE}/entities/{V1}")
    assert response.json()["brandName"]["value"] == text
    assert "\ufffd" not in response.content.decode("utf-8")


# --- 002: delete entity ---------------------------------------------------------------------


def test_delete_answers_204_with_empty_body_then_404(client):
    # 002_01_01, 002_02_01
    create(client, entity(V1, "Vehicle"))
    response = client.delete(f"{BASE}/entities/{V1}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.delete(f"{BASE}/entities/{V1}"), 404, "ResourceNotFound")


# --- 010 / 011: attributes ------------------------------------------------------------------


def test_append_with_ld_json_body_without_context_is_400(client):
    # 010_05 (6.3.5: an application/ld+json body must carry @context)
    create(client, entity(V1, "Vehicle"))
    response = client.post(f"{BASE}/entities/{V1}/attrs", json={"speed": prop(3)},
                           headers={"Content-Type": "application/ld+json"})
    assert_problem(response, 400, "BadRequestData", "InvalidRequest")


def test_append_relationship_then_retrieve_it(client):
    # 010_01_02
    create(client, entity(V1, "Vehicle"))
    response = client.post(f"{BASE}/entities/{V1}/attrs",
                           json={"isParked": rel("urn:ngsi-ld:OffStreetParking:1")})
    assert response.status_code == 204, response.text
    assert retrieve(client, V1)["isParked"] == rel("urn:ngsi-ld:OffStreetParking:1")


def test_scope_is_not_an_attribute_to_patch(client):
    # 5.6.4: scope is an entity member, not an attribute; a partial update of it is refused
    create(client, entity(V1, "Vehicle", scope="/a"))
    response = client.patch(f"{BASE}/entities/{V1}/attrs/scope", json={"value": "/b"})
    assert response.status_code in (400, 404), response.text
    assert retrieve(client, V1)["scope"] in ("/a", ["/a"])
