"""The SQLite write path collects document updates and rewrites only the value-index rows that
changed: whatever sequence of writes and transactions, the tables must end as if every index
had been rebuilt from the final documents, and reads inside a transaction see its writes."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from madina.store import sqlite_values
from madina.store.sqlite import SLOT_BITS, SQLiteStore, SQLiteTransaction

NAMES = ["urn:a:speed", "urn:a:name", "urn:a:tags", "urn:a:owner"]
NOW = "2026-11-21T05:00:00.000000Z"

values = st.sampled_from([0, 55, 60.5, "55", "Audi", True, {"o": 1}, [1, "red"], "x" * 300])
instances = st.lists(
    st.one_of(
        st.builds(lambda v: {"type": "Property", "value": v}, values),
        st.builds(lambda v, d: {"type": "Property", "value": v, "datasetId": d}, values,
                  st.sampled_from(["urn:ds:1", "urn:ds:2"])),
        st.builds(lambda o: {"type": "Relationship", "object": o},
                  st.sampled_from(["urn:a:1", "urn:a:2"])),
    ),
    min_size=1, max_size=3,
)
attributes = st.dictionaries(st.sampled_from(NAMES), instances)
writes = st.lists(
    st.tuples(st.sampled_from(["put", "put", "keep-some", "delete"]), st.integers(0, 2),
              attributes, st.booleans()),
    min_size=1, max_size=12,
)
"""(what, entity number, attributes, end the transaction after this write)."""


def document(n: int, attrs: dict) -> dict:
    return {"id": f"urn:e:{n}", "type": ["urn:t:T"], "createdAt": NOW, "modifiedAt": NOW,
            **attrs}


def index_rows(store: SQLiteStore) -> list[tuple]:
    return store.conn.execute(
        "SELECT id, entity_pk, attr, num, txt, opaque, ref FROM attr_values ORDER BY id"
    ).fetchall()


def rebuilt_rows(store: SQLiteStore) -> list[tuple]:
    """The value-index rows of the stored documents, built from scratch."""
    tx = SQLiteTransaction(store, "")
    rows = []
    for pk, doc in store.conn.execute("SELECT pk, doc FROM entities ORDER BY pk"):
        built = tx._value_rows(orjson.loads(doc))
        rows += [((pk << SLOT_BITS) | n, pk, *row) for n, row in enumerate(built)]
    return rows


def prop(value) -> list[dict]:
    return [{"type": "Property", "value": value}]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(steps=[  # a text and a number change in place, then shapes change and rows go
    ("put", 0, {"urn:a:name": prop("55"), "urn:a:speed": prop(1)}, True),
    ("keep-some", 0, {"urn:a:name": prop("Audi"), "urn:a:speed": prop(2.5)}, True),
    ("keep-some", 0, {"urn:a:name": prop(3), "urn:a:speed": prop("x")}, False),
    ("put", 0, {"urn:a:speed": prop(2.5)}, True),
])
@given(steps=writes)
def test_value_index_is_what_a_rebuild_would_write(tmp_path_factory, steps):
    store = SQLiteStore(str(tmp_path_factory.mktemp("w") / "w.db"))
    store.open()
    try:
        pending = list(steps)
        while pending:
            with store.transaction("") as tx:
                while pending:
                    what, n, attrs, end = pending.pop(0)
                    entity_id = f"urn:e:{n}"
                    old = tx.get(entity_id)
                    if what == "delete":
                        tx.delete(entity_id)
                    elif old is None:
                        tx.insert(document(n, attrs))
                    elif what == "keep-some":
                        # An update as entity_update makes one: untouched lists are shared.
                        new = {**old, **attrs}
                        tx.update(new, old)
                        assert tx.get(entity_id) is new  # reads see the pending document
                    else:
                        tx.update(document(n, attrs), old)
                    if end:
                        break
        assert index_rows(store) == rebuilt_rows(store)
    finally:
        store.close()


def test_updates_are_written_at_commit_and_change_rows_embed_the_written_document(tmp_path):
    store = SQLiteStore(str(tmp_path / "c.db"))
    store.open()
    try:
        with store.transaction("") as tx:
            tx.insert(document(1, {"urn:a:speed": [{"type": "Property", "value": 1}]}))
        new = document(1, {"urn:a:speed": [{"type": "Property", "value": 2}]})
        with store.transaction("") as tx:
            tx.update(new)
            stored = store.conn.execute("SELECT doc FROM entities").fetchone()[0]
            assert orjson.loads(stored)["urn:a:speed"][0]["value"] == 1  # not yet written
            assert tx.get("urn:e:1") is new
            from madina.store.base import ChangeRow
            tx.record([], [ChangeRow("urn:e:1", "updated", NOW, {"entity": new, "n": 1})])
        assert store.get("", "urn:e:1") == new
        [change] = store.changes_after(None, 10)
        assert change.row.payload == {"entity": new, "n": 1}
    finally:
        store.close()


@pytest.mark.parametrize(("value", "row"), [
    (2.5, (7, 2.5, None, 0, 0)),
    (3, (7, 3.0, None, 0, 0)),
    (2**53, (7, float(2**53), None, 0, 0)),
    (2**53 + 1, (7, None, None, 1, 0)),
    (-(2**53) - 1, (7, None, None, 1, 0)),
    (True, (7, None, None, 1, 0)),
    ("red", (7, None, "red", 0, 0)),
    ("x" * 257, (7, None, None, 1, 0)),
    ({"a": 1}, (7, None, None, 1, 0)),
])
def test_property_value_rows(value, row):
    """The short path for one-scalar Properties gives what the general walk gives."""
    assert sqlite_values.instance_rows(7, {"type": "Property", "value": value}) == [row]
    assert sqlite_values.instance_rows(
        7, {"type": "Property", "value": value, "observedAt": NOW, "unitCode": "CEL"}) == [row]
