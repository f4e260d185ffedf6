"""Resuming from a cursor the feed no longer holds in memory: batch by batch from the log, and
refused (CursorExpired) once what followed the cursor may have been pruned."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from madina.events import feed as feed_module
from madina.events.feed import CursorExpired
from madina.store.change_log import BadCursor
from tests.events.test_feed import JSON_LD, sensor, wait_for

FAR_FUTURE = "9999-01-01T00:00:00.000000Z"


@pytest.fixture(autouse=True)
def reading(client: TestClient) -> None:
    """A reader (a live stream's) is subscribed: the feed reads every change and keeps the
    recent ones, which these tests then make it forget."""
    client.app.state.changes.subscribe(lambda events: None)


def write(client: TestClient, numbers: range) -> None:
    for n in numbers:
        answer = client.post("/ngsi-ld/v1/entities", json=sensor(n), headers=JSON_LD)
        assert answer.status_code == 201, answer.text


def batches(client: TestClient, cursor: str) -> list[list[str]]:
    feed = client.app.state.changes

    async def collect() -> list[list[str]]:
        return [[e.entity_id.rsplit(":", 1)[1] for e in batch]
                async for batch in feed.batches_since(cursor)]

    return client.portal.call(collect)


def test_the_log_is_read_a_batch_at_a_time(client: TestClient, monkeypatch) -> None:
    feed = client.app.state.changes
    write(client, range(7))
    wait_for(lambda: len(feed.recent) == 7)
    first = feed.recent[0].cursor
    feed.recent.clear()
    monkeypatch.setattr(feed_module, "BATCH", 2)
    assert batches(client, first) == [["1", "2"], ["3", "4"], ["5", "6"]]
    assert batches(client, feed.cursor) == []  # the feed's own position: nothing to replay


def test_a_cursor_older_than_the_kept_log_has_expired(client: TestClient) -> None:
    feed = client.app.state.changes
    write(client, range(3))
    wait_for(lambda: len(feed.recent) == 3)
    old = feed.recent[0].cursor
    write(client, range(3, 5))
    wait_for(lambda: len(feed.recent) == 5)
    kept = feed.recent[-1].cursor
    store = client.app.state.store
    assert store.prune_changes(FAR_FUTURE) == 5  # a day passed: the log was pruned
    write(client, range(5, 6))
    wait_for(lambda: len(feed.recent) == 6)
    feed.recent.clear()  # forgotten by this process too (or resumed on another worker)
    with pytest.raises(CursorExpired):
        batches(client, old)
    with pytest.raises(CursorExpired):
        # Its own change was pruned: the log cannot tell whether anything after it was too.
        batches(client, kept)


def test_a_forged_cursor_is_refused(client: TestClient) -> None:
    with pytest.raises(BadCursor):
        batches(client, "not-a-cursor")
