"""The per-process change feed: own writes at once, other processes' writes by polling, and
resuming from a cursor."""

from __future__ import annotations

import asyncio
import threading
import time

from starlette.testclient import TestClient

from madina.config import Settings
from madina.context.broker import Broker
from madina.events.feed import ChangeFeed
from madina.events.model import ChangeEvent
from tests.context.entity_helpers import Terms

JSON_LD = {"Content-Type": "application/json"}


def sensor(n: int) -> dict:
    return {"id": f"urn:ngsi-ld:Sensor:{n}", "type": "Sensor",
            "temperature": {"type": "Property", "value": n}}


def wait_for(predicate, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_readers_get_own_writes_in_order(client: TestClient) -> None:
    feed = client.app.state.changes
    seen: list[ChangeEvent] = []
    feed.subscribe(seen.extend)
    for n in range(3):
        answer = client.post("/ngsi-ld/v1/entities", json=sensor(n), headers=JSON_LD)
        assert answer.status_code == 201
    client.delete("/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:0")
    wait_for(lambda: len(seen) == 4)
    assert [(e.kind, e.entity_id[-1]) for e in seen] == [
        ("created", "0"), ("created", "1"), ("created", "2"), ("deleted", "0")]
    feed.unsubscribe(seen.extend)


def test_writes_of_another_process_arrive_by_polling(
    client: TestClient, settings: Settings
) -> None:
    feed = client.app.state.changes
    seen: list[ChangeEvent] = []
    feed.subscribe(seen.extend)
    other = settings.store()  # a second worker process's store on the same database
    other.open()
    try:
        Broker(other).create("", sensor(7), Terms())
        wait_for(lambda: any(e.entity_id == "urn:ngsi-ld:Sensor:7" for e in seen))
    finally:
        other.close()
        feed.unsubscribe(seen.extend)


def test_resume_from_memory_and_from_the_log(client: TestClient) -> None:
    feed = client.app.state.changes
    feed.subscribe(lambda events: None)  # a live stream: the feed keeps what it reads
    for n in range(5):
        client.post("/ngsi-ld/v1/entities", json=sensor(n), headers=JSON_LD)
    wait_for(lambda: len(feed.recent) == 5)
    first = feed.recent[0].cursor
    resumed = client.portal.call(feed.since, first)
    assert [e.entity_id[-1] for e in resumed] == ["1", "2", "3", "4"]
    feed.recent.clear()  # forgotten: the log answers instead
    resumed = client.portal.call(feed.since, first)
    assert [e.entity_id[-1] for e in resumed] == ["1", "2", "3", "4"]


def test_with_no_reader_nothing_is_read_and_a_later_reader_resumes_from_the_log(
        client: TestClient) -> None:
    """No live stream, no domain service: the feed only follows the newest position; a
    stream connecting later with an older cursor reads what it missed from the log."""
    feed = client.app.state.changes
    client.post("/ngsi-ld/v1/entities", json=sensor(9), headers=JSON_LD)
    start = client.app.state.store.latest_change_cursor()
    for n in range(3):
        client.post("/ngsi-ld/v1/entities", json=sensor(n), headers=JSON_LD)
    newest = client.app.state.store.latest_change_cursor()
    wait_for(lambda: feed.cursor == newest)
    assert list(feed.recent) == []
    resumed = client.portal.call(feed.since, start)
    assert [e.entity_id[-1] for e in resumed] == ["0", "1", "2"]


def test_a_reader_of_some_types_gets_their_changes(client: TestClient) -> None:
    feed = client.app.state.changes
    seen: list[ChangeEvent] = []
    feed.subscribe(seen.extend, lambda types: any(t.endswith("Lamp") for t in types))
    client.post("/ngsi-ld/v1/entities", json=sensor(1), headers=JSON_LD)
    client.post("/ngsi-ld/v1/entities", json={**sensor(2), "type": "Lamp"}, headers=JSON_LD)
    wait_for(lambda: len(seen) >= 1)
    assert [e.entity_id for e in seen] == ["urn:ngsi-ld:Sensor:2"]
    feed.unsubscribe(seen.extend)


def test_concurrent_reads_hand_out_each_event_once(settings: Settings) -> None:
    """On PostgreSQL reads run on threads: two at once from one cursor delivered twice."""
    async def scenario() -> list[str]:
        store = settings.store()
        store.open()
        try:
            feed = ChangeFeed(store, poll_interval=3600)
            await feed.start()
            seen: list[str] = []
            feed.subscribe(lambda events: seen.extend(e.entity_id for e in events))
            for n in range(5):
                Broker(store).create("", sensor(n), Terms())
            await asyncio.gather(*(feed.read() for _ in range(4)))
            await feed.stop()
            return seen
        finally:
            store.close()

    assert asyncio.run(scenario()) == [f"urn:ngsi-ld:Sensor:{n}" for n in range(5)]


def test_stop_is_not_lost_to_a_wake_up_at_the_same_moment(tmp_path) -> None:
    """Python 3.11's wait_for swallowed the cancellation that stops the feed when a wake-up
    came at the same moment: stop() then hung (about one app shutdown in a hundred)."""
    from madina.store.sqlite import SQLiteStore

    async def start_and_stop(store: SQLiteStore) -> None:
        feed = ChangeFeed(store, poll_interval=0.0005)
        await feed.start()
        waking = True

        def wake_constantly() -> None:
            while waking:
                feed.wake()

        waker = threading.Thread(target=wake_constantly)
        waker.start()
        try:
            await asyncio.sleep(0.002)
            async with asyncio.timeout(5):
                await feed.stop()
        finally:
            waking = False
            waker.join()

    async def scenario() -> None:
        store = SQLiteStore(str(tmp_path / "feed.db"))
        store.open()
        try:
            for _ in range(150):
                await start_and_stop(store)
        finally:
            store.close()

    asyncio.run(scenario())


def test_with_no_reader_other_workers_changes_are_looked_for_once_a_second(
        settings: Settings) -> None:
    """Its own commits still wake it at once; polling 40 times a second for nobody cost an
    idle PostgreSQL server a tenth of a core."""
    async def looks_in(seconds: float) -> int:
        store = settings.store()
        store.open()
        looks = 0
        latest = store.latest_change_cursor

        def counted() -> str | None:
            nonlocal looks
            looks += 1
            return latest()

        store.latest_change_cursor = counted
        try:
            feed = ChangeFeed(store, poll_interval=0.01)
            await feed.start()
            await asyncio.sleep(seconds)
            await feed.stop()
            return looks
        finally:
            store.close()

    assert asyncio.run(looks_in(1.5)) <= 3
