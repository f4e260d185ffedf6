"""`entity_change` against a plain statement of what it must record: for every attribute of
either document (those of the old one first), one history row per instance that was written
or deleted, and the event naming them — however the documents share lists and instances."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from madina.context.recording import entity_change
from madina.store.base import InstanceRow

NOW = "2026-11-01T00:00:00.000000Z"
NAMES = ["urn:a:x", "urn:a:y", "urn:a:z"]


def expected(before: dict | None, after: dict | None) -> tuple[Any, list[InstanceRow]]:
    """The rows and (kind, attributes, previous) the definition asks for."""
    doc = after if after is not None else before
    assert doc is not None
    rows: list[InstanceRow] = []
    attributes: dict[str, str] = {}
    previous: dict[str, list] = {}
    names = dict.fromkeys(k for k in (before or {}) if ":" in k)
    names.update(dict.fromkeys(k for k in (after or {}) if ":" in k))
    for name in names:
        old, new = (before or {}).get(name), (after or {}).get(name)
        was = {i.get("datasetId", ""): i for i in old or ()}
        found = []
        for instance in new or ():
            dataset = instance.get("datasetId", "")
            if was.pop(dataset, None) != instance:
                observed = instance.get("observedAt") or instance.get("modifiedAt") or NOW
                found.append(InstanceRow(doc["id"], doc["type"][0], name, dataset, instance,
                                         observed))
        found += [InstanceRow(doc["id"], doc["type"][0], name, d, None, NOW) for d in was]
        if found:
            rows += found
            attributes[name] = "created" if old is None else "deleted" if new is None \
                else "updated"
            if old is not None:
                previous[name] = old
    others = [{k: v for k, v in d.items() if ":" not in k and k not in ("createdAt",
               "modifiedAt")} for d in (before or {}, after or {})]
    if before is None:
        kind = "created"
    elif after is None:
        kind = "deleted"
    elif attributes or others[0] != others[1]:
        kind = "updated"
    else:
        return None, rows
    return (kind, attributes, previous), rows


instances = st.lists(
    st.fixed_dictionaries(
        {"type": st.just("Property"), "value": st.integers(0, 2)},
        optional={"observedAt": st.sampled_from(["2026-10-01T00:00:00.000000Z"]),
                  "modifiedAt": st.sampled_from(["2026-10-02T00:00:00.000000Z"]),
                  "datasetId": st.sampled_from(["urn:ds:1", "urn:ds:2"])}),
    min_size=1, max_size=3, unique_by=lambda i: i.get("datasetId"))
documents = st.dictionaries(st.sampled_from(NAMES), instances).map(
    lambda attrs: {"id": "urn:e:1", "type": ["urn:t:T"], **attrs})


@st.composite
def changes(draw):
    """An old document and a new one that keeps, copies, replaces or drops each of its
    attributes (kept ones shared as an update shares them) and may add others."""
    before = draw(st.none() | documents)
    if before is None:
        return None, draw(documents)
    if draw(st.booleans()) and draw(st.booleans()):
        return before, None
    after = {"id": before["id"], "type": draw(st.sampled_from([before["type"], ["urn:t:U"]]))}
    for name in NAMES:
        choice = draw(st.sampled_from(["keep", "copy", "share-instances", "new", "drop"]))
        if name in before and choice == "keep":
            after[name] = before[name]
        elif name in before and choice == "copy":
            after[name] = [dict(i) for i in before[name]]
        elif name in before and choice == "share-instances":
            after[name] = list(before[name]) + draw(instances)[:1]
        elif choice != "drop":
            after[name] = draw(instances)
    return before, after


@settings(max_examples=300, deadline=None)
@given(change=changes())
def test_rows_and_event_are_what_the_definition_asks(change):
    before, after = change
    rows: list[InstanceRow] = []
    event = entity_change("", before, after, NOW, rows)
    want_event, want_rows = expected(before, after)
    assert rows == want_rows
    got = None if event is None else (event.kind, event.attributes, event.previous)
    assert got == want_event
    if event is not None:
        assert list(event.attributes) == list(want_event[1])  # same order
