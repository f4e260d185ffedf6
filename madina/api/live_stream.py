"""Server-Sent Events for GET /live: the change feed fanned out to any number of streams.

`LiveHub` is the feed's one reader in a process. For each batch of events it judges every
stream of the event's tenant once (`LiveFilter.decide`), renders the event once per distinct
representation among the streams it goes to, and appends the shared frame bytes to each
stream's bounded queue. `LiveStream` is the ASGI response writing one stream: the events since
the client's `Last-Event-ID` first, then live ones, several frames per write when they queue up,
a comment line as heartbeat when idle.

A stream never grows memory for a client that cannot keep up: when its queue is full it is
ended with `event: reset` (reload your state, then resume from this id), and a client that
does not even read that within a grace period is cut off. Every `reset` ends the stream: the
EventSource reconnects by itself from the reset's id, after the page reloaded its state.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import weakref
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
import structlog
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from madina.context.broker import now_iso
from madina.context.jsonld import TermMap
from madina.context.live_filter import LiveFilter, state_before
from madina.context.representation import render_entity
from madina.events.feed import ChangeFeed
from madina.events.model import ChangeEvent
from madina.store.change_log import BadCursor

log = structlog.get_logger("madina.live")

EVENT_STREAM = "text/event-stream"
QUEUE_FRAMES = 1000
"""Events a stream may have waiting for its client; one more and it is reset."""
RESET_GRACE = 5.0
"""Seconds a client whose queue overflowed has to take its `reset` before it is cut off."""
HEARTBEAT = 15.0
"""Seconds of silence after which a comment line is sent, so proxies keep the connection."""
REPLAY_LIMIT = 50_000
"""Changes of the log a resuming stream may have to look through; further behind, it is reset
(a page away that long reloads faster than it replays)."""
RETRY_MS = 2000
"""How long an EventSource waits before reconnecting (the SSE `retry` field)."""
SHUTDOWN_SEND_S = 1.0
"""Seconds to end a stream properly when the server stops."""
_END: Message = {"type": "http.response.body", "body": b"", "more_body": False}


@dataclass(frozen=True)
class Representation:
    """How a stream renders entities; streams that agree on it share every rendered frame."""

    terms: TermMap
    form: str = "normalized"
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None
    """Expanded names of the attributes shown (`attrs`), None for all."""
    lang: str | None = None


class Cancelled(Exception):
    """The client was cut off: it stopped reading after its stream was reset."""


class LiveClient:
    """One connected stream: what it shows, and the frames waiting for it."""

    def __init__(self, live_filter: LiveFilter, representation: Representation,
                 limit: int) -> None:
        self.filter = live_filter
        self.representation = representation
        self.limit = limit
        self.pending: deque[tuple[str | None, bytes]] = deque()
        """(cursor, frame) in commit order."""
        self.ready = asyncio.Event()
        """Set when frames or a reset wait (asyncio's own: it is set once per event and
        stream, where anyio's wrapper costs a microsecond more each time)."""
        self.reset_reason: str | None = None
        self.reset_cursor: str | None = None
        """Where the client resumes after reloading its state."""
        self.deadline = math.inf
        """Loop time by which the client must have taken its reset."""
        self.sending: anyio.CancelScope | None = None
        self.start_cursor: str | None = None
        """The feed's position when the stream was registered: everything after it comes
        live."""

    def push(self, cursor: str | None, frame: bytes) -> bool:
        """Queue a frame; False when the queue is full (the hub then resets the client)."""
        if len(self.pending) >= self.limit:
            return False
        self.pending.append((cursor, frame))
        self.ready.set()
        return True

    def reset(self, reason: str, cursor: str | None) -> None:
        if self.reset_reason is not None:
            return
        self.reset_reason, self.reset_cursor = reason, cursor
        self.pending.clear()
        self.deadline = anyio.current_time() + RESET_GRACE
        if self.sending is not None:
            self.sending.deadline = self.deadline
        self.ready.set()

    def take(self) -> list[tuple[str | None, bytes]]:
        items = list(self.pending)
        self.pending.clear()
        self.ready.clear()
        return items


class LiveHub:
    """The live streams of one process, fed by its change feed."""

    def __init__(self, feed: ChangeFeed, queue_frames: int = QUEUE_FRAMES,
                 heartbeat: float = HEARTBEAT) -> None:
        self.feed = feed
        self.queue_frames = queue_frames
        self.heartbeat = heartbeat
        self._by_tenant: dict[str, set[LiveClient]] = {}
        self._representations: weakref.WeakValueDictionary[Representation, Representation] = (
            weakref.WeakValueDictionary()
        )
        """Equal representations share one object, so frames are keyed by its identity
        (hashing the dataclass for every event and stream would cost more than judging)."""
        self._count = 0
        self.resets = 0
        """Streams ended because their client fell behind (for tests and operators)."""

    @property
    def clients(self) -> int:
        return self._count

    def connect(self, live_filter: LiveFilter, representation: Representation) -> LiveClient:
        """Register a stream: from now on it gets every event the feed reads."""
        representation = self._representations.setdefault(representation, representation)
        client = LiveClient(live_filter, representation, self.queue_frames)
        client.start_cursor = self.feed.cursor
        if self._count == 0:
            self.feed.subscribe(self._read)
        self._by_tenant.setdefault(live_filter.tenant, set()).add(client)
        self._count += 1
        return client

    def disconnect(self, client: LiveClient) -> None:
        clients = self._by_tenant.get(client.filter.tenant)
        if clients is None or client not in clients:
            return
        clients.discard(client)
        if not clients:
            del self._by_tenant[client.filter.tenant]
        self._count -= 1
        if self._count == 0:
            self.feed.unsubscribe(self._read)

    def _read(self, events: list[ChangeEvent]) -> None:
        """The feed's reader: runs on the event loop for every batch, must not block."""
        now = now_iso()
        for event in events:
            clients = self._by_tenant.get(event.tenant)
            if not clients:
                continue
            before = functools.cache(functools.partial(state_before, event))
            frames: dict[tuple[int, bool], bytes] = {}
            for client in list(clients):
                shown = client.filter.decide(event, before)
                if shown is None:
                    continue
                key = (id(client.representation), shown)
                frame = frames.get(key)
                if frame is None:
                    frame = frames[key] = event_frame(event, client.representation, shown, now)
                if not client.push(event.cursor, frame):
                    self.overflow(client)

    def overflow(self, client: LiveClient) -> None:
        self.resets += 1
        log.info("live stream reset: the client fell behind", tenant=client.filter.tenant)
        client.reset("the client fell behind; reload the state and resume from this id",
                     self.feed.cursor)
        self.disconnect(client)

    def frames_for(self, client: LiveClient, events: Iterable[ChangeEvent]
                   ) -> list[tuple[str | None, bytes]]:
        """One stream's frames for events it missed (resuming): judged and rendered alone."""
        now = now_iso()
        out = []
        for event in events:
            shown = client.filter.decide(event, functools.partial(state_before, event))
            if shown is not None:
                out.append((event.cursor,
                            event_frame(event, client.representation, shown, now)))
        return out


def event_frame(event: ChangeEvent, representation: Representation, matches: bool,
                now: str) -> bytes:
    """One SSE message: `id` the event's cursor, `data` the change with the entity rendered as
    the entities API renders it."""
    terms = representation.terms
    types = [terms.compact(t) for t in event.types]
    data: dict[str, Any] = {
        "kind": event.kind,
        "id": event.entity_id,
        "type": types[0] if len(types) == 1 else types,
        "at": event.at,
        "attributes": {terms.compact(name): change
                       for name, change in event.attributes.items()
                       if representation.attrs is None or name in representation.attrs},
        "matches": matches,
        "entity": None if event.entity is None else render_entity(
            event.entity, terms, form=representation.form, sys_attrs=representation.sys_attrs,
            attrs=set(representation.attrs) if representation.attrs is not None else None,
            lang=representation.lang, now=now),
    }
    return frame(orjson.dumps(data), cursor=event.cursor)


def frame(data: bytes | None = None, *, cursor: str | None = None, event: str | None = None,
          comment: str | None = None, retry: int | None = None) -> bytes:
    """SSE wire format (HTML Living Standard, 9.2.6). Cursors, names and JSON hold no line
    breaks, so every field is one line."""
    lines = []
    if comment is not None:
        lines.append(b": " + comment.encode())
    if retry is not None:
        lines.append(b"retry: %d" % retry)
    if event is not None:
        lines.append(b"event: " + event.encode())
    if cursor is not None:
        lines.append(b"id: " + cursor.encode())
    if data is not None:
        lines.append(b"data: " + data)
    return b"\n".join(lines) + b"\n\n"


class LiveStream(Response):
    """The response of one stream; it unsubscribes however it ends."""

    media_type = EVENT_STREAM

    def __init__(self, hub: LiveHub, client: LiveClient, resume_from: str | None,
                 headers: dict[str, str]) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers(headers)
        self.hub = hub
        self.client = client
        self.resume_from = resume_from
        self._replayed: set[str | None] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_until_disconnect, receive, tasks.cancel_scope)
                try:
                    await self._write(send)
                except Cancelled:
                    log.info("live client cut off: it stopped reading")
                tasks.cancel_scope.cancel()
        except asyncio.CancelledError:
            # The server is stopping and cancels what outlived its grace period: end the
            # response properly (its EventSource reconnects to a worker still running) rather
            # than leave the server to log the cancellation as the app's failure.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(send(_END), SHUTDOWN_SEND_S)
        finally:
            self.hub.disconnect(self.client)

    async def _write(self, send: Send) -> None:
        fresh = self.resume_from is None
        start = self.client.start_cursor if fresh else None
        await self._send(send, frame(retry=RETRY_MS, cursor=start, comment="madina live"))
        if not fresh and not await self._replay(send):
            return
        while True:
            with anyio.move_on_after(self.hub.heartbeat):
                await self.client.ready.wait()
            if self.client.reset_reason is not None:
                await self._send_reset(send)
                return
            items = self._without_replayed(self.client.take())
            if items:
                await self._send(send, b"".join(frame for _, frame in items))
            else:
                # Idle and caught up: the feed's position is a safe place to resume from,
                # which keeps a quiet stream's Last-Event-ID fresh.
                await self._send(send, frame(comment="heartbeat", cursor=self.hub.feed.cursor))

    async def _replay(self, send: Send) -> bool:
        """Send what the client missed since its cursor; False when it was reset instead."""
        assert self.resume_from is not None
        scanned = 0
        try:
            async for batch in self.hub.feed.batches_since(self.resume_from):
                scanned += len(batch)
                if scanned > REPLAY_LIMIT:
                    raise BadCursor("too far behind to replay")
                items = self.hub.frames_for(self.client, batch)
                self._replayed.update(cursor for cursor, _ in items)
                if items:
                    await self._send(send, b"".join(frame for _, frame in items))
        except BadCursor as exc:
            self.client.reset(f"cannot resume from Last-Event-ID ({exc}); reload the state "
                              "and resume from this id", self.hub.feed.cursor)
            self.hub.disconnect(self.client)
            await self._send_reset(send)
            return False
        return True

    def _without_replayed(self, items: list[tuple[str | None, bytes]]
                          ) -> list[tuple[str | None, bytes]]:
        """Live events the replay already sent (read by both while it ran) are dropped; the
        first newer one ends the overlap, as both come in commit order."""
        if not self._replayed:
            return items
        for n, (cursor, _) in enumerate(items):
            if cursor not in self._replayed:
                self._replayed = set()
                return items[n:]
        return []

    async def _send_reset(self, send: Send) -> None:
        body = frame(orjson.dumps({"reason": self.client.reset_reason}), event="reset",
                     cursor=self.client.reset_cursor)
        await self._send(send, body, more_body=False)

    async def _send(self, send: Send, body: bytes, more_body: bool = True) -> None:
        """Write, giving up once the client's reset deadline has passed."""
        message: Message = {"type": "http.response.body", "body": body, "more_body": more_body}
        with anyio.CancelScope(deadline=self.client.deadline) as scope:
            self.client.sending = scope
            await send(message)
        self.client.sending = None
        if scope.cancelled_caught:
            raise Cancelled()


async def _until_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Cancel the stream when the client goes away (otherwise noticed only at the next write)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()

