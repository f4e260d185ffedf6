"""Rendering stored documents: normalized, concise, keyValues, filters, lang (clause 4.5)."""

from __future__ import annotations

import copy

import pytest

from madina.context.entity import best_language, parse_entity, render_entity

from .entity_helpers import NOW, TERMS, d, point, prop, rel

E = "urn:ngsi-ld:Room:1"

KINDS = {
    "number": prop(3.5),
    "string": prop("text"),
    "bool": prop(True),
    "array": prop([1, "two", {"three": 3}]),
    "object": prop({"street": "Main 1"}),
    "object-with-value-key": prop({"value": 1, "type": "x"}),
    "meta": prop(7, unitCode="MTR", observedAt="2024-05-01T12:00:00Z", datasetId="urn:ds:1"),
    "millis": prop(7, observedAt="2024-05-01T12:00:00.250Z"),
    "sub": prop(1, accuracy=prop(0.5, unitCode="P1"), by=rel("urn:d:1")),
    "property-holding-geojson": prop(point()),
    "relationship": rel("urn:b:7"),
    "relationship-list": rel(["urn:b:7", "urn:b:8"]),
    "objectType": rel("urn:b:7", objectType="Building"),
    "relationship-sub": rel("urn:b:7", since=prop("2020")),
    "geo-point": {"type": "GeoProperty", "value": point()},
    "geo-sub": {"type": "GeoProperty", "value": point(), "accuracy": prop(5)},
    "language": {"type": "LanguageProperty", "languageMap": {"en": "Market", "fi": "Tori"}},
    "vocab": {"type": "VocabProperty", "vocab": "Open"},
    "vocab-list": {"type": "VocabProperty", "vocab": ["Open", "Closed"]},
    "json": {"type": "JsonProperty", "json": {"@id": "x", "type": "raw", "n": [1, 2]}},
    "valueList": {"type": "ListProperty", "valueList": [1, 2, 3]},
    "objectList": {"type": "ListRelationship",
                   "objectList": [{"object": "urn:a:1"}, {"object": "urn:a:2"}]},
    "multi": [prop(1), prop(2, datasetId="urn:ds:b")],
    "multi-relationship": [rel("urn:a:1", datasetId="urn:ds:a"), rel("urn:a:2")],
}


def stored(attr):
    return parse_entity({"id": E, "type": "Room", "attr": attr}, TERMS, NOW)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_normalized_round_trip(kind):
    assert render_entity(stored(KINDS[kind]), TERMS) == {"id": E, "type": "Room",
                                                        "attr": KINDS[kind]}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_concise_round_trip(kind):
    concise = render_entity(stored(KINDS[kind]), TERMS, form="concise")
    rendered = concise["attr"]
    for instance in rendered if isinstance(rendered, list) else [rendered]:
        if isinstance(instance, dict) and "type" in instance:
            assert instance["type"] != "Relationship"
    again = parse_entity(concise, TERMS, NOW)
    assert render_entity(again, TERMS)["attr"] == KINDS[kind]


CONCISE_SHAPES = {
    "number": (prop(3), 3),
    "object-wrapped": (prop({"a": 1}), {"value": {"a": 1}}),
    "meta": (prop(3, unitCode="C"), {"value": 3, "unitCode": "C"}),
    "relationship": (rel("urn:b:1"), {"object": "urn:b:1"}),
    "geo": ({"type": "GeoProperty", "value": point()}, point()),
    "language": ({"type": "LanguageProperty", "languageMap": {"en": "x"}},
                 {"languageMap": {"en": "x"}}),
    "vocab": ({"type": "VocabProperty", "vocab": "Open"}, {"vocab": "Open"}),
    "sub": (prop(1, a=prop(2)), {"value": 1, "a": 2}),
    "property-geojson-keeps-type": (prop(point()), {"type": "Property", "value": point()}),
}


@pytest.mark.parametrize("case", sorted(CONCISE_SHAPES))
def test_concise_shapes(case):
    attr, expected = CONCISE_SHAPES[case]
    assert render_entity(stored(attr), TERMS, form="concise")["attr"] == expected


KEY_VALUES = {
    "property": (prop(3, unitCode="C", sub=prop(1)), 3),
    "geo": ({"type": "GeoProperty", "value": point()}, point()),
    "relationship": (rel("urn:b:1"), "urn:b:1"),
    "language": ({"type": "LanguageProperty", "languageMap": {"en": "x"}},
                 {"languageMap": {"en": "x"}}),
    "vocab": ({"type": "VocabProperty", "vocab": "Open"}, {"vocab": "Open"}),
    "json": ({"type": "JsonProperty", "json": {"a": 1}}, {"json": {"a": 1}}),
    "valueList": ({"type": "ListProperty", "valueList": [1]}, {"valueList": [1]}),
    "objectList": ({"type": "ListRelationship", "objectList": ["urn:a:1"]},
                   {"objectList": ["urn:a:1"]}),
    "multi": ([prop(1), prop(2, datasetId="urn:ds:b")],
              {"dataset": {"@none": 1, "urn:ds:b": 2}}),
}


@pytest.mark.parametrize("case", sorted(KEY_VALUES))
def test_key_values(case):
    attr, expected = KEY_VALUES[case]
    assert render_entity(stored(attr), TERMS, form="keyValues") == {
        "id": E, "type": "Room", "attr": expected}


def test_sys_attrs_on_entity_and_instances_only_when_asked():
    doc = stored(prop(1, sub=prop(2)))
    plain = render_entity(doc, TERMS)
    assert "createdAt" not in plain and "createdAt" not in plain["attr"]
    full = render_entity(doc, TERMS, sys_attrs=True)
    assert full["createdAt"] == full["modifiedAt"] == NOW
    assert full["attr"]["createdAt"] == NOW and full["attr"]["modifiedAt"] == NOW


def test_multiple_types_render_as_list():
    doc = parse_entity({"id": E, "type": ["Room", "AirQualityObserved"]}, TERMS, NOW)
    assert render_entity(doc, TERMS)["type"] == ["Room", "AirQualityObserved"]


def test_scope_renders_as_string_or_list():
    one = parse_entity({"id": E, "type": "T", "scope": "/a"}, TERMS, NOW)
    two = parse_entity({"id": E, "type": "T", "scope": ["/a", "/b/c"]}, TERMS, NOW)
    assert render_entity(one, TERMS)["scope"] == "/a"
    assert render_entity(two, TERMS)["scope"] == ["/a", "/b/c"]


def two_attrs():
    return parse_entity({"id": E, "type": "T", "a": 1, "b": 2}, TERMS, NOW)


@pytest.mark.parametrize(
    ("options", "keys"),
    [
        ({"attrs": {d("a")}}, {"id", "type", "a"}),
        ({"attrs": set()}, {"id", "type"}),
        ({"pick": {"id", "b"}}, {"id", "b"}),
        ({"omit": {"type", "a"}}, {"id", "b"}),
        ({"omit": {"id"}}, {"type", "a", "b"}),
        ({}, {"id", "type", "a", "b"}),
    ],
)
def test_projections(options, keys):
    assert set(render_entity(two_attrs(), TERMS, **options)) == keys


def multi():
    return stored([prop(1), prop(2, datasetId="urn:ds:b"), prop(3, datasetId="urn:ds:c")])


@pytest.mark.parametrize(
    ("dataset_ids", "expected"),
    [
        ({"@none"}, prop(1)),
        ({"urn:ds:c"}, prop(3, datasetId="urn:ds:c")),
        ({"@none", "urn:ds:b"}, [prop(1), prop(2, datasetId="urn:ds:b")]),
        ({"urn:ds:zz"}, None),
    ],
)
def test_dataset_filter(dataset_ids, expected):
    rendered = render_entity(multi(), TERMS, dataset_ids=dataset_ids)
    assert rendered.get("attr") == expected


def test_expired_instances_are_hidden():
    doc = stored([prop(1, expiresAt="2026-01-01T12:00:00Z"), prop(2, datasetId="urn:ds:b")])
    assert render_entity(doc, TERMS, now="2026-01-01T11:00:00.000000Z")["attr"][0]["value"] == 1
    later = render_entity(doc, TERMS, now="2026-01-01T13:00:00.000000Z")
    assert later["attr"] == prop(2, datasetId="urn:ds:b")


def test_all_instances_expired_hides_attribute():
    doc = stored(prop(1, expiresAt="2026-01-01T12:00:00Z"))
    assert "attr" not in render_entity(doc, TERMS, now="2027-01-01T00:00:00.000000Z")


LANGS = {"en": "Market", "en-GB": "Market (UK)", "fi": "Tori", "@none": "Torget"}


@pytest.mark.parametrize(
    ("lang", "tag"),
    [
        ("fi", "fi"),
        ("FI", "fi"),
        ("en-GB", "en-GB"),
        ("sv", "@none"),
        ("*", "en"),
        ("sv,fi;q=0.5", "fi"),
        ("en;q=0.2,fi;q=0.9", "fi"),
        ("de;q=0,fi", "fi"),
    ],
)
def test_best_language(lang, tag):
    assert best_language(LANGS, lang) == tag


def test_best_language_prefix_and_fallback_without_none():
    assert best_language({"en-US": "a", "fi": "b"}, "en") == "en-US"
    assert best_language({"fi": "b", "de": "c"}, "sv") == "de"


def test_lang_turns_language_property_into_property():
    doc = stored({"type": "LanguageProperty", "languageMap": LANGS, "observedAt":
                  "2024-01-01T00:00:00Z"})
    assert render_entity(doc, TERMS, lang="fi")["attr"] == {
        "type": "Property", "value": "Tori", "lang": "fi", "observedAt": "2024-01-01T00:00:00Z"}
    assert render_entity(doc, TERMS, lang="fi", form="keyValues")["attr"] == "Tori"
    assert render_entity(doc, TERMS, lang="fi", form="concise")["attr"] == {
        "value": "Tori", "lang": "fi", "observedAt": "2024-01-01T00:00:00Z"}


def test_lang_leaves_other_kinds_alone():
    doc = stored(prop("x"))
    assert render_entity(doc, TERMS, lang="fi")["attr"] == prop("x")


def test_rendering_does_not_mutate_the_document():
    doc = stored(KINDS["sub"])
    before = copy.deepcopy(doc)
    render_entity(doc, TERMS, form="concise", sys_attrs=True, lang="en")
    assert doc == before


def test_unknown_form_is_a_programming_error():
    with pytest.raises(ValueError):
        render_entity(two_attrs(), TERMS, form="simplified")
