"""Delivery at least once, on both engines: retries with backoff against a failing receiver,
giving up, a dead endpoint beside a live one, a restart with deliveries pending, a notifier
that was away, a standby taking over, and MQTT endpoints on the real broker."""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from madina.app import create_app
from madina.config import Settings
from madina.context.broker import Broker
from tests.context.entity_helpers import Terms
from tests.events.receiver import BlackHole, Receiver, wait_until
from tests.services import require_mqtt

API = "/ngsi-ld/v1"
ADMIN = {"Authorization": "Bearer test-admin-token"}
FAST_RETRIES = {"notification_retry_base": 0.05, "notification_retry_max": 0.2}


@contextmanager
def running(settings: Settings, **changes: Any) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update=changes)), headers=ADMIN) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def subscribe(client: TestClient, uri: str, **endpoint: Any) -> str:
    answer = client.post(f"{API}/subscriptions", json={
        "type": "Subscription", "entities": [{"type": "Sensor"}],
        "notification": {"format": "keyValues", "endpoint": {"uri": uri, **endpoint}},
    })
    assert answer.status_code == 201, answer.text
    return answer.headers["location"].rsplit("/", 1)[1]


def sensor(n: int, value: float = 0) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Sensor:{n}", "type": "Sensor",
            "temperature": {"type": "Property", "value": value}}


def create(client: TestClient, n: int, value: float = 0) -> None:
    assert client.post(f"{API}/entities", json=sensor(n, value)).status_code == 201


def status(client: TestClient, sid: str) -> dict[str, Any]:
    return client.get(f"{API}/subscriptions/{sid}").json()["notification"]


def attempts(outcome: str) -> float:
    """The /metrics counter of notification attempts with this outcome (this process's)."""
    return REGISTRY.get_sample_value("madina_notifications_total", {"outcome": outcome}) or 0


def test_failures_are_retried_with_backoff(settings: Settings, receiver: Receiver) -> None:
    receiver.failures = 2
    failed, sent = attempts("failed"), attempts("sent")
    with running(settings, **FAST_RETRIES) as client:
        sid = subscribe(client, receiver.url)
        create(client, 1)
        got = receiver.wait(1)[0]
        assert got.body["data"][0]["id"] == "urn:ngsi-ld:Sensor:1"
        assert receiver.attempts == 3

        def settled() -> bool:
            return status(client, sid).get("timesFailed") == 2 and status(client, sid)[
                "timesSent"] == 3

        wait_until(settled, what="failures counted")
        assert (attempts("failed") - failed, attempts("sent") - sent) == (2, 1)
        notification = status(client, sid)
        assert notification["status"] == "ok"
        assert notification["lastFailure"] < notification["lastSuccess"]
        wait_until(lambda: client.app.state.store.subscriptions.pending() == 0, what="drained")


def test_the_same_notification_is_retried(settings: Settings, receiver: Receiver) -> None:
    """A retry resends the notification it failed with (same id): receivers can drop
    duplicates."""
    receiver.failures = 1
    receiver.fail_status = 503
    seen: list[str] = []
    with running(settings, **FAST_RETRIES) as client:
        client.app.state.notifier.deliverer.on_delivered = lambda d: seen.append(
            d.request["body"]["id"])
        subscribe(client, receiver.url)
        create(client, 1)
        got = receiver.wait(1)[0]
        wait_until(lambda: seen, what="delivery reported")
        assert seen == [got.body["id"]]


def test_giving_up_shows_on_the_subscription(settings: Settings, receiver: Receiver) -> None:
    receiver.failures = 10**6
    with running(settings, notification_max_attempts=3, **FAST_RETRIES) as client:
        sid = subscribe(client, receiver.url)
        create(client, 1)
        store = client.app.state.store.subscriptions
        wait_until(lambda: receiver.attempts >= 3 and store.pending() == 0, what="given up")
        wait_until(lambda: status(client, sid).get("timesFailed") == 3, what="counted")
        notification = status(client, sid)
        assert notification["status"] == "failed" and "lastSuccess" not in notification
        assert receiver.received == [] and receiver.attempts == 3


def test_a_dead_endpoint_does_not_delay_a_live_one(settings: Settings,
                                                   receiver: Receiver) -> None:
    """The dead one hangs every request until its timeout; the live one's notifications
    arrive as fast as with nobody else subscribed."""
    dead = BlackHole()
    try:
        with running(settings, notification_timeout=5.0) as client:
            subscribe(client, dead.url)
            subscribe(client, receiver.url)
            latencies = []
            for n in range(20):
                start = time.monotonic()
                create(client, n)
                receiver.entities(n + 1)
                latencies.append(time.monotonic() - start)
            lanes = client.app.state.notifier.deliverer.lanes
            dead_port = f":{urlsplit(dead.url).port}"
            dead_lane = next(lane for key, lane in lanes.items() if key.endswith(dead_port))
            assert dead_lane.active >= 1  # still waiting on the black hole
        assert statistics.median(latencies) < 0.5, latencies
        assert max(latencies) < 2.0, latencies
    finally:
        dead.close()


def test_a_restart_loses_no_pending_notification(settings: Settings, receiver: Receiver) -> None:
    receiver.failures = 10**6  # down while the first app runs
    with running(settings, **FAST_RETRIES) as client:
        subscribe(client, receiver.url)
        for n in range(3):
            create(client, n)
        store = client.app.state.store.subscriptions
        wait_until(lambda: receiver.attempts >= 3, what="attempts")
        assert store.pending() >= 1
    receiver.failures = 0  # back up; a new process takes the rows over at once
    with running(settings, **FAST_RETRIES) as client:
        ids = sorted(e["id"] for e in receiver.entities(3, timeout=15))
        assert ids == [f"urn:ngsi-ld:Sensor:{n}" for n in range(3)]
        wait_until(lambda: client.app.state.store.subscriptions.pending() == 0, what="drained")


def test_changes_made_while_no_notifier_ran_are_notified(settings: Settings,
                                                         receiver: Receiver) -> None:
    with running(settings) as client:
        subscribe(client, receiver.url)
    store = settings.store()  # a process without a notifier (e.g. a batch import)
    store.open()
    try:
        Broker(store).create("", sensor(7), Terms())
    finally:
        store.close()
    with running(settings):
        assert receiver.entities(1)[0]["id"] == "urn:ngsi-ld:Sensor:7"


def test_a_standby_takes_over(settings: Settings, receiver: Receiver) -> None:
    """Two worker processes on one database: one matches; when it stops, the other does."""
    first = TestClient(create_app(settings), headers=ADMIN).__enter__()
    try:
        subscribe(first, receiver.url)
        wait_until(lambda: first.app.state.notifier.leading is not None, what="a leader")
        with TestClient(create_app(settings), headers=ADMIN) as second:
            assert second.app.state.notifier.leading is None
            create(second, 1)  # written through the standby, matched by the leader
            assert receiver.entities(1)[0]["id"] == "urn:ngsi-ld:Sensor:1"
            first.__exit__(None, None, None)
            first = None
            wait_until(lambda: second.app.state.notifier.leading is not None, timeout=15,
                       what="the standby leading")
            create(second, 2)
            wait_until(lambda: any(e["id"] == "urn:ngsi-ld:Sensor:2" for r in receiver.received
                                   for e in r.body["data"]), what="Sensor:2 notified")
    finally:
        if first is not None:
            first.__exit__(None, None, None)


class MqttListener:
    def __init__(self, url: str, topic: str) -> None:
        parts = urlsplit(url)
        self.messages: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *args: self._ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append(json.loads(m.payload))
        self.client.connect(parts.hostname, parts.port or 1883)
        self.client.loop_start()
        assert self._ready.wait(5), "MQTT subscription not acknowledged"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.requires_service("mqtt")
@pytest.mark.parametrize("version", ["mqtt5.0", "mqtt3.1.1"])
def test_mqtt_notifications(settings: Settings, version: str) -> None:
    url = require_mqtt()
    topic = f"madina/test/{uuid.uuid4().hex}"
    listener = MqttListener(url, topic)
    try:
        with running(settings) as client:
            sid = subscribe(client, f"{url}/{topic}", receiverInfo=[
                {"key": "X-Origin", "value": "madina"}], notifierInfo=[
                {"key": "MQTT-Version", "value": version}, {"key": "MQTT-QoS", "value": "1"}])
            create(client, 1, 21.5)
            wait_until(lambda: listener.messages, what="an MQTT notification")
            message = listener.messages[0]
            assert set(message) == {"metadata", "body"}
            assert message["metadata"]["Content-Type"] == "application/json"
            assert message["metadata"]["X-Origin"] == "madina"
            assert message["body"]["subscriptionId"] == sid
            assert message["body"]["data"] == [
                {"id": "urn:ngsi-ld:Sensor:1", "type": "Sensor", "temperature": 21.5}]
    finally:
        listener.close()


def test_an_unreachable_mqtt_broker_is_retried(settings: Settings) -> None:
    with running(settings, notification_max_attempts=2, notification_timeout=0.5,
                 **FAST_RETRIES) as client:
        sid = subscribe(client, "mqtt://127.0.0.1:9/nowhere")  # nothing listens on port 9
        create(client, 1)
        wait_until(lambda: status(client, sid).get("timesFailed") == 2, timeout=15,
                   what="failures counted")
        assert status(client, sid)["status"] == "failed"
        wait_until(lambda: client.app.state.store.subscriptions.pending() == 0, what="dropped")


def test_a_failing_subscription_does_not_stop_the_others(settings: Settings, receiver: Receiver,
                                                          monkeypatch) -> None:
    """A bug rendering one subscription's notification (injected here) is logged and skipped:
    the change still notifies the others and the notifier moves on."""
    from madina.context import notifications

    render = notifications.notified_entity

    def broken_for_one(event, params, *args):
        if params["endpoint"]["uri"].endswith("/broken"):
            raise RuntimeError("injected")
        return render(event, params, *args)

    monkeypatch.setattr(notifications, "notified_entity", broken_for_one)
    with running(settings) as client:
        subscribe(client, receiver.url.replace("/notify", "/broken"))
        subscribe(client, receiver.url)
        create(client, 1)
        create(client, 2)
        assert [e["id"] for e in receiver.entities(2)] == [
            "urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]
        assert {r.path for r in receiver.received} == {"/notify"}


def test_a_subscription_is_notified_in_commit_order(settings: Settings,
                                                    receiver: Receiver) -> None:
    """While its first notification is in flight, a subscription's next one waits, even
    though its endpoint's lane could send several at once: they arrive in commit order."""
    receiver.hold_first = 0.5
    with running(settings) as client:
        subscribe(client, receiver.url)
        create(client, 1)
        wait_until(lambda: receiver.attempts == 1, what="the first notification in flight")
        create(client, 2)
        assert [e["id"] for e in receiver.entities(2)] == [
            "urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]


def test_with_no_subscription_changes_are_passed_over_unread(settings: Settings,
                                                             receiver: Receiver) -> None:
    """Nobody to notify: the notifier moves to the newest change without reading any (the
    IoT pipeline's thousands a second), and a subscription made later still gets the changes
    that follow it."""
    with running(settings) as client:
        notifier = client.app.state.notifier
        wait_until(lambda: notifier.leading is not None, what="a leader")
        matched: list[str] = []
        match = notifier.matcher.match
        notifier.matcher.match = lambda events: matched.extend(
            e.entity_id for e in events) or match(events)
        for n in range(5):
            create(client, n)
        newest = client.app.state.store.latest_change_cursor()
        wait_until(lambda: notifier.cursor == newest, what="the cursor at the newest change")
        assert matched == []
        subscribe(client, receiver.url)
        create(client, 9)
        assert [e["id"] for e in receiver.entities(1)] == ["urn:ngsi-ld:Sensor:9"]
        assert matched == ["urn:ngsi-ld:Sensor:9"]
