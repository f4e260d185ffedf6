"""Sending notifications from the outbox: at least once, and never one endpoint at the expense
of another.

Each outbox row is a finished request (`Request`). Rows reach a `Deliverer` in two ways: the
matcher of the leading process hands it the rows it just wrote (claimed already, so nothing is
read back), and every process claims due rows nobody holds (retries, and rows whose claimer
died or stopped) every `poll_interval`.

A row goes to the `Lane` of its endpoint (an HTTP origin, an MQTT broker): a queue with at most
`concurrency` requests in flight and its own connections, so a slow endpoint fills only its own
lane. After `trip_after` failures in a row a lane opens its circuit: rows arriving then fail at
once (no connection, no waiting) and are retried later, and one probe at a time tests whether
the endpoint is back. A failed row goes back to the outbox due after an exponential backoff with
jitter; after `max_attempts` it is dropped and its subscription shows the failure. Outcomes
(delivered rows, retries, the subscriptions' counters) are written in batches every
`flush_interval`, so a crash repeats what was sent since the last flush: at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import random
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypedDict, TypeVar
from urllib.parse import unquote, urlsplit

import httpx
import orjson
import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from madina.events.http_sender import Http11Sender, HttpError
from madina.metrics import NOTIFICATION_DELIVERY, NOTIFICATIONS, NOTIFICATIONS_HELD
from madina.store.base import Store, StoreUnavailable
from madina.store.subscriptions import Delivery, Outcome

log = structlog.get_logger("madina.notifications")
T = TypeVar("T")


class Request(TypedDict, total=False):
    """What an outbox row sends."""

    uri: str
    headers: dict[str, str]
    """HTTP headers; an MQTT message carries them as its `metadata`."""
    body: dict[str, Any]
    timeout: float
    """Seconds before the attempt counts as failed."""
    cooldown: float
    """Seconds to wait at least before retrying a failure (the endpoint's `cooldown`)."""
    qos: int
    """MQTT quality of service (0, 1 or 2)."""
    mqtt_version: str
    """mqtt3.1.1 or mqtt5.0."""


@dataclass
class DeliveryPolicy:
    timeout: float = 10.0
    """Seconds per attempt unless the endpoint sets its own `timeout`."""
    concurrency: int = 8
    """Requests in flight per endpoint."""
    max_attempts: int = 8
    retry_base: float = 1.0
    """Seconds before the first retry; doubled for each further one, up to `retry_max`."""
    retry_max: float = 300.0
    trip_after: int = 3
    """Failures in a row that open an endpoint's circuit."""
    lease: float = 60.0
    """Seconds a claimed row stays this process's; a row not sent by then is given back."""
    poll_interval: float = 1.0
    """Seconds between claims of due rows (retries, rows of processes that stopped)."""
    flush_interval: float = 0.05
    """Seconds between batched writes of outcomes."""


def backoff(attempts: int, base: float, cap: float, floor: float = 0.0) -> float:
    """Seconds until the next attempt after `attempts` failures: exponential, capped, with
    "equal jitter" (half fixed, half random) so retries of many rows spread out."""
    delay = min(cap, base * 2 ** max(attempts - 1, 0))
    return max(floor, delay / 2 + random.uniform(0, delay / 2))


class SendError(Exception):
    """The endpoint did not take the notification (the reason, for the log)."""


class Sender(Protocol):
    async def send(self, request: Request, timeout: float) -> None:
        """Return once the endpoint took the notification; SendError otherwise."""
    async def close(self) -> None: ...


class HttpSender:
    """POSTs to one http:// origin over kept-alive connections of its own, no more than the
    lane's concurrency (madina.events.http_sender)."""

    def __init__(self, concurrency: int) -> None:
        self._http = Http11Sender(concurrency)

    async def send(self, request: Request, timeout: float) -> None:
        try:
            await self._http.post(request["uri"], request["headers"], request["body"], timeout)
        except HttpError as exc:
            raise SendError(str(exc)) from None

    async def close(self) -> None:
        await self._http.close()


class HttpsSender:
    """POSTs to one https:// origin through httpx (TLS, certificate checks), over a pool of
    its own no larger than the lane's concurrency."""

    def __init__(self, concurrency: int) -> None:
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency),
            follow_redirects=False,
        )

    async def send(self, request: Request, timeout: float) -> None:
        try:
            response = await self._client.post(
                request["uri"], content=orjson.dumps(request["body"]),
                headers=request["headers"], timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise SendError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if not response.is_success:
            raise SendError(f"HTTP status {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()


class MqttSender:
    """Publishes to one MQTT broker over one connection (paho's network thread keeps it up and
    reconnects it). A publish counts as taken when paho reports it sent (QoS 0) or
    acknowledged (QoS 1 and 2)."""

    def __init__(self, uri: str, version: str, client_id: str) -> None:
        parts = urlsplit(uri)
        self._host = parts.hostname or ""
        self._port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        protocol = mqtt.MQTTv5 if version == "mqtt5.0" else mqtt.MQTTv311
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=protocol)
        if parts.username:
            self._client.username_pw_set(
                unquote(parts.username), unquote(parts.password) if parts.password else None
            )
        if parts.scheme == "mqtts":
            self._client.tls_set_context(ssl.create_default_context())
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_publish = self._published
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._lock = threading.RLock()
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._started = False

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            self._loop.call_soon_threadsafe(self._ready.set)

    def _disconnected(self, client: Any, userdata: Any, flags: Any, reason: Any,
                      props: Any) -> None:
        self._loop.call_soon_threadsafe(self._ready.clear)

    def _published(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            future = self._waiting.pop(mid, None)
        if future is not None:
            self._loop.call_soon_threadsafe(_resolve, future)

    async def send(self, request: Request, timeout: float) -> None:
        if not self._started:
            self._started = True
            self._client.connect_async(self._host, self._port, keepalive=60)
            self._client.loop_start()
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            raise SendError(f"MQTT broker {self._host}:{self._port} not connected") from None
        topic = urlsplit(request["uri"]).path.lstrip("/")
        payload = orjson.dumps({"metadata": request["headers"], "body": request["body"]})
        future: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            info = self._client.publish(topic, payload, qos=request.get("qos", 0))
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise SendError(f"MQTT publish failed: {mqtt.error_string(info.rc)}")
            if info.is_published():
                future.set_result(None)
            else:
                self._waiting[info.mid] = future
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            with self._lock:
                self._waiting.pop(info.mid, None)
            raise SendError("MQTT publish not acknowledged in time") from None

    async def close(self) -> None:
        if self._started:
            self._client.disconnect()
            await asyncio.to_thread(self._client.loop_stop)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def lane_key(request: Request) -> str:
    """The endpoint a request goes to: its origin for HTTP; for MQTT the broker, protocol
    version and credentials (hashed, so no password shows where lanes are named)."""
    parts = urlsplit(request["uri"])
    origin = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"
    if parts.scheme not in ("mqtt", "mqtts"):
        return origin
    secret = hashlib.blake2b(f"{parts.username}:{parts.password}".encode(),
                             digest_size=6).hexdigest()
    return f"{origin} {request.get('mqtt_version', 'mqtt5.0')} {secret}"


@dataclass
class Claimed:
    """A row this process holds, and until when."""

    delivery: Delivery
    held_until: float
    """Wall-clock time the claim expires (another process may then take the row)."""
    queued_at: float = field(default_factory=time.monotonic)


@dataclass
class Lane:
    """The queue of one endpoint: up to `concurrency` notifications in flight, but one at a
    time per subscription, so a subscription's notifications arrive in the order its changes
    were committed (a retry, coming later, is the exception)."""

    key: str
    sender: Sender
    deliverer: Deliverer
    waiting: dict[tuple[str, str], deque[Claimed]] = field(default_factory=dict)
    """Per subscription (tenant, id), its queued notifications, oldest first."""
    ready: deque[tuple[str, str]] = field(default_factory=deque)
    """Subscriptions with notifications queued and none in flight, in turn."""
    active: int = 0
    failures: int = 0
    """Failures in a row; `trip_after` of them open the circuit."""
    open_until: float = 0.0
    last_used: float = field(default_factory=time.monotonic)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    closed: bool = False
    """Set when the deliverer stops: nothing more is started."""

    @property
    def limit(self) -> int:
        """One probe at a time while the endpoint is failing; the full width otherwise."""
        policy = self.deliverer.policy
        return 1 if self.failures >= policy.trip_after else policy.concurrency

    @property
    def idle(self) -> bool:
        return not self.waiting and not self.active

    def submit(self, claimed: Claimed) -> None:
        delivery = claimed.delivery
        key = (delivery.tenant, delivery.subscription_id)
        queue = self.waiting.get(key)
        if queue is None:
            queue = self.waiting[key] = deque()
            self.ready.append(key)
        queue.append(claimed)
        self.last_used = time.monotonic()
        self._spawn()

    def _spawn(self) -> None:
        while self.ready and self.active < self.limit and not self.closed:
            self.active += 1
            task = asyncio.create_task(self._work(), name=f"madina-lane {self.key}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _work(self) -> None:
        try:
            while self.ready and self.active <= self.limit and not self.closed:
                key = self.ready.popleft()
                queue = self.waiting[key]
                try:
                    await self._attempt(queue.popleft())
                finally:
                    if queue:
                        self.ready.append(key)
                    else:
                        del self.waiting[key]
        finally:
            self.active -= 1
            self._spawn()

    async def _attempt(self, claimed: Claimed) -> None:
        deliverer, policy = self.deliverer, self.deliverer.policy
        request: Request = claimed.delivery.request  # type: ignore[assignment]
        timeout = request.get("timeout", policy.timeout)
        if time.monotonic() < self.open_until:
            deliverer.failed(claimed, "the endpoint is failing (circuit open)", attempted=False)
            return
        if time.time() + timeout > claimed.held_until:
            deliverer.give_back(claimed)  # the claim would run out mid-attempt
            return
        try:
            await self.sender.send(request, timeout)
        except SendError as exc:
            self.failures += 1
            if self.failures >= policy.trip_after:
                self.open_until = time.monotonic() + backoff(
                    self.failures - policy.trip_after + 1, policy.retry_base, policy.retry_max)
            deliverer.failed(claimed, str(exc), attempted=True)
        else:
            self.failures = 0
            self.open_until = 0.0
            deliverer.succeeded(claimed)
        finally:
            self.last_used = time.monotonic()


@dataclass
class _Tally:
    """One subscription's outcomes since the last flush; times are Unix seconds."""

    sent: int = 0
    failed: int = 0
    last_notification: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    status: str | None = None

    def add(self, older: _Tally) -> None:
        """Take in the outcomes of an earlier tally that could not be written."""
        self.sent += older.sent
        self.failed += older.failed
        for name in ("last_notification", "last_success", "last_failure"):
            if getattr(self, name) is None:
                setattr(self, name, getattr(older, name))
        self.status = self.status or older.status

    def outcome(self, tenant: str, subscription_id: str) -> Outcome:
        return Outcome(tenant, subscription_id, self.sent, self.failed,
                       _canonical(self.last_notification), _canonical(self.last_success),
                       _canonical(self.last_failure), self.status)


def _canonical(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Deliverer:
    """The sending side of one process: lanes, the claim poll and the batched outcomes."""

    LANE_IDLE_S = 300.0
    CLAIM_BATCH = 500
    STOP_GRACE_S = 2.0

    def __init__(self, store: Store, policy: DeliveryPolicy | None = None,
                 on_delivered: Callable[[Delivery], None] | None = None) -> None:
        self.store = store
        self.policy = policy or DeliveryPolicy()
        self.on_delivered = on_delivered
        """Called for every notification taken by its endpoint (benchmarks, tests)."""
        self.claimer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lanes: dict[str, Lane] = {}
        self.holding: set[int] = set()
        """Sequence numbers of the rows held in memory (queued or in flight)."""
        self._done: list[int] = []
        self._retries: list[tuple[int, int, float, float]] = []
        self._timers: dict[int, asyncio.TimerHandle] = {}
        """Retries waiting to be due, by sequence number."""
        self._given_back: list[int] = []
        self._tallies: dict[tuple[str, str], _Tally] = {}
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._mqtt_ids = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._dirty = asyncio.Event()
        self._tasks = [asyncio.create_task(self._poll_forever(), name="madina-claims"),
                       asyncio.create_task(self._flush_forever(), name="madina-outcomes")]

    async def stop(self) -> None:
        """Stop sending: attempts in flight get `STOP_GRACE_S` to finish, so an endpoint that
        got a notification is not sent it again by the next process. Then write what
        happened, and give every row still held back at once, so another process (or this
        one, restarted) takes them without waiting for the lease."""
        for task in self._tasks:
            task.cancel()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        in_flight = []
        for lane in self.lanes.values():
            lane.closed = True
            in_flight.extend(lane.tasks)
        if in_flight:
            await asyncio.wait(in_flight, timeout=self.STOP_GRACE_S)
        for task in in_flight:
            task.cancel()
        for task in [*self._tasks, *in_flight]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(StoreUnavailable):
            await self.flush()
            await self._call(self.store.subscriptions.release, self.claimer, None)
        self.holding.clear()
        for lane in self.lanes.values():
            with contextlib.suppress(Exception):
                await lane.sender.close()
        self.lanes.clear()

    # -- rows in -----------------------------------------------------------------------------
    def submit(self, deliveries: list[Delivery], held_until: float) -> None:
        for delivery in deliveries:
            if delivery.seq in self.holding:
                continue
            self.holding.add(delivery.seq)
            self._lane(delivery).submit(Claimed(delivery, held_until))
        NOTIFICATIONS_HELD.set(len(self.holding))

    def _lane(self, delivery: Delivery) -> Lane:
        lane = self.lanes.get(delivery.lane)
        if lane is None:
            lane = self.lanes[delivery.lane] = Lane(delivery.lane, self._sender(delivery), self)
        return lane

    def _sender(self, delivery: Delivery) -> Sender:
        request: Request = delivery.request  # type: ignore[assignment]
        scheme = urlsplit(request["uri"]).scheme
        if scheme in ("mqtt", "mqtts"):
            client_id = f"madina-notifier-{self.claimer}-{next(self._mqtt_ids)}"
            return MqttSender(request["uri"], request.get("mqtt_version", "mqtt5.0"), client_id)
        if scheme == "https":
            return HttpsSender(self.policy.concurrency)
        return HttpSender(self.policy.concurrency)

    # -- outcomes ----------------------------------------------------------------------------
    def succeeded(self, claimed: Claimed) -> None:
        delivery = claimed.delivery
        self.holding.discard(delivery.seq)
        NOTIFICATIONS.labels("sent").inc()
        NOTIFICATION_DELIVERY.observe(time.monotonic() - claimed.queued_at)
        NOTIFICATIONS_HELD.set(len(self.holding))
        self._done.append(delivery.seq)
        now = time.time()
        tally = self._tally(delivery)
        tally.sent += 1
        tally.last_notification = tally.last_success = now
        tally.status = "ok"
        self._dirty.set()
        if self.on_delivered is not None:
            self.on_delivered(delivery)

    def failed(self, claimed: Claimed, error: str, attempted: bool) -> None:
        delivery = claimed.delivery
        self.holding.discard(delivery.seq)
        NOTIFICATIONS.labels("failed" if attempted else "circuit").inc()
        attempts = delivery.attempts + 1
        now = time.time()
        tally = self._tally(delivery)
        tally.failed += 1
        tally.last_failure = now
        tally.status = "failed"
        if attempted:
            tally.sent += 1
            tally.last_notification = now
        if attempts >= self.policy.max_attempts:
            NOTIFICATIONS.labels("dropped").inc()
            NOTIFICATIONS_HELD.set(len(self.holding))
            log.warning("notification dropped after its last attempt", lane=delivery.lane,
                        subscription=delivery.subscription_id, attempts=attempts, error=error)
            self._done.append(delivery.seq)
        else:
            self._retry(claimed, attempts, error)
        self._dirty.set()

    def _retry(self, claimed: Claimed, attempts: int, error: str) -> None:
        """Retry in this process when due, holding the row a lease beyond that; the outbox
        knows, so a crash in between leaves the row to whoever claims it next."""
        delivery = claimed.delivery
        cooldown = delivery.request.get("cooldown", 0.0)
        delay = backoff(attempts, self.policy.retry_base, self.policy.retry_max, cooldown)
        due = time.time() + delay
        held_until = due + self.policy.lease
        log.info("notification failed; retrying", lane=delivery.lane, error=error,
                 subscription=delivery.subscription_id, attempts=attempts,
                 retry_in_s=round(delay, 2))
        self._retries.append((delivery.seq, attempts, due, held_until))
        again = Claimed(replace(delivery, attempts=attempts), held_until)
        self.holding.add(delivery.seq)
        loop = asyncio.get_running_loop()
        self._timers[delivery.seq] = loop.call_later(delay, self._resubmit, again)

    def _resubmit(self, claimed: Claimed) -> None:
        self._timers.pop(claimed.delivery.seq, None)
        self._lane(claimed.delivery).submit(claimed)

    def give_back(self, claimed: Claimed) -> None:
        self.holding.discard(claimed.delivery.seq)
        self._given_back.append(claimed.delivery.seq)
        self._dirty.set()

    def _tally(self, delivery: Delivery) -> _Tally:
        return self._tally_of(delivery.tenant, delivery.subscription_id)

    def _tally_of(self, tenant: str, subscription_id: str) -> _Tally:
        tally = self._tallies.get((tenant, subscription_id))
        if tally is None:
            tally = self._tallies[(tenant, subscription_id)] = _Tally()
        return tally

    async def flush(self) -> None:
        """Write the outcomes gathered since the last flush; kept for the next one if the
        database cannot take them now."""
        done, self._done = self._done, []
        retries, self._retries = self._retries, []
        given_back, self._given_back = self._given_back, []
        tallies, self._tallies = self._tallies, {}
        subscriptions = self.store.subscriptions
        try:
            if done:
                await self._call(subscriptions.delivered, done)
                done = []
            if retries:
                await self._call(subscriptions.retry, self.claimer, retries)
                retries = []
            if given_back:
                await self._call(subscriptions.release, self.claimer, given_back)
                given_back = []
            if tallies:
                await self._call(subscriptions.record, [
                    tally.outcome(tenant, sid) for (tenant, sid), tally in tallies.items()])
                tallies = {}
        finally:
            self._done[:0], self._retries[:0], self._given_back[:0] = done, retries, given_back
            for key, tally in tallies.items():
                self._tally_of(*key).add(tally)

    # -- background --------------------------------------------------------------------------
    async def _flush_forever(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.flush()
            except StoreUnavailable as exc:
                log.warning("notification outcomes not written yet", error=str(exc))
                self._dirty.set()
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("writing notification outcomes failed")
                self._dirty.set()
                await asyncio.sleep(1.0)
            await asyncio.sleep(self.policy.flush_interval)
            self._close_idle_lanes()

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.claim_due()
            except StoreUnavailable as exc:
                log.warning("notification outbox unreadable", error=str(exc))
            except Exception:
                log.exception("claiming notifications failed")
            await asyncio.sleep(self.policy.poll_interval)

    async def claim_due(self) -> int:
        """Claim due rows nobody holds and queue them; returns how many."""
        now = time.time()
        rows = await self._call(self.store.subscriptions.claim, self.claimer, now,
                                self.policy.lease, self.CLAIM_BATCH)
        self.submit(rows, now + self.policy.lease)
        return len(rows)

    def _close_idle_lanes(self) -> None:
        idle_since = time.monotonic() - self.LANE_IDLE_S
        for key, lane in list(self.lanes.items()):
            if lane.idle and lane.last_used < idle_since:
                del self.lanes[key]
                task = asyncio.create_task(lane.sender.close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self.store.runs_on_loop:
            return function(*args)
        return await asyncio.to_thread(function, *args)
