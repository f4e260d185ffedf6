"""Update semantics on stored documents (clauses 5.6.2-5.6.5, 5.6.17-5.6.19)."""

from __future__ import annotations

import copy

import pytest

from madina.context.entity import (
    append_attributes,
    delete_attribute,
    merge_entity,
    parse_attribute,
    parse_attributes,
    parse_entity,
    partial_update_attribute,
    render_entity,
    replace_attribute,
    replace_entity,
    update_attributes,
)
from madina.context.errors import BadRequestData, ResourceNotFound

from .entity_helpers import LATER, NOW, TERMS, d, prop, rel

E = "urn:ngsi-ld:Room:1"


def room(**attrs):
    body = {"id": E, "type": "Room", "t": prop(20, unitCode="CEL", acc=prop(0.5)), "n": "R"}
    body.update(attrs)
    return parse_entity(body, TERMS, NOW)


def fragment(**attrs):
    return parse_attributes(attrs, TERMS, LATER)


def view(doc):
    return render_entity(doc, TERMS)


def test_append_adds_and_replaces():
    doc = room()
    result = append_attributes(doc, fragment(h=40, t=25), LATER)
    assert view(result.doc)["h"] == prop(40) and view(result.doc)["t"] == prop(25)
    assert result.created == [d("h")] and result.updated == [d("t")]
    assert result.doc["modifiedAt"] == LATER and result.doc["createdAt"] == NOW
    assert result.doc[d("t")][0]["createdAt"] == NOW
    assert result.doc[d("t")][0]["modifiedAt"] == LATER
    assert result.previous[d("t")][0]["value"] == 20
    assert doc[d("t")][0]["value"] == 20  # input untouched


def test_append_no_overwrite_reports_existing():
    result = append_attributes(room(), fragment(h=40, t=25), LATER, no_overwrite=True)
    assert view(result.doc)["t"]["value"] == 20
    assert [n["attributeName"] for n in result.not_updated] == [d("t")]
    assert result.created == [d("h")]


def test_append_new_dataset_instance_keeps_default():
    result = append_attributes(room(), fragment(t=prop(30, datasetId="urn:ds:b")), LATER,
                               no_overwrite=True)
    assert [i.get("datasetId") for i in result.doc[d("t")]] == [None, "urn:ds:b"]
    assert result.not_updated == [] and result.updated == [d("t")]


def test_append_nothing_changes_nothing():
    result = append_attributes(room(), fragment(t=1), LATER, no_overwrite=True)
    assert not result.changed and result.doc["modifiedAt"] == NOW


def test_update_replaces_only_existing():
    result = update_attributes(room(), fragment(t=22, ghost=1), LATER)
    assert view(result.doc)["t"] == prop(22)
    assert "ghost" not in view(result.doc)
    assert result.updated == [d("t")]
    assert result.not_updated[0]["attributeName"] == d("ghost")
    assert isinstance(result.not_updated[0]["reason"], str)


def test_update_unknown_dataset_is_not_updated():
    result = update_attributes(room(), fragment(t=prop(1, datasetId="urn:ds:x")), LATER)
    assert result.not_updated and not result.changed
    assert "urn:ds:x" in result.not_updated[0]["reason"]


def test_update_accepts_a_whole_document():
    result = update_attributes(room(), room(t=5), LATER)
    assert view(result.doc)["t"] == prop(5) and result.not_updated == []


def test_partial_update_merges_members():
    result = partial_update_attribute(room(), d("t"), {"value": 23}, TERMS, LATER)
    assert view(result.doc)["t"] == prop(23, unitCode="CEL", acc=prop(0.5))
    assert result.updated == [d("t")] and result.doc[d("t")][0]["createdAt"] == NOW


def test_partial_update_adds_sub_attribute_without_value():
    result = partial_update_attribute(room(), d("t"), {"q": prop(0.1)}, TERMS, LATER)
    assert view(result.doc)["t"]["value"] == 20 and view(result.doc)["t"]["q"] == prop(0.1)


def test_partial_update_null_deletes_sub_attribute():
    result = partial_update_attribute(room(), d("t"), {"acc": "urn:ngsi-ld:null"}, TERMS, LATER)
    assert "acc" not in view(result.doc)["t"]


def test_partial_update_targets_dataset_instance():
    doc = room(t=[prop(20), prop(30, datasetId="urn:ds:b")])
    result = partial_update_attribute(doc, d("t"), {"value": 31, "datasetId": "urn:ds:b"},
                                      TERMS, LATER)
    assert [i["value"] for i in result.doc[d("t")]] == [20, 31]


@pytest.mark.parametrize(
    ("name", "body"),
    [("ghost", {"value": 1}), ("t", {"value": 1, "datasetId": "urn:ds:none"})],
)
def test_partial_update_missing_target_is_404(name, body):
    with pytest.raises(ResourceNotFound):
        partial_update_attribute(room(), d(name), body, TERMS, LATER)


def test_partial_update_invalid_is_400():
    with pytest.raises(BadRequestData):
        partial_update_attribute(room(), d("t"), {"value": None}, TERMS, LATER)


def test_partial_update_can_change_kind():
    result = partial_update_attribute(room(), d("n"), {"object": "urn:a:1"}, TERMS, LATER)
    assert view(result.doc)["n"] == rel("urn:a:1")


def test_replace_attribute_whole_and_kind_change():
    new = parse_attribute("t", rel("urn:a:1"), TERMS, LATER)
    result = replace_attribute(room(), d("t"), new, LATER)
    assert view(result.doc)["t"] == rel("urn:a:1")
    assert result.doc[d("t")][0]["createdAt"] == NOW
    assert result.updated == [d("t")]


def test_replace_missing_attribute_is_404():
    with pytest.raises(ResourceNotFound):
        replace_attribute(room(), d("ghost"), parse_attribute("g", 1, TERMS, LATER), LATER)


@pytest.mark.parametrize(
    ("dataset_id", "delete_all", "left"),
    [
        (None, False, ["urn:ds:b", "urn:ds:c"]),
        ("urn:ds:b", False, [None, "urn:ds:c"]),
        ("@none", False, ["urn:ds:b", "urn:ds:c"]),
        (None, True, None),
    ],
)
def test_delete_attribute(dataset_id, delete_all, left):
    doc = room(t=[prop(1), prop(2, datasetId="urn:ds:b"), prop(3, datasetId="urn:ds:c")])
    result = delete_attribute(doc, d("t"), dataset_id, delete_all, LATER)
    if left is None:
        assert d("t") not in result.doc
    else:
        assert [i.get("datasetId") for i in result.doc[d("t")]] == left
    assert result.deleted == [d("t")] and result.doc["modifiedAt"] == LATER


def test_delete_last_instance_removes_attribute():
    result = delete_attribute(room(), d("n"), None, False, LATER)
    assert d("n") not in result.doc


@pytest.mark.parametrize(("name", "dataset_id"), [("ghost", None), ("t", "urn:ds:zz")])
def test_delete_missing_is_404(name, dataset_id):
    with pytest.raises(ResourceNotFound):
        delete_attribute(room(), d(name), dataset_id, False, LATER)


def patch(body):
    return parse_entity({"id": E, "type": [], **body}, TERMS, LATER, partial=True)


def test_merge_adds_updates_and_keeps_members():
    result = merge_entity(room(), patch({"t": {"value": 2}, "c": 3}), LATER)
    shown = view(result.doc)
    assert shown["t"] == prop(2, unitCode="CEL", acc=prop(0.5))
    assert shown["c"] == prop(3) and shown["n"] == prop("R")
    assert result.created == [d("c")] and result.updated == [d("t")]


def test_merge_null_deletes_attribute():
    result = merge_entity(room(), patch({"n": "urn:ngsi-ld:null"}), LATER)
    assert "n" not in view(result.doc) and result.deleted == [d("n")]


def test_merge_null_on_missing_attribute_changes_nothing():
    result = merge_entity(room(), patch({"zz": "urn:ngsi-ld:null"}), LATER)
    assert not result.changed and result.doc["modifiedAt"] == NOW


def test_merge_sub_attributes():
    result = merge_entity(room(), patch({"t": {"acc": {"value": 0.9}, "q": 1}}), LATER)
    assert view(result.doc)["t"] == prop(20, unitCode="CEL", acc=prop(0.9), q=prop(1))
    result = merge_entity(room(), patch({"t": {"acc": "urn:ngsi-ld:null"}}), LATER)
    assert view(result.doc)["t"] == prop(20, unitCode="CEL")


def test_merge_patches_compound_values_as_rfc7396():
    """Clause 5.5.12 and the NGSI-LD Primer's address example: keys merge, null removes."""
    doc = room(cfg=prop({"a": 1, "b": 2, "c": {"d": 1, "e": 2}}))
    fragment = {"cfg": {"value": {"a": 5, "b": "urn:ngsi-ld:null", "c": {"e": 3}}}}
    result = merge_entity(doc, patch(fragment), LATER)
    assert view(result.doc)["cfg"] == prop({"a": 5, "c": {"d": 1, "e": 3}})


def test_merge_adds_types_and_replaces_scope():
    result = merge_entity(room(), patch({"type": "Office", "scope": "/x"}), LATER)
    shown = view(result.doc)
    assert shown["type"] == ["Room", "Office"] and shown["scope"] == "/x"
    assert result.doc["modifiedAt"] == LATER


def test_merge_language_null_deletes():
    doc = room(l={"languageMap": {"en": "x"}})
    result = merge_entity(doc, patch({"l": {"languageMap": {"@none": "urn:ngsi-ld:null"}}}),
                          LATER)
    assert "l" not in view(result.doc)


def test_merge_new_attribute_needs_content():
    with pytest.raises(BadRequestData):
        merge_entity(room(), patch({"new": {"unitCode": "C"}}), LATER)


def test_merge_dataset_instance():
    doc = room(t=[prop(1), prop(2, datasetId="urn:ds:b")])
    result = merge_entity(doc, patch({"t": {"value": 9, "datasetId": "urn:ds:b"}}), LATER)
    assert [i["value"] for i in result.doc[d("t")]] == [1, 9]


def test_replace_entity_keeps_id_and_created_at():
    old = room()
    new = parse_entity({"id": E, "type": "Office", "t": 1, "c": 2}, TERMS, LATER)
    result = replace_entity(old, new, LATER)
    assert result.doc["createdAt"] == NOW and result.doc["modifiedAt"] == LATER
    shown = view(result.doc)
    assert shown["type"] == "Office" and "n" not in shown and shown["c"] == prop(2)
    assert result.created == [d("c")] and result.updated == [d("t")]
    assert result.deleted == [d("n")]


@pytest.mark.parametrize(
    "operation",
    [
        lambda doc: append_attributes(doc, fragment(t=1, x=2), LATER),
        lambda doc: update_attributes(doc, fragment(t=1), LATER),
        lambda doc: partial_update_attribute(doc, d("t"), {"value": 1}, TERMS, LATER),
        lambda doc: delete_attribute(doc, d("t"), None, True, LATER),
        lambda doc: merge_entity(doc, patch({"t": {"acc": "urn:ngsi-ld:null"}}), LATER),
        lambda doc: replace_entity(doc, room(), LATER),
    ],
)
def test_operations_never_mutate_their_input(operation):
    doc = room()
    before = copy.deepcopy(doc)
    operation(doc)
    assert doc == before


def multi():
    """A room whose `m` has a default instance and one of dataset urn:ds:a."""
    return room(m=[prop(1), prop(2, datasetId="urn:ds:a")])


@pytest.mark.parametrize(
    "operation",
    [
        lambda doc: append_attributes(doc, fragment(m=prop(3, datasetId="urn:ds:b")), LATER),
        lambda doc: append_attributes(doc, fragment(m=prop(3, datasetId="urn:ds:a")), LATER),
        lambda doc: update_attributes(doc, fragment(m=prop(3, datasetId="urn:ds:a")), LATER),
        lambda doc: partial_update_attribute(
            doc, d("m"), {"value": 4, "datasetId": "urn:ds:a"}, TERMS, LATER),
        lambda doc: replace_attribute(
            doc, d("m"), parse_attribute("m", prop(5, datasetId="urn:ds:c"), TERMS, LATER),
            LATER),
        lambda doc: delete_attribute(doc, d("m"), "urn:ds:a", False, LATER),
        lambda doc: merge_entity(
            doc, patch({"m": {"type": "Property", "value": 6, "datasetId": "urn:ds:b"}}),
            LATER),
        lambda doc: merge_entity(
            doc, patch({"m": {"value": "urn:ngsi-ld:null", "datasetId": "urn:ds:a"}}), LATER),
    ],
)
def test_operations_on_one_dataset_leave_the_input_and_earlier_results_alone(operation):
    """Results share unchanged lists and instances with their input; one applied to the
    result of another (a batch writing one entity twice) must leave both inputs alone."""
    doc = multi()
    before = copy.deepcopy(doc)
    first = operation(doc)
    first_doc = copy.deepcopy(first.doc)
    for again in (operation, lambda doc: append_attributes(
            doc, fragment(m=prop(9, datasetId="urn:ds:z")), LATER)):
        try:
            second = again(first.doc)
        except ResourceNotFound:  # deleting the same instance twice
            continue
        assert second.doc[d("m")] is not first.doc[d("m")]
    assert doc == before and first.doc == first_doc
    assert first.previous == {d("m"): before[d("m")]}
