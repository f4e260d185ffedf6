"""The value index must never change an answer: store queries equal `qlang.evaluate`."""

from __future__ import annotations

import pytest

from madina.context import qlang
from madina.store.base import EntityQuery
from madina.store.sqlite import SQLiteStore
from tests.store.test_sqlite_filters import HANDMADE, QUERIES, expand, random_documents

NOW = "2026-11-21T05:00:00.000000Z"


def stored(doc: dict) -> dict:
    return {**doc, "type": doc.get("type", ["https://example.org/ns/T"]), "createdAt": NOW,
            "modifiedAt": NOW}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = SQLiteStore(str(tmp_path_factory.mktemp("values") / "v.db"))
    s.open()
    with s.transaction("") as tx:
        for doc in HANDMADE + random_documents(60):
            assert tx.insert(stored(doc))
    yield s
    s.close()


def store_ids(store: SQLiteStore, node) -> list[str]:
    docs, _ = store.query("", EntityQuery(q=node, limit=1000))
    return [d["id"] for d in docs]


def all_docs(store: SQLiteStore) -> list[dict]:
    return store.query("", EntityQuery(limit=1000))[0]


@pytest.mark.parametrize("text", QUERIES)
def test_indexed_query_matches_evaluate(store, text):
    node = qlang.resolve(qlang.parse_q(text), expand)
    expected = [d["id"] for d in all_docs(store) if qlang.evaluate(node, d)]
    assert store_ids(store, node) == expected


def plan(store: SQLiteStore, text: str) -> str:
    node = qlang.resolve(qlang.parse_q(text), expand)
    where, params = store._where("", EntityQuery(q=node), None)
    rows = store.conn.execute(f"EXPLAIN QUERY PLAN SELECT e.doc FROM entities e WHERE {where}",
                              params).fetchall()
    return " ".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize("text", ["speed==55", "speed>50;name==\"Audi\"", "speed==1..60",
                                  "name==\"Audi\",\"Mercedes\"", "speed<0|speed>100"])
def test_plain_comparisons_read_the_index(store, text):
    assert "attr_values" in plan(store, text)


@pytest.mark.parametrize("text", ["speed!=55", "speed.observedAt>2024-01-01T00:00:00Z",
                                  "!speed", "speed==55|speed.observedAt>2024-01-01T00:00:00Z"])
def test_other_queries_are_not_narrowed(store, text):
    assert "attr_values" not in plan(store, text)


def test_index_follows_updates_and_deletes(tmp_path):
    s = SQLiteStore(str(tmp_path / "u.db"))
    s.open()
    doc = stored({"id": "urn:x:1", expand("speed"): [{"type": "Property", "value": 10}]})
    with s.transaction("") as tx:
        tx.insert(doc)
    node = qlang.resolve(qlang.parse_q("speed==10"), expand)
    assert store_ids(s, node) == ["urn:x:1"]
    with s.transaction("") as tx:
        tx.update({**doc, expand("speed"): [{"type": "Property", "value": 11}]})
    assert store_ids(s, node) == []
    assert store_ids(s, qlang.resolve(qlang.parse_q("speed==11"), expand)) == ["urn:x:1"]
    with s.transaction("") as tx:
        tx.delete("urn:x:1")
    assert s.conn.execute("SELECT count(*) FROM attr_values").fetchone()[0] == 0
    s.close()


def scalar_documents(count: int) -> list[dict]:
    """Only values the index represents exactly: numbers, strings, arrays of them, links."""
    import random

    rng = random.Random(11)
    values = [0, 55, 60.5, -3, "55", "Mercedes", "Audi", [55, "red"], ["red", "blue"]]
    docs = []
    for i in range(count):
        doc = {"id": f"urn:ngsi-ld:S:{i}"}
        for name in ("speed", "name", "colors", "color"):
            if rng.random() < 0.8:
                doc[expand(name)] = [
                    {"type": "Property", "value": rng.choice(values)}
                    for _ in range(rng.choice([1, 1, 2]))
                ]
        doc[expand("owner")] = [
            {"type": "Relationship", "object": rng.choice(["urn:a:1", "urn:a:2"])}
        ]
        docs.append(stored(doc))
    return docs


@pytest.fixture(scope="module")
def exact_store(tmp_path_factory):
    s = SQLiteStore(str(tmp_path_factory.mktemp("exact") / "e.db"))
    s.open()
    with s.transaction("") as tx:
        for doc in scalar_documents(80):
            tx.insert(doc)
    yield s
    s.close()


EXACT_QUERIES = [q for q in QUERIES if "[" not in q and "." not in q.split("=")[0]] + [
    'owner=="urn:a:1"', 'owner>"urn:a:1"', 'owner=="urn:a:1";speed>10', "speed==55|speed<0",
    'colors=="red"', "speed==0..60", 'name=="Audi","55"',
]


@pytest.mark.parametrize("text", EXACT_QUERIES)
def test_index_only_answers_match_evaluate(exact_store, text):
    node = qlang.resolve(qlang.parse_q(text), expand)
    expected = [d["id"] for d in all_docs(exact_store) if qlang.evaluate(node, d)]
    assert store_ids(exact_store, node) == expected


def test_index_only_path_is_taken_without_opaque_values(exact_store, store):
    node = qlang.resolve(qlang.parse_q("speed==55"), expand)
    where, _ = exact_store._where("", EntityQuery(q=node), None)
    assert "CASE" not in where  # the exact compiled q was not needed
    where, _ = store._where("", EntityQuery(q=node), None)
    assert "CASE" in where  # opaque values exist there: the exact q must decide
