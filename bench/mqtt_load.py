"""MQTT load for the ingestion benchmark: a publisher and a counting subscriber that cost the
machine little, so the benchmark measures the broker and Madina, not its own load generator.

Both speak MQTT 3.1.1 over a plain socket with the packets of `madina.iot.mqtt_codec`: the
publisher encodes its PUBLISH packets ahead, writes them in runs of hundreds and reads PUBACKs
in bulk, keeping at most `window` unacknowledged (QoS 1 all the way); the subscriber reads
whatever arrived and acknowledges it in one write. paho-mqtt, the first generator, topped out
near 8,000 messages/s on this machine with both cores, which hid everything above it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from madina.iot import mqtt_codec as codec

RUN = 200
"""PUBLISH packets per socket write."""


def _connect(port: int, client_id: str, subscribe: str | None = None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(codec.connect(client_id, v5=False, keepalive=600, session_expiry=0,
                               receive_maximum=0, clean=True))
    reader = codec.PacketReader()
    packets: list = []
    while not packets:
        packets = reader.feed(sock.recv(4096))
    if packets[0][0] != codec.CONNACK or codec.read_connack(packets[0][2])[1]:
        raise RuntimeError(f"the MQTT broker refused {client_id}")
    if subscribe is not None:
        sock.sendall(codec.subscribe(1, [subscribe], v5=False))
        while not any(kind == codec.SUBACK for kind, _, _ in packets):
            packets = reader.feed(sock.recv(4096))
    return sock


def publish(port: int, client_id: str, messages: Callable[[int], tuple[str, bytes]],
            count: int, rate: float = 0.0, window: int = 5000) -> float:
    """Publish `messages(0..count-1)` at QoS 1, at `rate` messages/s (0: as fast as the
    broker acknowledges); returns the seconds until the last PUBACK."""
    sock = _connect(port, client_id)
    reader = codec.PacketReader()
    sent = acknowledged = 0
    began = time.monotonic()
    try:
        while acknowledged < count:
            if sent < count and sent - acknowledged < window:
                if rate:
                    time.sleep(max(0.0, began + sent / rate - time.monotonic()))
                end = min(count, sent + RUN, acknowledged + window)
                sock.sendall(b"".join(
                    codec.publish(*messages(n), n % 0xFFFF + 1, v5=False)
                    for n in range(sent, end)))
                sent = end
                sock.setblocking(False)
            else:
                sock.setblocking(True)
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                raise RuntimeError("the MQTT broker closed the publisher's connection")
            acknowledged += sum(1 for kind, _, _ in reader.feed(data) if kind == codec.PUBACK)
        return time.monotonic() - began
    finally:
        sock.setblocking(True)
        sock.sendall(codec.DISCONNECT_PACKET)
        sock.close()


def count_received(port: int, topic_filter: str, seconds: float, ready: Callable[[], None],
                   warmup: float = 0.0) -> int:
    """Subscribe at QoS 1, call `ready`, and count what arrives during `seconds` after
    `warmup` (acknowledging everything)."""
    sock = _connect(port, "bench-sink", subscribe=topic_filter)
    reader = codec.PacketReader()
    ready()
    start = time.monotonic() + warmup
    end = start + seconds
    received = 0
    sock.settimeout(0.2)
    try:
        while (now := time.monotonic()) < end:
            try:
                data = sock.recv(262144)
            except TimeoutError:
                continue
            acks = bytearray()
            for kind, flags, body in reader.feed(data):
                if kind == codec.PUBLISH:
                    message = codec.read_publish(flags, body, v5=False)
                    if message.packet_id is not None:
                        acks += codec.puback(message.packet_id)
                    received += now >= start
            sock.sendall(acks)
        return received
    finally:
        sock.close()
