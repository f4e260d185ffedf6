"""The MQTT 3.1.1 and 5.0 packets the gateway's client exchanges with its broker, as bytes.

Only what a subscriber that acknowledges after committing and publishes commands at QoS 1
needs: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH and PUBACK both ways, PINGREQ/PINGRESP and
DISCONNECT. The gateway subscribes at QoS 1 at most, so the broker never sends it QoS 2, and it
announces no Topic Alias Maximum, so the broker sends every topic in full (MQTT 5, 3.1.2.11.8).

`PacketReader` cuts a byte stream into packets in one pass over whatever arrived, so a read
of 64 KB holding hundreds of small PUBLISH packets costs one call, not several per packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"
"""Normal disconnection, in both versions (MQTT 5: reason 0 and no properties may be left
out): the broker keeps the session for its expiry interval."""

_SESSION_EXPIRY, _RECEIVE_MAXIMUM = 0x11, 0x21
_MAX_LENGTH = 268_435_455
"""The largest remaining length the four-byte variable integer can carry."""


class ProtocolError(ValueError):
    """The broker sent bytes that are no MQTT packet: the connection is dropped."""


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    packet_id: int | None
    """None at QoS 0."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it); ProtocolError past four bytes or the end of `data`."""
    value = shift = 0
    for index in range(pos, min(pos + 4, len(data))):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, index + 1
        shift += 7
    raise ProtocolError("malformed variable byte integer")


def _string(text: str) -> bytes:
    raw = text.encode()
    if len(raw) > 0xFFFF:
        raise ValueError(f"MQTT strings are at most 65,535 bytes, not {len(raw)}")
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    if len(body) > _MAX_LENGTH:
        raise ValueError("MQTT packet too large")
    return bytes((first,)) + _varint(len(body)) + body


def connect(client_id: str, *, v5: bool, keepalive: int, session_expiry: int,
            receive_maximum: int, username: str | None = None,
            password: str | None = None, clean: bool = False) -> bytes:
    """A CONNECT that resumes the session (MQTT 5: Clean Start 0 with an expiry interval;
    3.1.1: Clean Session 0, kept until the broker drops it), or with `clean` one that keeps
    nothing (load generators)."""
    flags = ((0x80 if username is not None else 0) | (0x40 if password is not None else 0)
             | (0x02 if clean else 0))
    body = _string("MQTT") + bytes((5 if v5 else 4, flags)) + struct.pack("!H", keepalive)
    if v5:
        properties = (bytes((_SESSION_EXPIRY,)) + struct.pack("!I", session_expiry)
                      + bytes((_RECEIVE_MAXIMUM,)) + struct.pack("!H", receive_maximum))
        body += _varint(len(properties)) + properties
    body += _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        raw = password.encode()
        body += struct.pack("!H", len(raw)) + raw
    return _packet(CONNECT << 4, body)


def subscribe(packet_id: int, filters: list[str], *, v5: bool, qos: int = 1) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if v5 else b"")
    for filter_ in filters:
        body += _string(filter_) + bytes((qos,))
    return _packet((SUBSCRIBE << 4) | 0x02, body)


def publish(topic: str, payload: bytes, packet_id: int, *, v5: bool, dup: bool = False) -> bytes:
    """A QoS 1 PUBLISH (commands to devices)."""
    body = _string(topic) + struct.pack("!H", packet_id) + (b"\x00" if v5 else b"") + payload
    return _packet((PUBLISH << 4) | (0x08 if dup else 0) | 0x02, body)


def puback(packet_id: int) -> bytes:
    """Success, in the short form both versions accept."""
    return struct.pack("!BBH", PUBACK << 4, 2, packet_id)


def read_connack(body: bytes) -> tuple[bool, int]:
    """(session present, reason code: 0 is success in both versions)."""
    if len(body) < 2:
        raise ProtocolError("short CONNACK")
    return bool(body[0] & 0x01), body[1]


def read_suback(body: bytes, *, v5: bool) -> tuple[int, bytes]:
    """(packet id, one reason code per filter: 0-2 granted QoS, 0x80 and above refused)."""
    if len(body) < 3:
        raise ProtocolError("short SUBACK")
    pos = 2
    if v5:
        length, pos = _read_varint(body, pos)
        pos += length
    return struct.unpack_from("!H", body)[0], bytes(body[pos:])


def read_packet_id(body: bytes) -> int:
    """The packet id a PUBACK acknowledges."""
    if len(body) < 2:
        raise ProtocolError("short PUBACK")
    return struct.unpack_from("!H", body)[0]


def read_publish(flags: int, body: bytes, *, v5: bool) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos > 1:
        raise ProtocolError(f"PUBLISH at QoS {qos} on a QoS 1 subscription")
    if len(body) < 2:
        raise ProtocolError("short PUBLISH")
    end = 2 + ((body[0] << 8) | body[1])
    if end > len(body):
        raise ProtocolError("PUBLISH topic runs past the packet")
    try:
        topic = body[2:end].decode()
    except UnicodeDecodeError:
        raise ProtocolError("PUBLISH topic is not UTF-8") from None
    packet_id = None
    if qos:
        if end + 2 > len(body):
            raise ProtocolError("PUBLISH without its packet id")
        packet_id = (body[end] << 8) | body[end + 1]
        end += 2
    if v5:
        length, end = _read_varint(body, end)
        end += length
        if end > len(body):
            raise ProtocolError("PUBLISH properties run past the packet")
    return Publish(topic, body[end:], qos, packet_id)


class PacketReader:
    """Bytes in as they arrive, whole packets out: (type, flags, body)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        buffer = self._buffer
        buffer += data
        packets = []
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            first = buffer[pos]
            length = shift = 0
            index = pos + 1
            whole = False
            while index < size:
                byte = buffer[index]
                index += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    whole = True
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("malformed remaining length")
            if not whole or index + length > size:
                break  # the length or the body is still on its way
            packets.append((first >> 4, first & 0x0F, bytes(buffer[index:index + length])))
            pos = index + length
        if pos:
            del buffer[:pos]
        return packets
