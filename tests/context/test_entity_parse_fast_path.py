"""The fast path for the attribute shapes devices send must build exactly what the general
walk builds, and refuse exactly what it refuses, with the same words."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from madina.context import entity_model, entity_parse
from madina.context.errors import BadRequestData

from .entity_helpers import NOW, TERMS

MEMBER_VALUES = {
    "type": st.sampled_from(["Property", "GeoProperty", "Relationship", "Wrong", 5, None]),
    "value": st.one_of(
        st.integers(), st.floats(allow_nan=False), st.booleans(), st.text(max_size=5),
        st.sampled_from([None, "urn:ngsi-ld:null", [1, 2], {"a": 1}, "here",
                         {"type": "Point", "coordinates": [24.9, 60.2]},
                         {"type": "Point"}, {"type": "Point", "coordinates": [500, 0]}]),
    ),
    "observedAt": st.sampled_from(["2026-11-01T00:00:10Z", "2026-11-01T02:00:10+02:00",
                                   "2026-11-01T00:00:10.5", "yesterday", "2024-01-01", 17,
                                   None, "0001-01-01T00:00:00+01:00"]),
    "unitCode": st.sampled_from(["CEL", "", 5, None]),
    "datasetId": st.sampled_from(["urn:ds:a", "not a uri"]),
}
"""Members the fast path reads, and one it must leave to the general walk (datasetId)."""

attributes = st.permutations(sorted(MEMBER_VALUES)).flatmap(
    lambda keys: st.integers(1, len(keys)).flatmap(
        lambda size: st.fixed_dictionaries({k: MEMBER_VALUES[k] for k in keys[:size]})))
"""Attribute objects of some of those members, in any order."""


def parsed(name: str, value, partial: bool):
    try:
        return entity_parse.parse_attribute(name, value, TERMS, NOW, partial=partial)
    except BadRequestData as error:
        return ("refused", error.detail)


@settings(max_examples=400, deadline=None)
@example(value={"unitCode": "CEL", "value": 1, "observedAt": "2026-11-01T00:00:10Z"},
         name="temperature", partial=False)
@example(value={"observedAt": "2026-11-01T00:00:10Z", "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [24.9, 60.2]}},
         name="location", partial=False)
@given(value=st.one_of(attributes, MEMBER_VALUES["value"]),
       name=st.sampled_from(["temperature", "location"]), partial=st.booleans())
def test_fast_path_matches_the_general_walk(monkeypatch_module, value, name, partial):
    fast = parsed(name, value, partial)
    with monkeypatch_module.context() as patch:
        patch.setattr(entity_parse, "_plain_instance", lambda *args: None)
        general = parsed(name, value, partial)
    assert fast == general
    if not isinstance(fast, tuple):
        assert [list(i) for i in fast] == [list(i) for i in general]  # same member order


def test_measure_with_observed_at_and_unit_takes_the_fast_path(monkeypatch):
    calls = []
    monkeypatch.setattr(entity_parse, "_parse_instance",
                        lambda *args: calls.append(args) or {})
    [instance] = entity_parse.parse_attribute(
        "temperature",
        {"type": "Property", "value": 21.5, "observedAt": "2026-11-01T02:00:10+02:00",
         "unitCode": "CEL"},
        TERMS, NOW)
    assert calls == []
    assert instance == {"type": "Property", "value": 21.5,
                        "observedAt": "2026-11-01T00:00:10.000000Z", "unitCode": "CEL",
                        "createdAt": NOW, "modifiedAt": NOW}


def test_remembered_datetimes_are_bounded_and_still_checked(monkeypatch):
    monkeypatch.setattr(entity_model, "_CANONICAL_DATETIMES", {})
    monkeypatch.setattr(entity_model, "_DATETIME_MEMO_LIMIT", 3)
    stamps = [f"2026-11-01T00:00:0{n}+01:00" for n in range(5)]
    for _ in range(2):
        assert [entity_model.canonical_datetime(s, "x") for s in stamps] == [
            f"2026-10-31T23:00:0{n}.000000Z" for n in range(5)]
    assert len(entity_model._CANONICAL_DATETIMES) <= 3
    with pytest.raises(BadRequestData):
        entity_model.canonical_datetime("2026-13-01T00:00:00Z", "x")
    assert "2026-13-01T00:00:00Z" not in entity_model._CANONICAL_DATETIMES


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch
