"""Measures from both transports become entity updates, committed in groups.

MQTT messages (from the client's network thread) and HTTP measures (from request handlers) go
into one `Inbox`; `Ingestor.run` takes what has gathered (at most `batch_max` messages, waiting
`batch_wait` for more when fewer came) and turns it into as few Broker batch upserts as
possible: one per tenant, unless the same entity appears twice, in which case the later update
goes into a second round so every measure keeps its place in the entity's history. Only when
the rounds have committed is each message's `done` called: MQTT acknowledges it (PUBACK), an
HTTP request answers. If the database is away the batch is retried, unacknowledged, until it
commits; a message that makes the processing itself fail is isolated and refused alone, so one
bad message never blocks the others and the consumer never stops.

Bad input (malformed payloads, unknown apikeys or devices, values that do not convert, oversized
messages) is refused, counted in Prometheus by reason and logged at most once per device and
reason per `LOG_INTERVAL` seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import orjson
import structlog

from madina import metrics
from madina.context.broker import Broker
from madina.context.jsonld import TermMap
from madina.iot import json_payloads, ultralight
from madina.iot.measures import convert, instant
from madina.iot.payload import MalformedPayload, MeasureGroup, decode_text, parse_timestamp
from madina.iot.provisioning import JSON, JSON_RESOURCE, UL_RESOURCE, ULTRALIGHT, DeviceProfile
from madina.iot.registry import Registry, Unknown
from madina.store.base import StoreUnavailable

log = structlog.get_logger("madina.iot")

LOG_INTERVAL = 60.0
RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
"""Seconds between attempts to commit a batch while the database is away (the last repeats)."""

Runner = Callable[..., Awaitable[Any]]


@dataclass(slots=True)
class Outcome:
    """What became of one message: `reason` is None when its updates committed."""

    reason: str | None = None
    detail: str = ""
    rejected_values: int = 0


@dataclass(slots=True)
class Message:
    """One device message, as either transport received it."""

    transport: str
    """"mqtt" or "http" (a metric label)."""
    apikey: str
    device_id: str
    payload: bytes
    form: str | None = None
    """ULTRALIGHT or JSON from the topic prefix or HTTP path; None: the device's protocol."""
    attribute: str | None = None
    """The attribute of a single-measure topic (`.../attrs/<attr>`)."""
    results: bool = False
    """True for command results (`cmdexe`)."""
    timestamp: str | None = None
    """HTTP's `t`: the time of every measure group in the message."""
    done: Callable[[Outcome], None] | None = None
    received_at: float = field(default_factory=time.time)


class Inbox:
    """A queue any thread may put into (the MQTT network thread does) and one task drains,
    without waking the event loop for every message: only when the consumer is waiting."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self._items: deque[Message] = deque()
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def full(self) -> bool:
        return len(self._items) >= self.limit

    def put(self, message: Message) -> None:
        self._items.append(message)
        with self._lock:
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self.loop.call_soon_threadsafe(_wake, waiter)

    def take(self, most: int) -> list[Message]:
        items = self._items
        return [items.popleft() for _ in range(min(most, len(items)))]

    async def wait(self) -> None:
        """Return once at least one message is waiting."""
        while not self._items:
            waiter = self.loop.create_future()
            with self._lock:
                if self._items:
                    return
                self._waiter = waiter
            await waiter


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass(slots=True)
class _Update:
    entity_id: str
    entity_type: str
    attributes: dict[str, dict[str, Any]]
    message: int


class Ingestor:
    def __init__(
        self,
        broker: Broker,
        registry: Registry,
        terms: TermMap,
        inbox: Inbox,
        *,
        batch_max: int = 1000,
        batch_wait: float = 0.005,
        max_bytes: int = 64 * 1024,
    ) -> None:
        self.broker = broker
        self.registry = registry
        self.terms = terms
        self.inbox = inbox
        self.batch_max = batch_max
        self.batch_wait = batch_wait
        self.max_bytes = max_bytes
        self.logged = ThrottledLog(LOG_INTERVAL)
        self._thread = anyio.CapacityLimiter(1)

    async def run(self) -> None:
        """Consume forever (until cancelled)."""
        while True:
            await self.inbox.wait()
            batch = self.inbox.take(self.batch_max)
            if len(batch) < self.batch_max and self.batch_wait > 0:
                await asyncio.sleep(self.batch_wait)
                batch += self.inbox.take(self.batch_max - len(batch))
            await self.run_batch(batch)

    async def run_batch(self, batch: list[Message]) -> None:
        """Count the batch as received once, then commit it. Counters move once per label
        and batch: a labelled increment costs several microseconds, per message it was a
        quarter of the gateway's time."""
        for transport, count in Counter(message.transport for message in batch).items():
            metrics.MEASURES_RECEIVED.labels(transport).inc(count)
        await self.commit(batch)

    async def commit(self, batch: list[Message]) -> None:
        """Commit the batch (retrying while the database is away), then settle every message."""
        for attempt in itertools.count():
            try:
                # On a thread of its own even for the embedded engine: parsing and converting a
                # batch is CPU work, which must not hold the event loop (and the HTTP requests
                # on it) for the whole batch; the store's lock is held only while committing.
                outcomes = await anyio.to_thread.run_sync(self.process, batch,
                                                          limiter=self._thread)
                break
            except StoreUnavailable as error:
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                log.warning("measures not committed, retrying", error=str(error),
                            measures=len(batch), retry_in=delay)
                await asyncio.sleep(delay)
            except Exception:
                if len(batch) == 1:
                    log.exception("measure refused: processing it failed",
                                  device=batch[0].device_id)
                    outcomes = [Outcome("internal")]
                    break
                for message in batch:  # isolate the message that fails
                    await self.commit([message])
                return
        self._count(batch, outcomes, time.time())
        for message, outcome in zip(batch, outcomes, strict=True):
            if message.done is not None:
                message.done(outcome)

    def _count(self, batch: list[Message], outcomes: list[Outcome], now: float) -> None:
        accepted: Counter[str] = Counter()
        rejected: Counter[tuple[str, str]] = Counter()
        observe = metrics.INGEST_LATENCY.observe
        for message, outcome in zip(batch, outcomes, strict=True):
            if outcome.reason is None:
                accepted[message.transport] += 1
                observe(max(0.0, now - message.received_at))
            elif outcome.reason != "bad_value" or not outcome.rejected_values:
                # (a message whose every value was refused was counted value by value)
                rejected[message.transport, outcome.reason] += 1
                if self.logged.allow((message.apikey, message.device_id, outcome.reason)):
                    log.warning("measure refused", reason=outcome.reason,
                                detail=outcome.detail, apikey=message.apikey,
                                device=message.device_id, transport=message.transport)
        for transport, count in accepted.items():
            metrics.MEASURES_ACCEPTED.labels(transport).inc(count)
        for labels, count in rejected.items():
            metrics.MEASURES_REJECTED.labels(*labels).inc(count)

    # -- the work of one batch, where the store wants it -------------------------------------
    def process(self, batch: list[Message]) -> list[Outcome]:
        self.registry.refresh()
        outcomes = [Outcome() for _ in batch]
        updates: dict[str, list[_Update]] = {}
        for index, message in enumerate(batch):
            try:
                self._prepare(index, message, outcomes[index], updates)
            except MalformedPayload as error:
                reason = "too_large" if error.reason == "too_large" else "malformed"
                outcomes[index] = Outcome(reason, error.reason + (": " + error.detail
                                                                  if error.detail else ""))
        self.registry.save_autoprovisioned()
        if updates:
            metrics.INGEST_BATCH.observe(len(batch))
        for tenant, tenant_updates in updates.items():
            for round_ in _rounds(tenant_updates):
                items = [({"id": u.entity_id, "type": u.entity_type, **u.attributes},
                          self.terms) for u in round_]
                result = self.broker.batch_upsert(tenant, items, replace=False)
                for error in result.errors:
                    for update in round_:
                        if update.entity_id == error["entityId"]:
                            detail = error["error"].get("detail", "")
                            outcomes[update.message] = Outcome("invalid", detail[:200])
        return outcomes

    def _prepare(
        self, index: int, message: Message, outcome: Outcome, updates: dict[str, list[_Update]]
    ) -> None:
        if len(message.payload) > self.max_bytes:
            raise MalformedPayload("too_large", f"{len(message.payload)} bytes")
        resource = JSON_RESOURCE if message.form == JSON else UL_RESOURCE
        profile = self.registry.lookup(message.apikey, message.device_id, resource, defer=True)
        if isinstance(profile, Unknown):
            outcome.reason = profile.reason
            return
        form = message.form or profile.protocol
        received = datetime.fromtimestamp(message.received_at, UTC)
        if message.results or (form == ULTRALIGHT and message.attribute is None
                               and ultralight.is_command_result(message.payload)):
            attributes = self._results(profile, form, message, received)
            if not attributes:
                outcome.reason, outcome.detail = "unknown_command", "no provisioned command"
                return
            groups_attributes = [attributes]
        else:
            groups_attributes = []
            for group in self._groups(form, message):
                conversion = convert(profile.device, group, received_at=received,
                                     with_static=True)
                for rejection in conversion.rejected:
                    outcome.rejected_values += 1
                    metrics.MEASURES_REJECTED.labels(message.transport, rejection.reason).inc()
                    if self.logged.allow((message.apikey, message.device_id, rejection.reason)):
                        log.warning("measure value refused", reason=rejection.reason,
                                    attribute=rejection.object_id, detail=rejection.detail,
                                    device=message.device_id)
                if not profile.device.static_names.issuperset(conversion.attributes):
                    groups_attributes.append(conversion.attributes)
            if not groups_attributes:
                outcome.reason, outcome.detail = "bad_value", "no measure converted"
                return
        tenant_updates = updates.setdefault(profile.tenant, [])
        for attributes in groups_attributes:
            tenant_updates.append(_Update(profile.entity_id, profile.device.entity_type,
                                          attributes, index))

    def _groups(self, form: str, message: Message) -> list[MeasureGroup]:
        if message.attribute is not None:
            if form == JSON:
                groups = [json_payloads.parse_single_measure(message.attribute, message.payload,
                                                             max_bytes=self.max_bytes)]
            else:
                value = decode_text(message.payload, self.max_bytes).strip()
                if not value:
                    raise MalformedPayload("empty")
                groups = [MeasureGroup({message.attribute: value})]
        elif form == JSON:
            groups = json_payloads.parse_measures(message.payload, max_bytes=self.max_bytes)
        else:
            groups = ultralight.parse_measures(message.payload, max_bytes=self.max_bytes)
        if message.timestamp is not None:
            moment = parse_timestamp(message.timestamp)
            groups = [MeasureGroup(group.values, moment) for group in groups]
        return groups

    def _results(
        self, profile: DeviceProfile, form: str, message: Message, received: datetime
    ) -> dict[str, dict[str, Any]]:
        """`<cmd>_status` OK and `<cmd>_info` the result, for each provisioned command."""
        if form == JSON:
            results = json_payloads.parse_command_results(message.payload,
                                                          max_bytes=self.max_bytes)
        else:
            results = [ultralight.parse_command_result(message.payload,
                                                       max_bytes=self.max_bytes)]
        at = instant(received, UTC)
        attributes: dict[str, dict[str, Any]] = {}
        for result in results:
            if profile.command(result.name) is None:
                continue
            info = result.result
            if not isinstance(info, str):
                info = orjson.dumps(info).decode()
            attributes[f"{result.name}_status"] = {"type": "Property", "value": "OK",
                                                   "observedAt": at}
            attributes[f"{result.name}_info"] = {"type": "Property", "value": info,
                                                 "observedAt": at}
            metrics.COMMANDS.labels(message.transport, "result").inc()
        return attributes


def _rounds(updates: list[_Update]) -> list[list[_Update]]:
    """Split so no entity is updated twice in one transaction (the history keeps each): the
    n-th update of an entity goes into round n."""
    rounds: list[list[_Update]] = []
    seen: dict[str, int] = {}
    for update in updates:
        number = seen.get(update.entity_id, 0)
        seen[update.entity_id] = number + 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(update)
    return rounds


class ThrottledLog:
    """Say each (device, reason) at most once per interval: a broken device sending a thousand
    bad messages a second must not flood the log."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[tuple[str, ...], float] = {}

    def allow(self, key: tuple[str, ...]) -> bool:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        if len(self._last) > 10_000:
            self._last = {k: t for k, t in self._last.items() if now - t < self.interval}
        self._last[key] = now
        return True
