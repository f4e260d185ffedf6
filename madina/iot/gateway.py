"""The IoT gateway of one worker process: the ingest pipeline, the MQTT client, commands.

`create_app` builds one and the app's lifespan starts and stops it. Commands follow the agents'
cycle on the device's entity: sending one sets `<cmd>_status` to PENDING (ERROR if it cannot be
sent), the device's answer on `cmdexe` (or, for UltraLight over HTTP, posted where measures go)
sets `<cmd>_status` to OK and `<cmd>_info` to the result. MQTT devices get the command at once
on `/<apikey>/<device>/cmd`; HTTP devices poll for it (`getCmd=1`), which marks it DELIVERED.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
import structlog

from madina import metrics
from madina.context.broker import Broker, now_iso
from madina.context.jsonld import TermMap
from madina.iot import json_payloads, topics, ultralight
from madina.iot.ingest import Inbox, Ingestor, Message, Outcome, Runner
from madina.iot.mqtt import MqttClient
from madina.iot.provisioning import JSON, MQTT, DeviceProfile, WrongSyntax
from madina.iot.registry import Registry
from madina.store.base import Store
from madina.tasks import cancel

log = structlog.get_logger("madina.iot")

INBOX_LIMIT = 100_000
"""Messages waiting for a commit before HTTP measures are answered 503 (MQTT is bounded by the
receive maximum it announces)."""
DRAIN_TIMEOUT_S = 5.0


class CommandUnavailable(RuntimeError):
    """A command that cannot reach its device (MQTT device without an MQTT broker)."""


class Gateway:
    def __init__(
        self,
        store: Store,
        broker: Broker,
        terms: TermMap,
        run_in_store: Runner,
        *,
        mqtt_url: str | None = None,
        mqtt_client_id: str = "madina",
        mqtt_share_group: str = "madina",
        mqtt_session_expiry_s: int = 7 * 24 * 3600,
        mqtt_version: str = "5",
        batch_max: int = 1000,
        batch_wait: float = 0.005,
        max_bytes: int = 64 * 1024,
    ) -> None:
        self.store = store
        self.broker = broker
        self.terms = terms
        self.run_in_store = run_in_store
        self.registry = Registry(store.iot)
        self.mqtt_url = mqtt_url
        self.mqtt_client_id = mqtt_client_id
        self.mqtt_share_group = mqtt_share_group
        self.mqtt_session_expiry_s = mqtt_session_expiry_s
        self.mqtt_version = mqtt_version
        self.options = {"batch_max": batch_max, "batch_wait": batch_wait, "max_bytes": max_bytes}
        self.inbox: Inbox | None = None
        self.ingestor: Ingestor | None = None
        self.mqtt: MqttClient | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.inbox = Inbox(asyncio.get_running_loop(), INBOX_LIMIT)
        self.ingestor = Ingestor(self.broker, self.registry, self.terms, self.inbox,
                                 **self.options)
        self._task = asyncio.create_task(self.ingestor.run(), name="iot-ingest")
        if self.mqtt_url:
            self.mqtt = MqttClient(self.mqtt_url, self.mqtt_client_id, self.mqtt_share_group,
                                   self.inbox, self.mqtt_session_expiry_s, self.mqtt_version)
            await self.mqtt.start()

    async def stop(self) -> None:
        """Commit what has arrived, then disconnect (the rest is delivered again later)."""
        await cancel(self._task)
        if self.ingestor is not None and self.inbox is not None and len(self.inbox):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain(), DRAIN_TIMEOUT_S)
        if self.mqtt is not None:
            await self.mqtt.stop()

    async def _drain(self) -> None:
        assert self.ingestor is not None and self.inbox is not None
        while len(self.inbox):
            await self.ingestor.run_batch(self.inbox.take(self.ingestor.batch_max))

    async def submit(self, message: Message) -> Outcome:
        """An HTTP measure: answered once committed (or refused)."""
        if self.inbox is None or self.inbox.full():
            return Outcome("overloaded")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        message.done = future.set_result
        self.inbox.put(message)
        return await future

    # -- commands ---------------------------------------------------------------------------
    def send_commands(self, profile: DeviceProfile, commands: dict[str, Any]) -> None:
        """Send each command (already checked against the provisioning) and mark it PENDING;
        runs where the store wants it."""
        payloads = {name: command_payload(profile, name, value)
                    for name, value in commands.items()}
        if profile.transport == MQTT:
            if self.mqtt is None:
                raise CommandUnavailable("the device takes commands over MQTT, and no MQTT "
                                         "broker is configured (MADINA_MQTT_URL)")
            status = {name: "PENDING" for name in commands}
            self.set_status(profile, status)
            topic = topics.command_topic(profile.apikey, profile.device_id)
            for payload in payloads.values():
                self.mqtt.publish(topic, payload)
                metrics.COMMANDS.labels("mqtt", "sent").inc()
            return
        if profile.endpoint:
            raise CommandUnavailable("commands pushed to an HTTP endpoint are not supported; "
                                     "leave out endpoint and let the device poll")
        for name, value in commands.items():
            self.store.iot.queue_command(profile.apikey, profile.device_id, name, value)
            metrics.COMMANDS.labels("http", "queued").inc()
        self.set_status(profile, {name: "PENDING" for name in commands})

    def take_commands(self, profile: DeviceProfile) -> list[tuple[str, Any]]:
        """A polling device's waiting commands, marked DELIVERED as they leave."""
        commands = self.store.iot.take_commands(profile.apikey, profile.device_id)
        if commands:
            self.set_status(profile, {name: "DELIVERED" for name, _ in commands})
            metrics.COMMANDS.labels("http", "delivered").inc(len(commands))
        return commands

    def set_status(self, profile: DeviceProfile, status: dict[str, str],
                   info: dict[str, str] | None = None) -> None:
        now = now_iso()
        attributes: dict[str, Any] = {
            f"{name}_status": {"type": "Property", "value": value, "observedAt": now}
            for name, value in status.items()
        }
        for name, value in (info or {}).items():
            attributes[f"{name}_info"] = {"type": "Property", "value": value, "observedAt": now}
        body = {"id": profile.entity_id, "type": profile.device.entity_type, **attributes}
        result = self.broker.batch_upsert(profile.tenant, [(body, self.terms)], replace=False)
        if result.errors:
            log.warning("command status not written", device=profile.device_id,
                        error=result.errors[0]["error"].get("detail"))


def command_payload(
    profile: DeviceProfile, name: str, value: Any, form: str | None = None
) -> bytes:
    """The command as the device reads it: `{"<cmd>": value}` for JSON devices, else the
    UltraLight line `<device>@<cmd>|<value>` (an object's members as `k=v|k=v`). `form`
    overrides the device's protocol (a device polling on /iot/d reads UltraLight)."""
    if (form or profile.protocol) == JSON:
        return json_payloads.format_command(name, value)
    if isinstance(value, dict):
        text = "|".join(f"{k}={_text(v)}" for k, v in value.items())
    else:
        text = _text(value)
    try:
        return ultralight.format_command(profile.device_id, name, text).encode()
    except ValueError as error:
        raise WrongSyntax(str(error)) from None


def polling_answer(profile: DeviceProfile, commands: list[tuple[str, Any]], form: str) -> bytes:
    """What a polling device gets: UltraLight lines joined by `#`, or one JSON object."""
    if form == JSON:
        return orjson.dumps(dict(commands))
    return b"#".join(command_payload(profile, name, value, form) for name, value in commands)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
