"""The gateway's MQTT client: subscribes to the agents' topics, hands messages to the inbox,
acknowledges each only once its measures are committed, publishes commands.

A QoS 1 message whose PUBACK never left (the process died, the database was away) stays with
the MQTT broker, which delivers it again when the client comes back. For that the session must
outlive the connection: the client connects with a fixed client id, Clean Start off and a
session expiry (MQTT 5; Clean Session off in 3.1.1), so messages published while Madina is down
wait for it too. With several worker processes each takes its own client id (`<id>-0`, `<id>-1`,
...: the lowest slot no live process holds, so a restarted worker gets its session back) and
they share the subscriptions (`$share/<group>/...`): each message is consumed once, by one
worker.

The client is Madina's own, on the event loop (packets in `mqtt_codec`): paho-mqtt, which it
replaces, spent about 45 µs of the one interpreter lock per message (three socket reads and a
select per packet, a PUBACK queued through a socket pair, MQTT 5 properties parsed into
objects), 40 % of the gateway's time while it drained a backlog. Here one read takes every
packet that arrived, and the PUBACKs of a committed batch leave in one write.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import ssl
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, cast
from urllib.parse import unquote, urlsplit

import structlog

from madina.iot import mqtt_codec as codec
from madina.iot import topics
from madina.iot.ingest import Inbox, Message, Outcome
from madina.tasks import cancel

log = structlog.get_logger("madina.iot.mqtt")

RECEIVE_MAXIMUM = 20_000
"""Unacknowledged messages the MQTT broker may have in flight to one worker: the ingest queue's
bound, so a slow database slows the broker's sending instead of filling memory."""
MAX_SLOTS = 64
KEEPALIVE_S = 30
CONNECT_TIMEOUT_S = 10.0
RECONNECT_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before each attempt to reconnect (the last repeats)."""


class Refused(ConnectionError):
    """The MQTT broker answered CONNECT or SUBSCRIBE with a failure code."""


class MqttClient:
    def __init__(self, url: str, client_id: str, share_group: str, inbox: Inbox,
                 session_expiry_s: int, version: str = "5") -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp"):
            raise ValueError(f"MADINA_MQTT_URL must be mqtt://host:port or mqtts://, not {url!r}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password or "") if parts.username else None
        self.tls = ssl.create_default_context() if parts.scheme == "mqtts" else None
        self.share_group = share_group
        self.session_expiry_s = session_expiry_s
        self.v5 = version == "5"
        self.inbox = inbox
        self.client_id, self._slot = claim_client_id(client_id, f"{self.host}:{self.port}")
        self.connected = threading.Event()
        """Set while subscribed (tests and /health wait on it from other threads)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._connection: _Connection | None = None
        self._next_id = 1
        self._unacknowledged: dict[int, tuple[str, bytes]] = {}
        """Our QoS 1 publishes (commands) the broker has not acknowledged, sent again with
        DUP after a reconnect."""

    async def start(self) -> None:
        """Connect in the background (retrying until the broker answers)."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="madina-mqtt")

    async def stop(self) -> None:
        """Disconnect, keeping the session: what was not acknowledged is delivered again."""
        await cancel(self._task)
        self._task = None
        if self._slot is not None:
            self._slot.close()
            self._slot = None

    def publish(self, topic: str, payload: bytes | str) -> bool:
        """Publish at QoS 1, from any thread; False when not connected (sent once the client
        is connected again)."""
        raw = payload.encode() if isinstance(payload, str) else payload
        if self._loop is None:
            return False
        self._loop.call_soon_threadsafe(self._publish, topic, raw)
        return self.connected.is_set()

    def _publish(self, topic: str, payload: bytes) -> None:
        # Packet ids 2-65535: 1 is the SUBSCRIBE's, sent on every connect while publishes
        # of the session may still wait for their PUBACK.
        self._next_id = self._next_id + 1 if self._next_id < 0xFFFF else 2
        while self._next_id in self._unacknowledged:
            self._next_id = self._next_id + 1 if self._next_id < 0xFFFF else 2
        self._unacknowledged[self._next_id] = (topic, payload)
        if self._connection is not None and self.connected.is_set():
            self._connection.send(codec.publish(topic, payload, self._next_id, v5=self.v5))

    # -- the connection's life ----------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._session()
                attempt = 0
            except Refused as error:  # before OSError, of which it is one
                log.warning("MQTT broker refused the gateway", broker=self._broker,
                            reason=str(error))
            except (OSError, TimeoutError, codec.ProtocolError) as error:
                log.warning("MQTT connection failed; reconnecting", broker=self._broker,
                            error=str(error) or type(error).__name__)
            self.connected.clear()
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

    @property
    def _broker(self) -> str:
        return f"{self.host}:{self.port}"

    async def _session(self) -> None:
        """One connection, from CONNECT until it is lost (or the task is cancelled)."""
        assert self._loop is not None
        _, connection = await asyncio.wait_for(self._loop.create_connection(
            lambda: _Connection(self), self.host, self.port, ssl=self.tls), CONNECT_TIMEOUT_S)
        self._connection = connection
        try:
            connection.send(codec.connect(
                self.client_id, v5=self.v5, keepalive=KEEPALIVE_S,
                session_expiry=self.session_expiry_s, receive_maximum=RECEIVE_MAXIMUM,
                username=self.username, password=self.password))
            session_present, code = await asyncio.wait_for(connection.connack,
                                                           CONNECT_TIMEOUT_S)
            if code:
                raise Refused(f"CONNACK reason code {code:#04x}")
            filters = [topics.shared(f, self.share_group) for f in topics.SUBSCRIPTIONS]
            connection.send(codec.subscribe(1, filters, v5=self.v5))
            codes = await asyncio.wait_for(connection.suback, CONNECT_TIMEOUT_S)
            refused = [f for f, c in zip(filters, codes, strict=False) if c >= 0x80]
            if refused or len(codes) != len(filters):
                raise Refused(f"SUBSCRIBE refused for {refused or filters}")
            for packet_id, (topic, payload) in sorted(self._unacknowledged.items()):
                connection.send(codec.publish(topic, payload, packet_id, v5=self.v5, dup=True))
            self.connected.set()
            log.info("MQTT connected", broker=self._broker, client_id=self.client_id,
                     session_present=session_present)
            await connection.closed
        finally:
            self.connected.clear()
            self._connection = None
            connection.close()

    # -- packets, on the event loop ---------------------------------------------------------
    def _received(self, connection: _Connection, kind: int, flags: int, body: bytes) -> None:
        if kind == codec.PUBLISH:
            self._message(connection, codec.read_publish(flags, body, v5=self.v5))
        elif kind == codec.PUBACK:
            self._unacknowledged.pop(codec.read_packet_id(body), None)
        elif kind == codec.CONNACK:
            if not connection.connack.done():
                connection.connack.set_result(codec.read_connack(body))
        elif kind == codec.SUBACK:
            if not connection.suback.done():
                connection.suback.set_result(codec.read_suback(body, v5=self.v5)[1])
        elif kind == codec.DISCONNECT:
            log.warning("MQTT broker closed the connection",
                        reason=f"{body[0]:#04x}" if body else "0x00")
            connection.close()
        # PINGRESP only shows the connection lives: any packet does (see _Connection)

    def _message(self, connection: _Connection, publish: codec.Publish) -> None:
        topic = topics.parse(publish.topic)
        packet_id = publish.packet_id
        done = None if packet_id is None else connection.acknowledger(packet_id)
        if topic is None:  # not ours (an overlapping subscription): nothing to keep
            if done is not None:
                done(Outcome("malformed"))
            return
        self.inbox.put(Message("mqtt", topic.apikey, topic.device_id, publish.payload,
                               topic.form, topic.attribute, topic.results, done=done))


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection to the broker: reads packets, writes what the client sends,
    pings while idle, and ends itself when the broker has been silent too long."""

    def __init__(self, client: MqttClient) -> None:
        loop = asyncio.get_running_loop()
        self.client = client
        self.reader = codec.PacketReader()
        self.transport: asyncio.Transport | None = None
        self.connack: asyncio.Future[tuple[bool, int]] = loop.create_future()
        self.suback: asyncio.Future[bytes] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._acks = bytearray()
        self._heard = self._spoke = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._loop = loop

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self._timer = self._loop.call_later(KEEPALIVE_S / 2, self._keepalive)

    def data_received(self, data: bytes) -> None:
        self._heard = time.monotonic()
        try:
            for kind, flags, body in self.reader.feed(data):
                self.client._received(self, kind, flags, body)
        except codec.ProtocolError as error:
            log.warning("MQTT broker sent a malformed packet", error=str(error))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.transport = None
        for future in (self.connack, self.suback):
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, packet: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(packet)
            self._spoke = time.monotonic()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.connack.done() and not self.connack.exception():
                self.transport.write(codec.DISCONNECT_PACKET)
            self.transport.close()

    def acknowledger(self, packet_id: int):
        """PUBACK once the message is settled, on this connection only: after a reconnect
        the broker sends what was not acknowledged again, and that copy is acknowledged."""

        def ack(outcome: Outcome) -> None:
            if not self._acks:
                self._loop.call_soon(self._flush_acks)
            self._acks += codec.puback(packet_id)

        return ack

    def _flush_acks(self) -> None:
        """Every PUBACK of a committed batch in one write."""
        acks, self._acks = bytes(self._acks), bytearray()
        self.send(acks)

    def _keepalive(self) -> None:
        now = time.monotonic()
        if now - self._heard > KEEPALIVE_S * 1.5:
            log.warning("MQTT broker silent; reconnecting", seconds=round(now - self._heard))
            self.close()
            return
        if now - self._spoke >= KEEPALIVE_S / 2:
            self.send(codec.PINGREQ_PACKET)
        self._timer = self._loop.call_later(KEEPALIVE_S / 2, self._keepalive)


def claim_client_id(base: str, broker: str) -> tuple[str, IO[bytes] | None]:
    """`<base>-<n>` for the lowest n whose lock file no live process holds (the lock ends with
    the process), and the held lock file."""
    digest = hashlib.sha256(f"{base}@{broker}".encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir())
    for slot in range(MAX_SLOTS):
        handle = (folder / f"madina-mqtt-{digest}-{slot}.lock").open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        return f"{base}-{slot}", handle
    raise RuntimeError(f"more than {MAX_SLOTS} processes use MQTT client id {base!r}")
