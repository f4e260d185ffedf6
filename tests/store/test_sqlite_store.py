"""The SQLite engine on its own: durability, atomicity, migrations and the indexes it keeps."""

from __future__ import annotations

import sqlite3

import pytest

from madina.store.base import EntityQuery, EntitySelector, GeoFilter
from madina.store.sqlite import SQLiteStore
from madina.store.sqlite_schema import SCHEMA_VERSION, SchemaTooNew

T = "https://example.org/T"
U = "https://example.org/U"
LOC = "https://uri.etsi.org/ngsi-ld/location"
NOW = "2026-11-21T05:00:00.000000Z"


def entity(n: int, types=(T,), lon: float | None = None, lat: float = 60.17) -> dict:
    doc = {"id": f"urn:ngsi-ld:T:{n}", "type": list(types), "createdAt": NOW, "modifiedAt": NOW}
    if lon is not None:
        doc[LOC] = [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}]
    return doc


def box_filter() -> GeoFilter:
    """Everything whose box meets Helsinki's; the exact test lets all candidates through."""
    square = [[[24.9, 60.1], [25.0, 60.1], [25.0, 60.2], [24.9, 60.2], [24.9, 60.1]]]
    return GeoFilter(
        attribute=LOC, bbox=(24.9, 60.1, 25.0, 60.2), matches=lambda g: True,
        georel="intersects", geometry={"type": "Polygon", "coordinates": square},
    )


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(str(tmp_path / "s.db"))
    s.open()
    yield s
    s.close()


def test_a_committed_write_is_there_after_reopening(tmp_path):
    path = str(tmp_path / "durable.db")
    first = SQLiteStore(path)
    first.open()
    with first.transaction("") as tx:
        assert tx.insert(entity(1))
    first._conn.close()  # no clean shutdown: as if the process died
    first._conn = None
    second = SQLiteStore(path)
    second.open()
    assert second.get("", "urn:ngsi-ld:T:1")["type"] == [T]
    second.close()


def test_a_failed_transaction_writes_nothing(store):
    with pytest.raises(RuntimeError), store.transaction("city") as tx:
        tx.insert(entity(1))
        raise RuntimeError("boom")
    assert store.get("city", "urn:ngsi-ld:T:1") is None
    assert not store.tenant_exists("city")


def test_insert_refuses_an_existing_id(store):
    with store.transaction("") as tx:
        assert tx.insert(entity(1))
        assert not tx.insert(entity(1))


def test_tenants_are_isolated_and_created_on_first_write(store):
    assert not store.tenant_exists("a")
    with store.transaction("a") as tx:
        tx.insert(entity(1))
    assert store.tenant_exists("a")
    assert store.get("", "urn:ngsi-ld:T:1") is None
    assert store.get("a", "urn:ngsi-ld:T:1") is not None


def test_type_index_follows_updates_and_deletes(store):
    with store.transaction("") as tx:
        tx.insert(entity(1))
        tx.insert(entity(2, types=(T, U)))
    docs, total = store.query("", EntityQuery(selectors=[EntitySelector(types=U)], count=True))
    assert [d["id"] for d in docs] == ["urn:ngsi-ld:T:2"] and total == 1
    with store.transaction("") as tx:
        tx.update({**entity(1), "type": [U]})
        tx.delete("urn:ngsi-ld:T:2")
    docs, _ = store.query("", EntityQuery(selectors=[EntitySelector(types=U)]))
    assert [d["id"] for d in docs] == ["urn:ngsi-ld:T:1"]
    docs, _ = store.query("", EntityQuery(selectors=[EntitySelector(types=("and", (T, U)))]))
    assert docs == []


def test_geo_index_prefilters_and_follows_moves(store):
    with store.transaction("") as tx:
        tx.insert(entity(1, lon=24.94))
        tx.insert(entity(2, lon=25.50))
    box = box_filter()
    docs, _ = store.query("", EntityQuery(geo=box))
    assert [d["id"] for d in docs] == ["urn:ngsi-ld:T:1"]
    with store.transaction("") as tx:
        tx.update(entity(1, lon=26.0))
    assert store.query("", EntityQuery(geo=box))[0] == []
    rows = store.conn.execute("SELECT count(*) FROM geo_index").fetchone()[0]
    assert rows == 2


def test_exact_geo_predicate_decides_after_the_box(store):
    with store.transaction("") as tx:
        tx.insert(entity(1, lon=24.94))
        tx.insert(entity(2, lon=24.95))
    only_first = GeoFilter(
        attribute=LOC, bbox=None, matches=lambda g: g["coordinates"][0] < 24.945,
        georel="intersects", geometry={"type": "Point", "coordinates": [24.94, 60.17]},
    )
    docs, total = store.query("", EntityQuery(geo=only_first, count=True))
    assert [d["id"] for d in docs] == ["urn:ngsi-ld:T:1"] and total == 1


def test_paging_counts_everything_and_returns_a_page(store):
    with store.transaction("") as tx:
        for n in range(30):
            tx.insert(entity(n))
    docs, total = store.query(
        "", EntityQuery(selectors=[EntitySelector(types=T)], limit=10, offset=25, count=True)
    )
    assert total == 30
    assert [d["id"] for d in docs] == [f"urn:ngsi-ld:T:{n}" for n in range(25, 30)]


def test_migrations_are_recorded_and_a_newer_schema_is_refused(tmp_path):
    path = str(tmp_path / "m.db")
    s = SQLiteStore(path)
    s.open()
    assert s.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    s.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew):
        SQLiteStore(path).open()


def test_contexts_persist(store):
    store.save_context({"id": "urn:ctx:1", "url": "http://x/c.jsonld", "kind": "Cached"})
    assert store.load_contexts() == [
        {"id": "urn:ctx:1", "url": "http://x/c.jsonld", "kind": "Cached"}
    ]
    store.delete_context("urn:ctx:1")
    assert store.load_contexts() == []


def test_several_writes_to_one_entity_in_one_transaction_leave_consistent_indexes(store):
    """Index rows are written at commit: the last document of each entity must win."""
    with store.transaction("") as tx:
        tx.insert(entity(1, lon=24.94))
        tx.update(entity(1, types=(U,), lon=25.50))
        tx.insert(entity(2, lon=24.94))
        tx.delete("urn:ngsi-ld:T:2")
    with store.transaction("") as tx:
        tx.update(entity(1, types=(T,), lon=24.94))
        tx.update(entity(1, types=(T,), lon=24.94))
    counts = {
        table: store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("entity_types", "geo_shapes", "geo_index")
    }
    assert counts == {"entity_types": 1, "geo_shapes": 1, "geo_index": 1}
    box = box_filter()
    docs, _ = store.query("", EntityQuery(selectors=[EntitySelector(types=T)], geo=box))
    assert [d["id"] for d in docs] == ["urn:ngsi-ld:T:1"]


def test_removing_an_entity_from_the_indexes_never_scans_a_whole_index(store):
    """Each stale-row statement must look rows up (a full R*Tree scan per moved sensor made
    batch upserts 5x slower before)."""
    from madina.store.sqlite import STALE_ROWS

    for statements in STALE_ROWS.values():
        for statement in statements:
            plan = " ".join(
                str(row[-1])
                for row in store.conn.execute(
                    "EXPLAIN QUERY PLAN " + statement, (1,) * statement.count("?")
                )
            )
            assert "SCAN" not in plan.replace("SCAN geo_index VIRTUAL TABLE INDEX 1:", ""), plan


def test_reads_never_see_a_transaction_still_open_on_another_thread(store):
    """The IoT pipeline writes from a thread of its own: a query, or the change feed, reading
    meanwhile must not hand out its rows before they commit (or when they roll back)."""
    import threading

    from madina.store.base import ChangeRow

    inside, release = threading.Event(), threading.Event()

    def write(fail: bool) -> None:
        try:
            with store.transaction("") as tx:
                tx.insert(entity(1))
                tx.record([], [ChangeRow("urn:ngsi-ld:T:1", "created", NOW, {}, [T])])
                inside.set()
                release.wait(10)
                if fail:
                    raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    for fail in (True, False):
        inside.clear()
        release.clear()
        writer = threading.Thread(target=write, args=(fail,))
        writer.start()
        try:
            assert inside.wait(10)
            assert store.get("", "urn:ngsi-ld:T:1") is None
            assert store.changes_after(None, 10) == []
            assert store.query("", EntityQuery())[0] == []
        finally:
            release.set()
            writer.join()
    assert store.get("", "urn:ngsi-ld:T:1") is not None
    assert [c.entity_id for c in store.changes_after(None, 10)] == ["urn:ngsi-ld:T:1"]
