"""What the domains' end-to-end tests share: real services run by a domain runtime on a fresh
store of the engine under test, and a wait until they have reacted to what was written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from madina.config import Settings
from madina.context.broker import Broker
from madina.domains.runtime import DomainRuntime, DomainService
from madina.domains.writes import Write
from madina.events.feed import ChangeFeed
from madina.store.base import Store


class Counting:
    """Mixed in before a real service: counts the changes it was given."""

    calls = 0

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]:
        self.calls += 1
        return super().react(entity, now)  # type: ignore[misc]


@asynccontextmanager
async def running(
    settings: Settings, services: Iterable[DomainService]
) -> AsyncIterator[tuple[Store, Broker, ChangeFeed]]:
    """(store, broker, feed) once the runtime leads (and so is subscribed to the feed)."""
    store = settings.store()
    store.open()
    broker = Broker(store)
    feed = ChangeFeed(store, poll_interval=3600)
    await feed.start()
    runtime = DomainRuntime(broker, feed, services)
    broker.committed.append(feed.wake)
    await runtime.start()
    try:
        while runtime.leading is None:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        yield store, broker, feed
    finally:
        await runtime.stop()
        await feed.stop()
        store.close()


async def reacted(feed: ChangeFeed, service: Counting, calls: int) -> None:
    """Wait until the service has seen `calls` changes and the runtime has committed them.

    One change per runtime batch, as a slow feed gives: several writes to one entity in one
    batch are not all kept by Broker.batch_upsert yet (reported to the lead)."""
    for _ in range(500):
        await feed.read()
        if service.calls >= calls:
            break
        await asyncio.sleep(0.01)
    for _ in range(3):
        await feed.read()
        await asyncio.sleep(0.01)
