"""The PostgreSQL engine on its own: schema versions, atomicity, locking, PostGIS rows, history
partitions. Behaviour through the API is the shared conformance suite's job."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime

import psycopg
import pytest

from madina.store import postgres_schema
from madina.store.base import EntityQuery, StoreUnavailable, WriteConflict
from madina.store.postgres import PostgresStore
from madina.store.postgres_partitions import HISTORY, add_months, month_start
from tests.services import postgres_schema as fresh_schema
from tests.store.test_sqlite_store import LOC, box_filter, entity


@pytest.fixture
def url():
    with fresh_schema() as schema_url:
        yield schema_url


@pytest.fixture
def store(url):
    s = PostgresStore(url, pool_size=4)
    s.open()
    yield s
    s.close()


def scalar(url: str, statement: str, params=None):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement, params).fetchone()[0]


def test_a_fresh_database_is_initialised_on_first_start(store, url):
    assert scalar(url, "SELECT version FROM madina_schema") == postgres_schema.SCHEMA_VERSION


def test_an_older_schema_is_refused_until_db_upgrade(url):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE madina_schema (version integer NOT NULL)")
        conn.execute(postgres_schema.MIGRATIONS[0])
        conn.execute("INSERT INTO madina_schema VALUES (1)")
    with pytest.raises(postgres_schema.SchemaTooOld, match="madina db upgrade"):
        PostgresStore(url).open()
    out = subprocess.run(
        [sys.executable, "-m", "madina.cli", "db", "upgrade", "--db", url],
        capture_output=True, text=True, check=True,
    )
    assert f"from version 1 to {postgres_schema.SCHEMA_VERSION}" in out.stdout
    assert "password" not in out.stdout
    store = PostgresStore(url)
    store.open()
    store.close()


def test_a_newer_schema_is_refused(url):
    with psycopg.connect(url, autocommit=True) as conn:
        postgres_schema.migrate(conn)
        conn.execute("UPDATE madina_schema SET version = version + 1")
    with pytest.raises(postgres_schema.SchemaTooNew):
        PostgresStore(url).open()


def test_workers_starting_together_migrate_once(url):
    errors = []

    def start() -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                postgres_schema.migrate(conn)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert scalar(url, "SELECT count(*) FROM madina_schema") == 1


def test_a_failed_transaction_writes_nothing(store):
    with pytest.raises(RuntimeError), store.transaction("city") as tx:
        tx.insert(entity(1))
        raise RuntimeError("boom")
    assert store.get("city", "urn:ngsi-ld:T:1") is None
    assert not store.tenant_exists("city")


def test_a_transaction_reads_its_own_writes(store):
    with store.transaction("") as tx:
        tx.insert(entity(1))
        assert tx.get("urn:ngsi-ld:T:1")["id"] == "urn:ngsi-ld:T:1"
        assert not tx.insert(entity(1))
        assert tx.delete("urn:ngsi-ld:T:1")
        assert tx.get("urn:ngsi-ld:T:1") is None
        assert tx.insert(entity(1, lon=24.94))
    with store.transaction("") as tx:
        found = tx.get_many(["urn:ngsi-ld:T:1", "urn:ngsi-ld:T:2"])
        assert list(found) == ["urn:ngsi-ld:T:1"]
        assert tx.insert(entity(2))  # read as absent: written at commit
    docs, _ = store.query("", EntityQuery(geo=box_filter()))
    assert [d["id"] for d in docs] == ["urn:ngsi-ld:T:1"]
    assert store.get("", "urn:ngsi-ld:T:2") is not None


def test_geometry_rows_follow_moves_and_deletes(store, url):
    with store.transaction("") as tx:
        tx.insert(entity(1, lon=24.94))
        tx.insert(entity(2, lon=25.50))
    assert [d["id"] for d in store.query("", EntityQuery(geo=box_filter()))[0]] == [
        "urn:ngsi-ld:T:1"
    ]
    with store.transaction("") as tx:
        tx.update(entity(1, lon=26.0))
        tx.update(entity(2, lon=24.95))
    assert [d["id"] for d in store.query("", EntityQuery(geo=box_filter()))[0]] == [
        "urn:ngsi-ld:T:2"
    ]
    with store.transaction("") as tx:
        tx.delete("urn:ngsi-ld:T:2")
    assert scalar(url, "SELECT count(*) FROM geo_shapes") == 1


def test_concurrent_read_modify_writes_of_one_entity_lose_nothing(store):
    """Rows read for writing are locked: two workers adding attributes both land."""
    with store.transaction("") as tx:
        tx.insert(entity(1))

    def add(name: str) -> None:
        for n in range(25):
            with store.transaction("") as tx:
                doc = tx.get("urn:ngsi-ld:T:1")
                doc[f"https://example.org/{name}{n}"] = [{"type": "Property", "value": n}]
                tx.update(doc)

    threads = [threading.Thread(target=add, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    doc = store.get("", "urn:ngsi-ld:T:1")
    assert sum(key.startswith("https://example.org/") for key in doc) == 50


def test_starting_without_a_database_fails_at_once_and_clearly():
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1)
    with pytest.raises(psycopg.OperationalError, match=r"127\.0\.0\.1"):
        store.open()


def test_history_months_are_kept_ahead_and_expire_whole(store, url):
    with psycopg.connect(url, autocommit=True) as conn:
        names = [name for name, _ in HISTORY.partitions(conn)]
        this_month = month_start(datetime.now(UTC))
        assert HISTORY.partition_name(this_month) in names
        assert len(names) >= HISTORY.months_ahead + 1
        backfill = HISTORY.ensure_month(conn, datetime(2020, 5, 17, tzinfo=UTC))
        assert backfill == "attribute_instances_2020_05"
        conn.execute(
            "INSERT INTO attribute_instances (tenant, entity_id, attr, observed_at)"
            " VALUES ('', 'urn:x:1', 'a', '2020-05-17T10:00:00Z')"
        )
        store.history_retention_days = 30
        store.maintain(conn, datetime.now(UTC))
        remaining = [name for name, _ in HISTORY.partitions(conn)]
    assert backfill not in remaining
    assert HISTORY.partition_name(this_month) in remaining
    assert scalar(url, "SELECT count(*) FROM attribute_instances") == 0


def test_months_roll_over_the_year():
    december = datetime(2026, 12, 9, tzinfo=UTC)
    assert add_months(december, 1) == datetime(2027, 1, 1, tzinfo=UTC)
    assert add_months(december, -12) == datetime(2025, 12, 1, tzinfo=UTC)


def test_a_create_race_between_workers_is_a_conflict_not_a_crash(store):
    """Both transactions read the id as absent; the second to commit gets WriteConflict (409)
    and writes nothing, instead of an unexpected 500."""
    entity_id = "urn:ngsi-ld:T:1"
    inserted, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        with store.transaction("") as tx:
            assert tx.get_many([entity_id]) == {}
            tx.insert(entity(1, lon=24.94))
            inserted.set()
            release.wait(5)

    thread = threading.Thread(target=other_worker)
    thread.start()
    inserted.wait(5)
    with pytest.raises(WriteConflict), store.transaction("") as tx:
        assert tx.get_many([entity_id]) == {}
        assert tx.insert(entity(1, lon=25.5))
        release.set()
        thread.join()
    assert store.get("", entity_id)[LOC][0]["value"]["coordinates"][0] == 24.94


def test_no_statement_can_hold_a_worker_for_ever(store):
    with store.connection() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "1min"
        assert conn.info.get_parameters()["keepalives"] == "1"


def test_threads_changing_one_entity_queue_in_the_process_and_all_land(store):
    """The per-process entity locks serialise a hot entity's writers before the database;
    a waiter that gives up still relies on the row lock, so nothing is lost either way."""
    with store.transaction("") as tx:
        tx.insert(entity(1))
    held = store._entity_locks.acquire("", "urn:ngsi-ld:T:1")
    assert held is not None
    held.release()

    def bump(n: int) -> None:
        with store.transaction("") as tx:
            doc = tx.get("urn:ngsi-ld:T:1")
            doc[f"https://example.org/n{n}"] = [{"type": "Property", "value": n}]
            tx.update(doc)

    threads = [threading.Thread(target=bump, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    doc = store.get("", "urn:ngsi-ld:T:1")
    assert sum(key.startswith("https://example.org/n") for key in doc) == 8
    assert all(not lock.locked() for lock in store._entity_locks._locks)


def test_a_database_turned_read_only_is_unavailable_not_an_error(url):
    """After a failover the old primary is a standby: writes answer 503, not 500."""
    store = PostgresStore(url, pool_size=1)
    store.open()
    try:
        with store.connection() as conn:
            conn.execute("SET default_transaction_read_only = on")
        with pytest.raises(StoreUnavailable, match="read-only"), store.transaction("") as tx:
            tx.insert(entity(1))
        assert store.get("", "urn:ngsi-ld:T:1") is None
    finally:
        store.close()
