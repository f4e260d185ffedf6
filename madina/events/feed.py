"""The change feed of one process: reads the change log once for every in-process reader.

Live streams and in-process consumers subscribe here instead of each polling the database.
A change committed by this process wakes the feed at once (`Broker.committed`); changes of
other worker processes arrive at the next poll. Recent events stay in memory, so a reconnecting
live stream resumes without a query; older ones come from the log until it is pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog

from madina.events.model import ChangeEvent
from madina.store.base import Store, StoredChange, StoreUnavailable
from madina.store.change_log import BadCursor
from madina.tasks import cancel

log = structlog.get_logger("madina.events")
T = TypeVar("T")

Reader = Callable[[list[ChangeEvent]], None]
"""Gets every batch of events in commit order, on the event loop; must not block."""
Wants = Callable[[list[str]], bool]
"""Whether a reader wants the changes of entities of these (expanded) types."""

BATCH = 500
PRUNE_EVERY = timedelta(hours=1)
IDLE_POLL_S = 1.0
"""How often the feed looks for other workers' changes while nobody reads them (its own
commits wake it at once): polling 40 times a second on an idle PostgreSQL server cost about a
tenth of a core."""


class CursorExpired(BadCursor):
    """A well-formed cursor older than the change log kept (see `ChangeFeed._check_kept`)."""


class ChangeFeed:
    def __init__(
        self,
        store: Store,
        poll_interval: float = 0.025,
        retention: timedelta = timedelta(hours=24),
        keep: int = 10_000,
    ) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.retention = retention
        self.recent: deque[ChangeEvent] = deque(maxlen=keep)
        """The newest events read, oldest first."""
        self.cursor: str | None = None
        """Position after the last event read."""
        self._readers: dict[Reader, Wants | None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pruned_at: datetime | None = None
        self._reading = asyncio.Lock()
        """One read at a time: two reads from the same cursor would hand out events twice."""

    async def start(self) -> None:
        """Read from now on: what committed before the process started is not news."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.cursor = await self._run(self.store.latest_change_cursor)
        self._task = asyncio.create_task(self._read_forever(), name="madina-change-feed")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    def wake(self, _events: Any = None) -> None:
        """Read the log now; callable from any thread (the broker's commit callbacks)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def subscribe(self, reader: Reader, wants: Wants | None = None) -> None:
        """`wants`: the reader takes only changes of some types (it may still be handed
        others); with no reader taking every change, the feed builds no event for the rest."""
        self._readers[reader] = wants

    def unsubscribe(self, reader: Reader) -> None:
        self._readers.pop(reader, None)

    async def since(self, cursor: str) -> list[ChangeEvent]:
        """Events after `cursor` up to the feed's own position, for a reader resuming: from
        memory when the cursor is recent enough, else from the log (BadCursor if forged,
        CursorExpired if what followed it may have been pruned)."""
        return [event async for batch in self.batches_since(cursor) for event in batch]

    async def batches_since(self, cursor: str) -> AsyncIterator[list[ChangeEvent]]:
        """`since` a batch at a time, so a reader can stop early instead of holding a day of
        the log in memory. The feed's position is taken when iteration starts: together with
        a reader subscribed in the same step, nothing falls between the two."""
        position = next((n for n, e in enumerate(self.recent) if e.cursor == cursor), None)
        if position is not None:
            yield list(itertools.islice(self.recent, position + 1, None))
            return
        newest = self.cursor
        if cursor == newest:
            return
        await self._check_kept(cursor)
        while True:
            batch = await self._run(self.store.changes_after, cursor, BATCH)
            events = [ChangeEvent.from_stored(stored) for stored in batch]
            end = next((n for n, e in enumerate(events) if e.cursor == newest), None)
            if end is not None:
                yield events[: end + 1]
                return
            if events:
                yield events
            if len(batch) < BATCH:
                return
            cursor = batch[-1].cursor

    async def _check_kept(self, cursor: str) -> None:
        """Raise CursorExpired when `cursor` lies before the oldest change kept: the changes
        right after it may have been pruned, and a reader resuming there would miss them
        without knowing. (A cursor before the very first change ever logged is judged the
        same way: the log cannot tell it from one whose successors were pruned.)"""
        following = await self._run(self.store.changes_after, cursor, 1)
        if not following:
            return
        oldest = await self._run(self.store.changes_after, None, 1)
        if oldest and oldest[0].cursor == following[0].cursor:
            raise CursorExpired(f"{cursor!r} is older than the change log kept")

    async def _read_forever(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow the cancellation
            # that stops this task when the wake-up comes at the same moment (stop() then hangs).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval if self._readers
                                           else max(self.poll_interval, IDLE_POLL_S)):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.read()
                await self._prune()
            except StoreUnavailable as exc:
                log.warning("change log unreadable", error=str(exc))
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("change feed failed; retrying")
                await asyncio.sleep(1.0)

    async def read(self) -> None:
        """Hand every event committed since the last read to the readers."""
        async with self._reading:
            await self._read_all()

    async def _read_all(self) -> None:
        if not self._readers:
            # Nobody to hand events to: move to the newest change without reading any (a
            # stream resuming later reads what it missed from the log).
            self.recent.clear()
            self.cursor = await self._run(self.store.latest_change_cursor) or self.cursor
            return
        while True:
            batch = await self._run(self.store.changes_after, self.cursor, BATCH)
            if not batch:
                return
            self.cursor = batch[-1].cursor
            wanted = list(self._readers.values())
            if None in wanted:
                events = [ChangeEvent.from_stored(stored) for stored in batch]
                self.recent.extend(events)
            else:  # `recent` would have holes, and resuming streams would skip them
                self.recent.clear()
                events = [ChangeEvent.from_stored(stored) for stored in _typed(batch, wanted)]
            for reader in list(self._readers):
                try:
                    reader(events)
                except Exception:
                    log.exception("change reader failed", reader=repr(reader))
            if len(batch) < BATCH:
                return

    async def _prune(self) -> None:
        now = datetime.now(UTC)
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        before = (now - self.retention).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        pruned = await self._run(self.store.prune_changes, before)
        if pruned:
            log.info("change log pruned", changes=pruned)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        if self.store.runs_on_loop:
            return function(*args)
        return await asyncio.to_thread(function, *args)


def _typed(batch: list[StoredChange], wanted: list[Wants]) -> list[StoredChange]:
    """The changes some reader wants by their types (all of a change logged before its types
    were kept apart: its payload has them, and the reader looks)."""
    return [stored for stored in batch
            if stored.types is None or any(wants(stored.types) for wants in wanted)]
