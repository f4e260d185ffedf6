"""Every committed change leaves history instances and one change-log event per entity, in the
same transaction, on both engines."""

from __future__ import annotations

import orjson
import pytest

from madina.context.broker import Broker
from madina.context.errors import ResourceNotFound
from madina.events.model import ChangeEvent
from madina.store.base import ChangeRow, EntityQuery, Store
from madina.store.change_log import BadCursor
from tests.context.entity_helpers import DEFAULT, Terms

TEMP = DEFAULT + "temperature"
HUM = DEFAULT + "humidity"


@pytest.fixture
def broker(store: Store) -> Broker:
    return Broker(store)


def sensor(entity_id: str = "urn:ngsi-ld:Sensor:1", **attrs) -> dict:
    return {"id": entity_id, "type": "Sensor",
            **{k: {"type": "Property", "value": v} for k, v in attrs.items()}}


def events(store: Store, cursor: str | None = None) -> list[ChangeEvent]:
    return [ChangeEvent.from_stored(c) for c in store.changes_after(cursor, 1000)]


def history(store: Store, attr: str) -> list[tuple]:
    """(dataset, value or None when deleted, observed_at) rows of one attribute, oldest first."""
    sql = ("SELECT dataset_id, instance, observed_at FROM attribute_instances"
           " WHERE attr = {p} ORDER BY observed_at, {order}")
    if store.runs_on_loop:  # SQLite: JSON as text
        rows = store.conn.execute(sql.format(p="?", order="id"), (attr,)).fetchall()
        return [(d, None if i is None else orjson.loads(i)["value"], o) for d, i, o in rows]
    with store.connection() as conn:
        rows = conn.execute(
            sql.format(p="%s", order="recorded_at"), (attr,)).fetchall()
    return [(d, None if i is None else i["value"], o) for d, i, o in rows]


def test_create_update_delete_are_events_in_commit_order(broker: Broker, store: Store) -> None:
    terms = Terms()
    broker.create("t1", sensor(temperature=20), terms)
    broker.update_attrs("t1", "urn:ngsi-ld:Sensor:1",
                        {"temperature": {"type": "Property", "value": 21}}, terms)
    broker.append_attrs("t1", "urn:ngsi-ld:Sensor:1",
                        {"humidity": {"type": "Property", "value": 50}}, terms, False)
    broker.delete_attr("t1", "urn:ngsi-ld:Sensor:1", "temperature", terms, None, False)
    broker.delete("t1", "urn:ngsi-ld:Sensor:1")

    got = events(store)
    assert [(e.kind, e.attributes) for e in got] == [
        ("created", {TEMP: "created"}),
        ("updated", {TEMP: "updated"}),
        ("updated", {HUM: "created"}),
        ("updated", {TEMP: "deleted"}),
        ("deleted", {HUM: "deleted"}),
    ]
    assert all(e.tenant == "t1" and e.entity_id == "urn:ngsi-ld:Sensor:1" for e in got)
    assert got[1].previous[TEMP][0]["value"] == 20
    assert got[1].entity[TEMP][0]["value"] == 21
    assert got[4].entity is None and got[4].previous[HUM][0]["value"] == 50
    # Reading on from a cursor gives exactly the later events.
    assert [e.kind for e in events(store, got[2].cursor)] == ["updated", "deleted"]
    assert events(store, got[4].cursor) == []


def test_history_keeps_every_write_and_the_deletion(broker: Broker, store: Store) -> None:
    terms = Terms()
    broker.create("t1", sensor(temperature=20), terms)
    for value, observed in ((21, "2026-03-01T10:00:00Z"), (22, "2026-03-01T11:00:00+02:00")):
        broker.update_attrs("t1", "urn:ngsi-ld:Sensor:1", {"temperature": {
            "type": "Property", "value": value, "observedAt": observed}}, terms)
    broker.delete_attr("t1", "urn:ngsi-ld:Sensor:1", "temperature", terms, None, False)
    rows = history(store, TEMP)
    values = [value for _, value, _ in rows]
    # 11:00+02:00 is 09:00Z, before 10:00Z: history is ordered by observation, not by write.
    assert values[:2] == [22, 21]
    assert sorted(values[2:], key=str) == [20, None]
    assert all(dataset == "" for dataset, _, _ in rows)


def test_a_write_of_an_unchanged_document_is_no_event(broker: Broker, store: Store) -> None:
    terms = Terms()
    broker.create("t1", sensor(temperature=20), terms)
    cursor = store.latest_change_cursor()
    broker.purge("t1", EntityQuery(), keep=None, drop={DEFAULT + "absent"})
    assert events(store, cursor) == []


def test_failed_transaction_leaves_no_trace(broker: Broker, store: Store) -> None:
    terms = Terms()
    broker.create("t1", sensor(temperature=20), terms)
    cursor = store.latest_change_cursor()
    with pytest.raises(ResourceNotFound), broker.transaction("t1") as tx:
        tx.update({**tx.get("urn:ngsi-ld:Sensor:1"), "modifiedAt": "2026-01-01T00:00:00Z"})
        raise ResourceNotFound("abandon")
    assert events(store, cursor) == []
    assert len(history(store, TEMP)) == 1


def test_batch_is_one_event_per_entity_and_wakes_listeners(broker: Broker, store: Store) -> None:
    woken: list[list[ChangeEvent]] = []
    broker.committed.append(woken.append)
    terms = Terms()
    result = broker.batch_upsert(
        "t1", [(sensor(f"urn:ngsi-ld:Sensor:{n}", temperature=n), terms) for n in range(3)],
        replace=False,
    )
    assert len(result.success) == 3
    assert [[e.entity_id for e in batch] for batch in woken] == [
        [f"urn:ngsi-ld:Sensor:{n}" for n in range(3)]
    ]
    assert [e.entity_id for e in events(store)] == [f"urn:ngsi-ld:Sensor:{n}" for n in range(3)]


def test_history_rows_in_a_month_without_partition(broker: Broker, store: Store) -> None:
    """An old observedAt lands in its month (PostgreSQL creates the partition on demand)."""
    terms = Terms()
    broker.create("t1", {**sensor(), "temperature": {
        "type": "Property", "value": 1, "observedAt": "2011-05-05T00:00:00Z"}}, terms)
    assert [value for _, value, _ in history(store, TEMP)] == [1]


def test_forged_cursor_is_refused(store: Store) -> None:
    with pytest.raises(BadCursor):
        store.changes_after("not-a-cursor", 10)


def test_prune_drops_only_older_changes(broker: Broker, store: Store) -> None:
    terms = Terms()
    broker.create("t1", sensor(), terms)
    assert store.prune_changes("2000-01-01T00:00:00.000000Z") == 0
    assert store.prune_changes("2999-01-01T00:00:00.000000Z") == 1
    assert events(store) == []


def test_an_event_read_back_is_the_event_committed(broker: Broker, store: Store) -> None:
    """Its types come from their own column, the rest from the payload when first read."""
    committed: list[ChangeEvent] = []
    broker.committed.append(committed.extend)
    broker.create("", sensor(temperature=20), Terms())
    broker.update_attrs("", "urn:ngsi-ld:Sensor:1",
                        {"temperature": {"type": "Property", "value": 21}}, Terms())
    [created, updated] = events(store)
    assert created.types == [DEFAULT + "Sensor"]
    for read, sent in zip([created, updated], committed, strict=True):
        assert read.cursor is not None
        assert (read.entity, read.attributes, read.previous) == (
            sent.entity, sent.attributes, sent.previous)
        assert read == ChangeEvent(sent.tenant, sent.entity_id, sent.kind, sent.at, sent.types,
                                   sent.entity, sent.attributes, sent.previous, read.cursor)


def test_changes_logged_before_types_had_a_column_still_read(store: Store) -> None:
    """A row written by an older Madina has no types apart: they come from its payload."""
    payload = {"types": [DEFAULT + "Sensor"], "entity": None, "attributes": {},
               "previous": {"x": [{"type": "Property", "value": 1}]}}
    with store.transaction("") as tx:
        tx.record([], [ChangeRow("urn:ngsi-ld:Sensor:9", "deleted",
                                 "2026-11-21T09:00:00.000000Z", payload)])
    [event] = events(store)
    assert (event.entity_id, event.kind, event.types, event.entity, event.previous) == (
        "urn:ngsi-ld:Sensor:9", "deleted", [DEFAULT + "Sensor"], None, payload["previous"])
