"""The MQTT packets of the gateway's own client, byte for byte (MQTT 5.0 and 3.1.1 spec
figures), and the reader that cuts a byte stream into packets however it arrives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from madina.iot import mqtt_codec as codec


def test_connect_resumes_the_session_with_flow_control_in_mqtt_5() -> None:
    packet = codec.connect("gw-0", v5=True, keepalive=30, session_expiry=3600,
                           receive_maximum=20000, username="u", password="p")
    assert packet == bytes([
        0x10, 31,
        0, 4, *b"MQTT", 5, 0xC0, 0, 30,  # user name and password, Clean Start 0
        8, 0x11, 0, 0, 0x0E, 0x10, 0x21, 0x4E, 0x20,  # session expiry, receive maximum
        0, 4, *b"gw-0", 0, 1, *b"u", 0, 1, *b"p",
    ])


def test_connect_in_mqtt_3_keeps_the_session_and_has_no_properties() -> None:
    assert codec.connect("gw", v5=False, keepalive=30, session_expiry=0,
                         receive_maximum=1) == bytes(
        [0x10, 14, 0, 4, *b"MQTT", 4, 0x00, 0, 30, 0, 2, *b"gw"])


def test_subscribe_asks_qos_1_for_every_filter() -> None:
    assert codec.subscribe(1, ["/ul/+/+/attrs", "a"], v5=True) == bytes(
        [0x82, 23, 0, 1, 0, 0, 13, *b"/ul/+/+/attrs", 1, 0, 1, *b"a", 1])
    assert codec.subscribe(1, ["a"], v5=False) == bytes([0x82, 6, 0, 1, 0, 1, *b"a", 1])


def test_puback_is_the_short_success_form() -> None:
    assert codec.puback(0x1234) == bytes([0x40, 2, 0x12, 0x34])


@pytest.mark.parametrize("v5", [True, False])
def test_a_publish_reads_back_as_written(v5: bool) -> None:
    packet = codec.publish("/lamp/cmd", b"lamp@on|1", 7, v5=v5, dup=True)
    assert packet[0] == 0x3A  # PUBLISH, DUP, QoS 1
    [(kind, flags, body)] = codec.PacketReader().feed(packet)
    assert kind == codec.PUBLISH
    assert codec.read_publish(flags, body, v5=v5) == codec.Publish(
        "/lamp/cmd", b"lamp@on|1", 1, 7)


def test_publish_properties_are_skipped() -> None:
    body = bytes([0, 1, *b"t", 0, 9, 5, 0x01, 1, 0x23, 0, 3]) + b"payload"
    assert codec.read_publish(0x02, body, v5=True) == codec.Publish("t", b"payload", 1, 9)


def test_a_qos_0_publish_has_no_packet_id() -> None:
    assert codec.read_publish(0x00, bytes([0, 1, *b"t"]) + b"x", v5=False) == codec.Publish(
        "t", b"x", 0, None)


@pytest.mark.parametrize("body", [
    b"\x00",  # no topic length
    b"\x00\x09ab",  # topic longer than the packet
    b"\x00\x01t",  # QoS 1 without its packet id
    b"\x00\x01\xff\x00\x01\x00",  # topic not UTF-8
])
def test_malformed_publishes_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(codec.ProtocolError):
        codec.read_publish(0x02, body, v5=False)


def test_qos_2_is_refused_on_a_qos_1_subscription() -> None:
    with pytest.raises(codec.ProtocolError):
        codec.read_publish(0x04, bytes([0, 1, *b"t", 0, 1]), v5=False)


def test_connack_and_suback() -> None:
    assert codec.read_connack(bytes([1, 0, 0])) == (True, 0)
    assert codec.read_connack(bytes([0, 0x86])) == (False, 0x86)
    assert codec.read_suback(bytes([0, 1, 2, 0x26, 0, 1, 0x87]), v5=True) == (1, bytes([1, 0x87]))
    assert codec.read_suback(bytes([0, 1, 1, 0x80]), v5=False) == (1, bytes([1, 0x80]))


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16_383, 16_384, 70_000])
def test_remaining_lengths_at_every_varint_boundary(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    packet = codec.publish("t", payload, 1, v5=False)
    [(_, flags, body)] = codec.PacketReader().feed(packet)
    assert codec.read_publish(flags, body, v5=False).payload == payload


def test_a_remaining_length_over_four_bytes_is_refused() -> None:
    with pytest.raises(codec.ProtocolError):
        codec.PacketReader().feed(bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20), st.data())
def test_packets_come_out_whole_however_the_stream_is_cut(payloads, data) -> None:
    stream = b"".join(codec.publish(f"/t/{n}", p, n + 1, v5=True)
                      for n, p in enumerate(payloads))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader, packets, start = codec.PacketReader(), [], 0
    for end in [*cuts, len(stream)]:
        packets += reader.feed(stream[start:end])
        start = end
    read = [codec.read_publish(flags, body, v5=True) for _, flags, body in packets]
    assert [(p.topic, p.payload, p.packet_id) for p in read] == [
        (f"/t/{n}", p, n + 1) for n, p in enumerate(payloads)]
