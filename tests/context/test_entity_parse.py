"""Parsing client input (normalized and concise, clause 4.5) into stored documents."""

from __future__ import annotations

import pytest

from madina.context.entity import parse_attribute, parse_attributes, parse_entity
from madina.context.errors import BadRequestData

from .entity_helpers import CORE, DEFAULT, NOW, SDM, TERMS, d, point, prop, rel

E = "urn:ngsi-ld:Room:1"


def one(value, name="attr"):
    """Parse one attribute and return its single stored instance without timestamps."""
    [instance] = parse_attribute(name, value, TERMS, NOW)
    assert instance.pop("createdAt") == NOW and instance.pop("modifiedAt") == NOW
    return instance


def test_entity_document_layout():
    doc = parse_entity({"id": E, "type": "Room", "@context": "x", "t": prop(1)}, TERMS, NOW)
    assert doc == {
        "id": E, "type": [DEFAULT + "Room"], "createdAt": NOW, "modifiedAt": NOW,
        DEFAULT + "t": [{"type": "Property", "value": 1, "createdAt": NOW, "modifiedAt": NOW}],
    }


def test_multiple_types_are_expanded_and_deduplicated():
    doc = parse_entity({"id": E, "type": ["Room", "AirQualityObserved", "Room"]}, TERMS, NOW)
    assert doc["type"] == [DEFAULT + "Room", SDM + "AirQualityObserved"]


def test_scope_string_becomes_list():
    assert parse_entity({"id": E, "type": "T", "scope": "/a/b"}, TERMS, NOW)["scope"] == ["/a/b"]


def test_no_scope_member_when_absent():
    assert "scope" not in parse_entity({"id": E, "type": "T"}, TERMS, NOW)


def test_client_system_attributes_are_ignored():
    body = {"id": E, "type": "T", "createdAt": "2000-01-01T00:00:00Z",
            "t": prop(1, createdAt="2000-01-01T00:00:00Z", modifiedAt="2000-01-01T00:00:00Z")}
    doc = parse_entity(body, TERMS, NOW)
    assert doc["createdAt"] == NOW and doc[d("t")][0]["createdAt"] == NOW
    assert doc[d("t")][0]["modifiedAt"] == NOW


NORMALIZED = {
    "number": (prop(3.5), {"type": "Property", "value": 3.5}),
    "string": (prop("x"), {"type": "Property", "value": "x"}),
    "false": (prop(False), {"type": "Property", "value": False}),
    "zero": (prop(0), {"type": "Property", "value": 0}),
    "array": (prop([1, {"a": 2}]), {"type": "Property", "value": [1, {"a": 2}]}),
    "object-kept-verbatim": (prop({"@id": "x", "type": "y"}),
                             {"type": "Property", "value": {"@id": "x", "type": "y"}}),
    "unitCode": (prop(1, unitCode="CEL"), {"type": "Property", "value": 1, "unitCode": "CEL"}),
    "observedAt-Z": (prop(1, observedAt="2024-05-01T12:00:00Z"),
                     {"type": "Property", "value": 1,
                      "observedAt": "2024-05-01T12:00:00.000000Z"}),
    "observedAt-offset": (prop(1, observedAt="2024-05-01T14:00:00+02:00"),
                          {"type": "Property", "value": 1,
                           "observedAt": "2024-05-01T12:00:00.000000Z"}),
    "observedAt-millis": (prop(1, observedAt="2024-05-01T12:00:00.123Z"),
                          {"type": "Property", "value": 1,
                           "observedAt": "2024-05-01T12:00:00.123000Z"}),
    "expiresAt": (prop(1, expiresAt="2030-01-01T00:00:00Z"),
                  {"type": "Property", "value": 1, "expiresAt": "2030-01-01T00:00:00.000000Z"}),
    "datasetId": (prop(1, datasetId="urn:ngsi-ld:ds:1"),
                  {"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:ds:1"}),
    "relationship": (rel("urn:ngsi-ld:B:1"), {"type": "Relationship", "object": "urn:ngsi-ld:B:1"}),
    "relationship-list": (rel(["urn:a:1", "urn:a:2"]),
                          {"type": "Relationship", "object": ["urn:a:1", "urn:a:2"]}),
    "objectType": (rel("urn:ngsi-ld:B:1", objectType="Building"),
                   {"type": "Relationship", "object": "urn:ngsi-ld:B:1",
                    "objectType": DEFAULT + "Building"}),
    "geo": ({"type": "GeoProperty", "value": point()},
            {"type": "GeoProperty", "value": point()}),
    "language": ({"type": "LanguageProperty", "languageMap": {"en": "a", "fi": ["b", "c"]}},
                 {"type": "LanguageProperty", "languageMap": {"en": "a", "fi": ["b", "c"]}}),
    "vocab": ({"type": "VocabProperty", "vocab": "Open"},
              {"type": "VocabProperty", "vocab": DEFAULT + "Open"}),
    "vocab-list": ({"type": "VocabProperty", "vocab": ["Open", "http://x.org/Shut"]},
                   {"type": "VocabProperty", "vocab": [DEFAULT + "Open", "http://x.org/Shut"]}),
    "json": ({"type": "JsonProperty", "json": {"@id": 1, "type": "t"}},
             {"type": "JsonProperty", "json": {"@id": 1, "type": "t"}}),
    "json-null-free-scalar": ({"type": "JsonProperty", "json": 5},
                              {"type": "JsonProperty", "json": 5}),
    "valueList": ({"type": "ListProperty", "valueList": [3, 1, 2]},
                  {"type": "ListProperty", "valueList": [3, 1, 2]}),
    "objectList-spec-form": ({"type": "ListRelationship",
                              "objectList": [{"object": "urn:a:1"}, {"object": "urn:a:2"}]},
                             {"type": "ListRelationship", "objectList": ["urn:a:1", "urn:a:2"]}),
    "objectList-plain-ids": ({"type": "ListRelationship", "objectList": ["urn:a:1"]},
                             {"type": "ListRelationship", "objectList": ["urn:a:1"]}),
    "sub-attributes": (prop(1, accuracy=prop(0.5), by=rel("urn:d:1")),
                       {"type": "Property", "value": 1,
                        DEFAULT + "accuracy": {"type": "Property", "value": 0.5},
                        DEFAULT + "by": {"type": "Relationship", "object": "urn:d:1"}}),
    "lang-member-ignored": (prop("x", lang="en"), {"type": "Property", "value": "x"}),
}


@pytest.mark.parametrize("case", sorted(NORMALIZED))
def test_normalized_attribute(case):
    given, stored = NORMALIZED[case]
    assert one(given) == stored


CONCISE = {
    "number": (21, {"type": "Property", "value": 21}),
    "string": ("x", {"type": "Property", "value": "x"}),
    "bool": (True, {"type": "Property", "value": True}),
    "array-of-values": ([1, 2], {"type": "Property", "value": [1, 2]}),
    "array-of-objects-not-attributes": ([{"a": 1}], {"type": "Property", "value": [{"a": 1}]}),
    "value-member": ({"value": 21, "unitCode": "CEL"},
                     {"type": "Property", "value": 21, "unitCode": "CEL"}),
    "value-object": ({"value": {"a": 1}}, {"type": "Property", "value": {"a": 1}}),
    "object": ({"object": "urn:b:1"}, {"type": "Relationship", "object": "urn:b:1"}),
    "languageMap": ({"languageMap": {"en": "x"}},
                    {"type": "LanguageProperty", "languageMap": {"en": "x"}}),
    "vocab": ({"vocab": "Open"}, {"type": "VocabProperty", "vocab": DEFAULT + "Open"}),
    "json": ({"json": {"a": 1}}, {"type": "JsonProperty", "json": {"a": 1}}),
    "valueList": ({"valueList": [1]}, {"type": "ListProperty", "valueList": [1]}),
    "objectList": ({"objectList": [{"object": "urn:a:1"}]},
                   {"type": "ListRelationship", "objectList": ["urn:a:1"]}),
    "bare-geojson": (point(), {"type": "GeoProperty", "value": point()}),
    "value-geojson": ({"value": point(), "observedAt": "2024-01-01T00:00:00Z"},
                      {"type": "GeoProperty", "value": point(),
                       "observedAt": "2024-01-01T00:00:00.000000Z"}),
    "sub-attribute-plain": ({"value": 1, "accuracy": 0.5},
                            {"type": "Property", "value": 1,
                             DEFAULT + "accuracy": {"type": "Property", "value": 0.5}}),
    "sub-relationship": ({"value": 1, "by": {"object": "urn:d:1"}},
                         {"type": "Property", "value": 1,
                          DEFAULT + "by": {"type": "Relationship", "object": "urn:d:1"}}),
}


@pytest.mark.parametrize("case", sorted(CONCISE))
def test_concise_attribute(case):
    given, stored = CONCISE[case]
    assert one(given) == stored


@pytest.mark.parametrize("name", ["location", "observationSpace", "operationSpace"])
def test_geo_names_are_core_terms_and_geoproperties(name):
    [instance] = parse_attribute(name, {"value": point()}, TERMS, NOW)
    assert instance["type"] == "GeoProperty"
    doc = parse_entity({"id": E, "type": "T", name: point()}, TERMS, NOW)
    assert CORE + name in doc


def test_multi_instance_attribute():
    instances = parse_attribute(
        "speed", [prop(55, datasetId="urn:ds:a"), {"value": 11, "datasetId": "urn:ds:b"},
                  prop(50)], TERMS, NOW)
    assert [(i.get("datasetId"), i["value"]) for i in instances] == [
        ("urn:ds:a", 55), ("urn:ds:b", 11), (None, 50)]


def test_parse_attributes_ignores_entity_members():
    attrs = parse_attributes({"id": E, "type": "T", "@context": [], "t": 1}, TERMS, NOW)
    assert list(attrs) == [d("t")]


INVALID_ENTITIES = {
    "not-object": [],
    "no-id": {"type": "T"},
    "id-not-uri": {"id": "room 1", "type": "T"},
    "id-no-scheme": {"id": "room1", "type": "T"},
    "id-number": {"id": 7, "type": "T"},
    "id-empty": {"id": "", "type": "T"},
    "no-type": {"id": E},
    "type-empty": {"id": E, "type": ""},
    "type-number": {"id": E, "type": 3},
    "type-empty-list": {"id": E, "type": []},
    "type-list-with-number": {"id": E, "type": ["A", 1]},
    "type-forbidden-char": {"id": E, "type": "Ro(om"},
    "scope-no-slash": {"id": E, "type": "T", "scope": "a/b"},
    "scope-trailing-slash": {"id": E, "type": "T", "scope": "/a/"},
    "scope-number": {"id": E, "type": "T", "scope": [1]},
    "scope-empty-list": {"id": E, "type": "T", "scope": []},
    "keyword-name": {"id": E, "type": "T", "@id": "x"},
    "name-with-space": {"id": E, "type": "T", "a b": 1},
    "name-with-equals": {"id": E, "type": "T", "a=b": 1},
    "name-with-quote": {"id": E, "type": "T", "a'b": 1},
    "name-with-semicolon": {"id": E, "type": "T", "a;b": 1},
    "name-with-angle": {"id": E, "type": "T", "a<b": 1},
}


@pytest.mark.parametrize("case", sorted(INVALID_ENTITIES))
def test_invalid_entity_is_bad_request(case):
    with pytest.raises(BadRequestData):
        parse_entity(INVALID_ENTITIES[case], TERMS, NOW)


def deep(levels):
    value = prop(1)
    for _ in range(levels):
        value = prop(1, sub=value)
    return value


INVALID_ATTRIBUTES = {
    "null": None,
    "property-without-value": {"type": "Property"},
    "value-null": prop(None),
    "ngsi-ld-null-on-create": prop("urn:ngsi-ld:null"),
    "concise-ngsi-ld-null-on-create": "urn:ngsi-ld:null",
    "unknown-type": {"type": "Wrong", "value": 1},
    "no-kind": {"unitCode": "CEL"},
    "ambiguous-content": {"value": 1, "object": "urn:a:1"},
    "property-with-object": {"type": "Property", "value": 1, "object": "urn:a:1"},
    "relationship-without-object": {"type": "Relationship"},
    "relationship-object-number": rel(3),
    "relationship-object-not-uri": rel("nope"),
    "relationship-object-empty-list": rel([]),
    "relationship-list-with-bad-entry": rel(["urn:a:1", "x"]),
    "relationship-null-object": rel("urn:ngsi-ld:null"),
    "objectType-on-property": prop(1, objectType="Building"),
    "geo-invalid": {"type": "GeoProperty", "value": {"type": "Point"}},
    "geo-not-geojson": {"type": "GeoProperty", "value": "here"},
    "language-not-map": {"type": "LanguageProperty", "languageMap": "en"},
    "language-empty": {"type": "LanguageProperty", "languageMap": {}},
    "language-number": {"type": "LanguageProperty", "languageMap": {"en": 1}},
    "language-list-number": {"type": "LanguageProperty", "languageMap": {"en": ["a", 1]}},
    "vocab-number": {"type": "VocabProperty", "vocab": 1},
    "vocab-empty-list": {"type": "VocabProperty", "vocab": []},
    "valueList-not-list": {"type": "ListProperty", "valueList": 1},
    "objectList-not-list": {"type": "ListRelationship", "objectList": "urn:a:1"},
    "objectList-bad-id": {"type": "ListRelationship", "objectList": [{"object": 1}]},
    "json-null": {"type": "JsonProperty", "json": None},
    "observedAt-text": prop(1, observedAt="yesterday"),
    "observedAt-date-only": prop(1, observedAt="2024-01-01"),
    "observedAt-number": prop(1, observedAt=1700000000),
    "expiresAt-bad": prop(1, expiresAt="soon"),
    "datasetId-not-uri": prop(1, datasetId="not a uri"),
    "unitCode-number": prop(1, unitCode=5),
    "unitCode-empty": prop(1, unitCode=""),
    "duplicate-datasetId": [prop(1, datasetId="urn:ds:a"), prop(2, datasetId="urn:ds:a")],
    "two-default-instances": [prop(1), prop(2)],
    "keyword-sub-attribute": prop(1, **{"@type": "x"}),
    "bad-sub-attribute": prop(1, sub={"type": "Property"}),
    "sub-attribute-forbidden-name": prop(1, **{"a(b": prop(1)}),
    "too-deep": deep(40),
}


@pytest.mark.parametrize("case", sorted(INVALID_ATTRIBUTES))
def test_invalid_attribute_is_bad_request(case):
    with pytest.raises(BadRequestData) as error:
        parse_attribute("attr", INVALID_ATTRIBUTES[case], TERMS, NOW)
    assert "attr" in error.value.detail


def test_nesting_up_to_the_limit_is_accepted():
    assert one(deep(20))["value"] == 1


@pytest.mark.parametrize("name", ["location", "observationSpace", "operationSpace"])
@pytest.mark.parametrize("value", [prop(point()), 5, {"value": "x"}, rel("urn:a:1")])
def test_geo_names_must_be_geoproperties(name, value):
    with pytest.raises(BadRequestData):
        parse_attribute(name, value, TERMS, NOW)


def test_error_names_the_entity():
    with pytest.raises(BadRequestData) as error:
        parse_entity({"id": E, "type": "T", "t": {"type": "Property"}}, TERMS, NOW)
    assert "t" in error.value.detail


PARTIAL = {
    "null-property": ("urn:ngsi-ld:null", {"type": "Property", "value": "urn:ngsi-ld:null"}),
    "null-relationship": (rel("urn:ngsi-ld:null"),
                          {"type": "Relationship", "object": "urn:ngsi-ld:null"}),
    "null-language": ({"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}},
                      {"type": "LanguageProperty",
                       "languageMap": {"@none": "urn:ngsi-ld:null"}}),
    "only-sub-attribute": ({"accuracy": 0.1},
                           {DEFAULT + "accuracy": {"type": "Property", "value": 0.1}}),
    "only-observedAt": ({"observedAt": "2024-01-01T00:00:00Z"},
                        {"observedAt": "2024-01-01T00:00:00.000000Z"}),
    "typed-without-content": ({"type": "Property", "unitCode": "C"},
                              {"type": "Property", "unitCode": "C"}),
}


@pytest.mark.parametrize("case", sorted(PARTIAL))
def test_partial_fragments(case):
    given, stored = PARTIAL[case]
    [instance] = parse_attribute("attr", given, TERMS, NOW, partial=True)
    del instance["createdAt"], instance["modifiedAt"]
    assert instance == stored


def test_partial_entity_allows_empty_type():
    doc = parse_entity({"id": E, "type": [], "a": "urn:ngsi-ld:null"}, TERMS, NOW, partial=True)
    assert doc["type"] == [] and doc[d("a")][0]["value"] == "urn:ngsi-ld:null"


def test_partial_still_validates():
    with pytest.raises(BadRequestData):
        parse_attributes({"r": rel(5)}, TERMS, NOW, partial=True)
