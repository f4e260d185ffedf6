"""The MQTT topics of the FIWARE IoT Agents, both directions.

Devices publish measures on `/<protocol>/<apikey>/<device>/attrs` (several measures) or
`.../attrs/<attribute>` (one), and command results on `.../cmdexe`, where `<protocol>` is `ul`
(UltraLight) or `json`; the agents also still accept the older topics without the protocol
level (`/<apikey>/<device>/attrs`), whose payload format is then the device's provisioned
protocol. Commands go down on `/<apikey>/<device>/cmd`, without a protocol level, as the agents
publish them (iotagent-json's user manual, MQTT binding).
"""

from __future__ import annotations

from dataclasses import dataclass

from madina.iot.provisioning import JSON, ULTRALIGHT

PREFIXES = {"ul": ULTRALIGHT, "json": JSON}
SUBSCRIPTIONS = (
    "/ul/+/+/attrs", "/ul/+/+/attrs/+", "/ul/+/+/cmdexe",
    "/json/+/+/attrs", "/json/+/+/attrs/+", "/json/+/+/cmdexe",
    "/+/+/attrs", "/+/+/attrs/+", "/+/+/cmdexe",
)


@dataclass(frozen=True, slots=True)
class Topic:
    apikey: str
    device_id: str
    form: str | None
    """ULTRALIGHT or JSON from the protocol level; None on a topic without one."""
    attribute: str | None = None
    results: bool = False


def parse(topic: str) -> Topic | None:
    """The topic's parts, or None for a topic that is none of the above."""
    levels = topic.split("/")
    if len(levels) < 4 or levels[0] != "":
        return None
    form = PREFIXES.get(levels[1]) if len(levels) >= 5 else None
    rest = levels[2:] if form is not None else levels[1:]
    if len(rest) < 3 or not rest[0] or not rest[1]:
        return None
    apikey, device_id, kind, *tail = rest
    if kind == "attrs" and not tail:
        return Topic(apikey, device_id, form)
    if kind == "attrs" and len(tail) == 1 and tail[0]:
        return Topic(apikey, device_id, form, attribute=tail[0])
    if kind == "cmdexe" and not tail:
        return Topic(apikey, device_id, form, results=True)
    return None


def command_topic(apikey: str, device_id: str) -> str:
    return f"/{apikey}/{device_id}/cmd"


def shared(filter_: str, group: str) -> str:
    """The filter as an MQTT 5 shared subscription: each message goes to one member."""
    return f"$share/{group}/{filter_}" if group else filter_
