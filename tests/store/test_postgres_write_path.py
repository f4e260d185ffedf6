"""The PostgreSQL batch write path: each document is serialised once for its row and its change
row, history partitions are found from the rows' month prefixes, and documents and change
payloads are compressed with lz4 where the server has it."""

from __future__ import annotations

import psycopg
import pytest

from madina.store import change_log_postgres
from madina.store.base import ChangeRow, InstanceRow
from madina.store.postgres import PostgresStore
from tests.services.migrated import migrated_schema

NOW = "2026-11-21T05:00:00.000000Z"


@pytest.fixture
def url():
    with migrated_schema() as schema_url:
        yield schema_url


@pytest.fixture
def store(url):
    s = PostgresStore(url, pool_size=2)
    s.open()
    yield s
    s.close()


def document(n: int, value) -> dict:
    return {"id": f"urn:e:{n}", "type": ["urn:t:T"], "createdAt": NOW, "modifiedAt": NOW,
            "urn:a:speed": [{"type": "Property", "value": value}]}


def test_change_rows_carry_the_documents_as_written(store):
    with store.transaction("") as tx:
        tx.get_many(["urn:e:1", "urn:e:2"])  # both absent: inserted at commit
        for n in (1, 2):
            tx.insert(document(n, 1))
    first, second = document(1, 2), document(2, 3)
    with store.transaction("") as tx:
        tx.get_many(["urn:e:1", "urn:e:2"])
        tx.update(first)
        tx.update(second)
        tx.record([], [ChangeRow("urn:e:1", "updated", NOW, {"entity": first, "n": 1}),
                       ChangeRow("urn:e:2", "updated", NOW, {"entity": dict(second)})])
    assert store.get("", "urn:e:1") == first
    changes = [c.row.payload for c in store.changes_after(None, 10)]
    assert changes == [{"entity": first, "n": 1}, {"entity": second}]


def test_history_months_are_read_from_the_timestamps():
    rows = [InstanceRow("urn:e:1", "urn:t:T", "urn:a:x", "", None, at) for at in (
        "2026-11-30T23:59:59.999999Z", "2026-11-01T00:00:00.000000Z",
        "2026-12-01T00:00:00.000000Z", "0999-01-05T00:00:00.000000Z")]
    assert sorted(m.isoformat() for m in change_log_postgres.history_months(rows)) == [
        "0999-01-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"]


def test_documents_and_change_payloads_are_compressed_with_lz4(store, url):
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("SET default_toast_compression = lz4")
        except psycopg.errors.InvalidParameterValue:
            pytest.skip("this server has no lz4")
        methods = conn.execute(
            "SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute"
            " WHERE (attrelid, attname) IN (('entities'::regclass, 'doc'),"
            " ('changes'::regclass, 'payload')) ORDER BY 1"
        ).fetchall()
    assert methods == [("changes", "payload", "l"), ("entities", "doc", "l")]
