"""The gateway's MQTT client: subscribes to the agents' topics, hands messages to the inbox,
acknowledges each only once its measures are committed, publishes commands.

paho-mqtt 2 with MQTT 5 and manual acknowledgements: a QoS 1 message whose PUBACK never left
(the process died, the database was away) stays with the MQTT broker, which delivers it again
when the client comes back. For that the session must outlive the connection: the client
connects with a fixed client id, `clean_start` off and a session expiry, so messages published
while Madina is down wait for it too. With several worker processes each takes its own client id
(`<id>-0`, `<id>-1`, ...: the lowest slot no live process holds, so a restarted worker gets its
session back) and they share the subscriptions (`$share/<group>/...`): each message is
consumed once, by one worker.
"""

from __future__ import annotations

import fcntl
import hashlib
import ssl
import tempfile
import threading
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from madina.iot import topics
from madina.iot.ingest import Inbox, Message, Outcome

log = structlog.get_logger("madina.iot.mqtt")

RECEIVE_MAXIMUM = 20_000
"""Unacknowledged messages the MQTT broker may have in flight to one worker: the ingest queue's
bound, so a slow database slows the broker's sending instead of filling memory."""
MAX_SLOTS = 64


class MqttClient:
    def __init__(self, url: str, client_id: str, share_group: str, inbox: Inbox,
                 session_expiry_s: int, version: str = "5") -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp"):
            raise ValueError(f"MADINA_MQTT_URL must be mqtt://host:port or mqtts://, not {url!r}")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.share_group = share_group
        self.session_expiry_s = session_expiry_s
        self.v5 = version == "5"
        self.inbox = inbox
        self.client_id, self._slot = claim_client_id(client_id, f"{self.host}:{self.port}")
        self.connected = threading.Event()
        client = self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id,
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            clean_session=None if self.v5 else False, manual_ack=True,
        )
        if parts.username:
            client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(100_000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers)."""
        if not self.v5:  # MQTT 3.1.1: the session outlives the connection (clean_session off)
            self.client.connect_async(self.host, self.port, keepalive=30)
            self.client.loop_start()
            return
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry_s
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False,
                                  properties=properties)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect, keeping the session: what was not acknowledged is delivered again."""
        self.client.disconnect()
        self.client.loop_stop()
        if self._slot is not None:
            self._slot.close()
            self._slot = None

    def publish(self, topic: str, payload: bytes | str) -> bool:
        """Publish at QoS 1; False when not connected (paho sends it after reconnecting)."""
        info = self.client.publish(topic, payload, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # -- callbacks, on paho's network thread -------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker refused the connection", reason=str(reason_code))
            return
        options = SubscribeOptions(qos=1) if self.v5 else 1
        client.subscribe([(topics.shared(f, self.share_group), options)
                          for f in topics.SUBSCRIPTIONS])
        self.connected.set()
        log.info("MQTT connected", broker=f"{self.host}:{self.port}", client_id=self.client_id,
                 session_present=flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("MQTT connection lost; reconnecting", reason=str(reason_code))

    def _on_message(self, client, userdata, message) -> None:
        topic = topics.parse(message.topic)
        ack = _acknowledger(client, message.mid, message.qos)
        if topic is None:  # not ours (an overlapping subscription): nothing to keep
            ack(Outcome("malformed"))
            return
        self.inbox.put(Message("mqtt", topic.apikey, topic.device_id, message.payload,
                               topic.form, topic.attribute, topic.results, done=ack))


def _acknowledger(client: mqtt.Client, mid: int, qos: int):
    def ack(outcome: Outcome) -> None:
        if qos:
            client.ack(mid, qos)

    return ack


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
