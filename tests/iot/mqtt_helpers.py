"""A device for the MQTT tests: paho-mqtt, publishing at QoS 1 and waiting for the broker's
PUBACK, and listening on its command topic."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


class Device:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.received: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"test-device-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda c, u, m: self.received.put((m.topic, m.payload))
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()

    def publish(self, topic: str, payload: str | bytes) -> None:
        """Returns once the MQTT broker acknowledged (PUBACK) the message."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published(), topic

    def subscribe(self, topic: str) -> None:
        done: queue.Queue[None] = queue.Queue()
        self.client.on_subscribe = lambda *args: done.put(None)
        self.client.subscribe(topic, qos=1)
        done.get(timeout=5)

    def next_message(self, timeout: float = 10.0) -> tuple[str, bytes]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """The first truthy result of `check`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "condition not reached in time"
            return result
        time.sleep(0.05)
