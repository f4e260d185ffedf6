"""The notifier: a durable consumer of the change log that turns changes into notifications.

One process of all sharing a database matches (`Store.try_lead`); the others stand by and
take over when it goes. The leader reads the change log from its own cursor, kept in the
database: what a `Matcher` makes of a batch of changes is written to the outbox in the same
transaction that moves the cursor, so a crash between the two cannot happen, and a restart
(of this process or of another that takes over) resumes where the last batch ended. Nothing
committed is lost while the log keeps it (MADINA_CHANGE_LOG_RETENTION_HOURS).

The leader's own writes wake it at once (`Broker.committed`); other workers' arrive at its
next poll of the log. What it writes it hands straight to its `Deliverer`, claimed for a
lease, so the fast path reads nothing back; every process's deliverer also claims rows that
are due and held by nobody.

Which subscriptions a change notifies, and what the notifications say, is the `Matcher`'s
business (madina.context.notifications): this module only moves changes and rows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import structlog

from madina.events.delivery import Deliverer
from madina.events.model import ChangeEvent
from madina.metrics import NOTIFICATIONS_MATCHED
from madina.store.base import Store, StoreUnavailable
from madina.store.subscriptions import NewDelivery

log = structlog.get_logger("madina.notifications")
T = TypeVar("T")

CONSUMER = "notifier"
"""The notifier's cursor in `event_cursors`, and the role it leads under."""
FROM_THE_START = ""
"""The stored cursor of a consumer that started on an empty change log."""
BATCH = 500
IDLE_POLL_S = 1.0
"""How often other workers' changes are looked for while no subscription exists (this
process's commits wake the notifier at once; a subscription made through another worker is
seen at the next look, and the changes after it are matched then)."""
SAVE_IDLE_CURSOR_S = 1.0
"""How often the cursor is saved while changes match no subscription: saving it after every
batch was a write transaction per commit of the IoT pipeline, queued behind its writes. After a
restart the changes since are matched again; they notify nobody (a subscription never fires
for a change older than itself)."""
RETRY_LEAD_S = 2.0
CHECK_LEAD_S = 2.0


class Matcher(Protocol):
    async def refresh(self) -> None:
        """Bring the subscriptions up to date with the database before a batch."""
    def match(self, events: list[ChangeEvent]) -> list[NewDelivery]:
        """The notifications a batch of changes makes (throttling applied)."""
    async def due(self) -> list[NewDelivery]:
        """The notifications of periodic (timeInterval) subscriptions due now."""
    def next_due(self) -> float | None:
        """Monotonic time of the next periodic notification, None when there is none."""
    @property
    def idle(self) -> bool:
        """True when there is no subscription at all, in any tenant."""


class Notifier:
    """Matches and delivers on a thread of its own with its own event loop: a worker busy
    with requests would otherwise make notifications wait behind every request callback; with
    a thread of their own they get their turns of the interpreter whatever the request load.

    `owns_store`: the store is this notifier's alone, opened and closed on its thread (the
    embedded engine: a connection of its own, so its reads never land inside a transaction
    the request thread has open on the shared one)."""

    def __init__(
        self, store: Store, matcher: Matcher, deliverer: Deliverer,
        poll_interval: float = 0.025, owns_store: bool = False,
    ) -> None:
        self.store = store
        self.matcher = matcher
        self.deliverer = deliverer
        self.poll_interval = poll_interval
        self.owns_store = owns_store
        self.cursor: str | None = None
        """The change-log position after the last batch matched (the leader's)."""
        self.leading: Callable[[], bool] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._thread: threading.Thread | None = None
        self._saved_at = 0.0
        """Monotonic time the cursor was last saved."""

    async def start(self) -> None:
        """Returns once the notifier's thread runs. Before the app serves anything: on a
        database that never had a notifier, changes are matched from now on (what committed
        before subscriptions could exist notifies nobody), whichever process leads later."""
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._thread_main, args=(started,),
                                        name="madina-notifier", daemon=True)
        self._thread.start()
        await asyncio.wrap_future(started)

    async def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own meanwhile
                self._loop.call_soon_threadsafe(self._stopping.set)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def wake(self, _events: Any = None) -> None:
        """Match now; callable from any thread (`Broker.committed` calls it on the thread that
        committed, so the process's own changes reach the notifier without waiting for a
        turn of the app's event loop)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    def _thread_main(self, started: concurrent.futures.Future[None]) -> None:
        asyncio.run(self._serve(started))

    async def _serve(self, started: concurrent.futures.Future[None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        try:
            if self.owns_store:
                self.store.open()
            await self._init_cursor()
            await self.deliverer.start()
        except BaseException as exc:
            if self.owns_store:
                self.store.close()
            started.set_exception(exc)
            return
        started.set_result(None)
        task = asyncio.create_task(self._run(), name="madina-notifier")
        try:
            await self._stopping.wait()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.deliverer.stop()
            if self.owns_store:
                self.store.close()

    async def _init_cursor(self) -> None:
        subscriptions = self.store.subscriptions
        if await self._call(subscriptions.cursor, CONSUMER) is None:
            latest = await self._call(self.store.latest_change_cursor)
            await self._call(subscriptions.init_cursor, CONSUMER, latest or FROM_THE_START)

    async def _run(self) -> None:
        while True:
            try:
                if self.leading is None:
                    self.leading = await self._call(self.store.try_lead, CONSUMER)
                if self.leading is None:
                    await asyncio.sleep(RETRY_LEAD_S)
                    continue
                log.info("notifier leading", claimer=self.deliverer.claimer)
                await self._lead()
                log.warning("notifier lost its lead")
                self.leading = None
            except StoreUnavailable as exc:
                log.warning("notifier cannot reach the database", error=str(exc))
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("notifier failed; starting over")
                await asyncio.sleep(1.0)

    async def _lead(self) -> None:
        self.cursor = await self._call(self.store.subscriptions.cursor, CONSUMER) or None
        checked = time.monotonic()
        while True:
            await self._wait()
            if time.monotonic() - checked > CHECK_LEAD_S:
                checked = time.monotonic()
                if not await self._call(self.leading or (lambda: False)):
                    return
            await self.matcher.refresh()
            await self.drain()
            next_due = self.matcher.next_due()
            if next_due is not None and next_due <= time.monotonic():
                await self._enqueue(None, await self.matcher.due())

    async def _wait(self) -> None:
        timeout = max(self.poll_interval, IDLE_POLL_S) if self.matcher.idle else self.poll_interval
        next_due = self.matcher.next_due()
        if next_due is not None:
            timeout = max(0.0, min(timeout, next_due - time.monotonic()))
        # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that
        # meets the event being set, and the notifier then never stopped.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        self._wake.clear()

    async def drain(self) -> None:
        """Match every change committed since the cursor, a batch at a time; with no
        subscription anywhere, move to the newest change without reading one."""
        if await self._skip_idle():
            return
        while True:
            batch = await self._call(self.store.changes_after, self.cursor, BATCH)
            if not batch:
                return
            events = [ChangeEvent.from_stored(stored) for stored in batch]
            await self._enqueue(batch[-1].cursor, self.matcher.match(events))
            self.cursor = batch[-1].cursor
            if len(batch) < BATCH:
                return

    async def _skip_idle(self) -> bool:
        if not self.matcher.idle:
            return False
        latest = await self._call(self.store.latest_change_cursor)
        # Looked at after the newest change was: a subscription that did not exist then
        # cannot be owed any change up to it.
        await self.matcher.refresh()
        if not self.matcher.idle:
            return False
        if latest is not None and latest != self.cursor:
            await self._enqueue(latest, [])
            self.cursor = latest
        return True

    async def _enqueue(self, cursor: str | None, deliveries: list[NewDelivery]) -> None:
        if not deliveries and (
                cursor is None or time.monotonic() - self._saved_at < SAVE_IDLE_CURSOR_S):
            return
        self._saved_at = time.monotonic()
        now = time.time()
        held_until = now + self.deliverer.policy.lease
        written = await self._call(self.store.subscriptions.enqueue, CONSUMER, cursor,
                                   deliveries, self.deliverer.claimer, held_until, now)
        NOTIFICATIONS_MATCHED.inc(len(written))
        self.deliverer.submit(written, held_until)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self.store.runs_on_loop:
            return function(*args)
        return await asyncio.to_thread(function, *args)
