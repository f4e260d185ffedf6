"""PostgreSQL change log: numbers are taken before commit, so a later number can commit first;
readers wait at such a gap until it fills, or until it is clearly a rollback."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from madina.context.broker import Broker
from madina.store import change_log_postgres
from madina.store.postgres import PostgresStore
from tests.context.entity_helpers import Terms
from tests.services.migrated import migrated_schema


@pytest.fixture
def url() -> Iterator[str]:
    with migrated_schema() as url:
        yield url


@pytest.fixture
def store(url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(url, pool_size=2)
    store.open()
    yield store
    store.close()


def sensor(n: int) -> dict:
    return {"id": f"urn:ngsi-ld:Sensor:{n}", "type": "Sensor"}


def open_change(url: str) -> psycopg.Connection:
    """A transaction that has numbered its change row and not committed yet."""
    conn = psycopg.connect(url)
    conn.execute("INSERT INTO changes (tenant, entity_id, kind, at, payload)"
                 " VALUES ('', 'urn:slow', 'created', now(), '{\"types\": [], \"entity\": null,"
                 " \"attributes\": {}, \"previous\": {}}')")
    return conn


def ids(store: PostgresStore, cursor: str | None = None) -> list[str]:
    return [c.row.entity_id for c in store.changes_after(cursor, 100)]


def test_reader_waits_for_an_earlier_number_to_commit(store, url) -> None:
    broker = Broker(store)
    broker.create("", sensor(1), Terms())
    start = store.latest_change_cursor()
    slow = open_change(url)
    broker.create("", sensor(2), Terms())  # numbered after the slow one, committed first
    assert ids(store, start) == []  # not past the gap: the slow change would be skipped
    slow.commit()
    slow.close()
    assert ids(store, start) == ["urn:slow", "urn:ngsi-ld:Sensor:2"]


def test_a_rolled_back_number_is_skipped_after_a_while(store, url, monkeypatch) -> None:
    broker = Broker(store)
    broker.create("", sensor(1), Terms())
    start = store.latest_change_cursor()
    slow = open_change(url)
    broker.create("", sensor(2), Terms())
    slow.rollback()
    slow.close()
    assert ids(store, start) == []
    monkeypatch.setattr(change_log_postgres, "GAP_PATIENCE", 0.0)
    assert ids(store, start) == ["urn:ngsi-ld:Sensor:2"]


def test_reading_from_the_start_needs_no_first_number(store) -> None:
    broker = Broker(store)
    broker.create("", sensor(1), Terms())
    store.prune_changes("2999-01-01T00:00:00.000000Z")
    broker.create("", sensor(2), Terms())
    assert ids(store) == ["urn:ngsi-ld:Sensor:2"]


def test_long_transactions_elsewhere_do_not_hold_readers_back(store, url) -> None:
    """Readers once waited for the oldest transaction anywhere on the server."""
    other = psycopg.connect(url)
    other.execute("SELECT pg_current_xact_id()")  # an unrelated open write transaction
    try:
        Broker(store).create("", sensor(3), Terms())
        assert ids(store) == ["urn:ngsi-ld:Sensor:3"]
    finally:
        other.close()
