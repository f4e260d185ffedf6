"""Service groups and devices as the FIWARE IoT Agents' provisioning API takes them.

Bodies are validated here into plain documents (what the store keeps and `GET` answers) and
read back into a `DeviceProfile`: everything the gateway needs to turn one device's messages
into entity updates, with the group's settings filled in where the device has none (the
agents' inheritance: entity type, attributes, static attributes, commands, `explicitAttrs`,
timezone, protocol, transport).

Field names and defaults follow iotagent-node-lib's `doc/api.md` (config group and device
datamodels). Expressions (JEXL), lazy attributes, `cbHost` and trust tokens have no meaning in
Madina: they are accepted and kept, so a provisioning script written for an agent runs
unchanged, but play no part; an `explicitAttrs` expression (text) is refused rather than
silently read as false.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from madina.iot.measures import AttributeMapping, Device, StaticAttribute

DEFAULT_SERVICE_PATH = "/"
UL_RESOURCE = "/iot/d"
JSON_RESOURCE = "/iot/json"
ULTRALIGHT = "ul"
JSON = "json"
MQTT = "MQTT"
HTTP = "HTTP"
NGSI_LD_PREFIX = "urn:ngsi-ld:"
MAX_TEXT = 256
"""Longest id, apikey, resource or name accepted; long enough for any real one."""

GROUP_FIELDS = frozenset({
    "apikey", "resource", "entity_type", "type", "attributes", "static_attributes", "commands",
    "lazy", "internal_attributes", "explicitAttrs", "autoprovision", "timezone", "protocol",
    "transport", "timestamp", "cbHost", "trust", "expressionLanguage", "entityNameExp",
    "ngsiVersion", "defaultEntityNameConjunction", "description", "service", "subservice",
    "payloadType",
})
DEVICE_FIELDS = frozenset({
    "device_id", "entity_name", "entity_type", "apikey", "protocol", "transport", "timezone",
    "attributes", "static_attributes", "commands", "lazy", "internal_attributes",
    "explicitAttrs", "endpoint", "timestamp", "polling", "expressionLanguage", "ngsiVersion",
    "service", "service_path", "payloadType",
})
TOPIC_LEVELS = frozenset({"apikey", "device_id"})
"""Values that are one level of the MQTT topics (`/<apikey>/<device_id>/attrs`)."""
FIXED_DEVICE_FIELDS = ("device_id", "entity_name", "entity_type")
"""What `PUT /iot/devices/{id}` may not change: they tie the device to its entity."""


class WrongSyntax(ValueError):
    """A provisioning body the agents would answer `400 WRONG_SYNTAX` to."""


@dataclass(frozen=True)
class Command:
    name: str
    type: str = "command"


@dataclass(frozen=True)
class DeviceProfile:
    """One device as the gateway uses it: where its measures go and how they convert."""

    tenant: str
    service_path: str
    apikey: str
    device: Device
    protocol: str
    """ULTRALIGHT or JSON: the format of its commands (and of measures on prefix-less topics)."""
    transport: str
    """MQTT or HTTP: how commands reach it (HTTP devices poll, or have an `endpoint`)."""
    commands: tuple[Command, ...] = ()
    endpoint: str | None = None
    autoprovisioned: bool = False

    @property
    def device_id(self) -> str:
        return self.device.device_id

    @property
    def entity_id(self) -> str:
        return self.device.entity_name

    def command(self, name: str) -> Command | None:
        return next((c for c in self.commands if c.name == name), None)


# -- validation ------------------------------------------------------------------------------
def parse_group(body: Any) -> dict[str, Any]:
    """A service group's document from one item of `{"services": [...]}`."""
    doc = _object(body, "a service group", GROUP_FIELDS)
    doc["apikey"] = _text(doc.get("apikey"), "apikey")
    doc["resource"] = _text(doc.get("resource"), "resource")
    if "type" in doc and "entity_type" not in doc:  # older agents' name for it
        doc["entity_type"] = doc.pop("type")
    doc["entity_type"] = _text(doc.get("entity_type"), "entity_type")
    _check_common(doc)
    if "autoprovision" in doc and not isinstance(doc["autoprovision"], bool):
        raise WrongSyntax("autoprovision must be true or false")
    return doc


def parse_device(body: Any) -> dict[str, Any]:
    """A device's document from one item of `{"devices": [...]}`."""
    doc = _object(body, "a device", DEVICE_FIELDS)
    doc["device_id"] = _text(doc.get("device_id"), "device_id")
    for name in ("entity_name", "entity_type", "apikey", "endpoint"):
        if name in doc:
            doc[name] = _text(doc[name], name)
    _check_common(doc)
    return doc


def update_device(old: dict[str, Any], body: Any) -> dict[str, Any]:
    """The device after `PUT /iot/devices/{id}`: the body's fields replace the old ones."""
    patch = _object(body, "a device update", DEVICE_FIELDS)
    for name in FIXED_DEVICE_FIELDS:
        if name in patch and patch[name] != old.get(name):
            raise WrongSyntax(f"{name} cannot be changed")
    if "apikey" in patch and patch["apikey"] != old.get("apikey"):
        raise WrongSyntax("apikey cannot be changed")
    return parse_device({**old, **patch})


def update_group(old: dict[str, Any], body: Any) -> dict[str, Any]:
    """The group after `PUT /iot/services`: only the fields given change; its keys stay."""
    patch = _object(body, "a service group update", GROUP_FIELDS)
    for name in ("apikey", "resource"):
        if name in patch and patch[name] != old[name]:
            raise WrongSyntax(f"{name} identifies the group and cannot be changed")
    return parse_group({**old, **patch})


def _object(body: Any, what: str, fields: frozenset[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise WrongSyntax(f"{what} must be a JSON object")
    return {k: v for k, v in body.items() if k in fields}


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise WrongSyntax(f"{name} must be a non-empty string of at most {MAX_TEXT} characters")
    if any(ord(c) < 32 for c in value):
        raise WrongSyntax(f"{name} cannot contain control characters")
    if name in TOPIC_LEVELS and any(c in value for c in "/#+"):
        raise WrongSyntax(f"{name} {value!r} cannot be one level of an MQTT topic")
    return value


def _check_common(doc: dict[str, Any]) -> None:
    for name in ("attributes", "static_attributes", "commands", "lazy"):
        items = doc.setdefault(name, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise WrongSyntax(f"{name} must be a list of objects")
        for item in items:
            _text(item.get("name"), f"every member of {name} needs a name, and its name")
            if "type" in item and not isinstance(item["type"], str):
                raise WrongSyntax(f"{name}: type must be a string")
            if name == "attributes" and "object_id" in item:
                _text(item["object_id"], "object_id")
            if "metadata" in item and not isinstance(item["metadata"], dict):
                raise WrongSyntax(f"{name}: metadata must be an object")
            if name == "static_attributes" and "value" not in item:
                raise WrongSyntax(f"static attribute {item['name']!r} has no value")
    if "explicitAttrs" in doc and not isinstance(doc["explicitAttrs"], bool):
        raise WrongSyntax("explicitAttrs: only true or false is supported (no expressions)")
    timezone = doc.get("timezone")
    if timezone is not None:
        try:
            Device("check", "urn:x:y", "T", timezone=_text(timezone, "timezone"))
        except ValueError as error:
            raise WrongSyntax(str(error)) from None
    for name in ("protocol", "transport"):
        if name in doc and not isinstance(doc[name], str):
            raise WrongSyntax(f"{name} must be a string")
    transport = doc.get("transport")
    if transport is not None and transport.upper() not in (MQTT, HTTP):
        raise WrongSyntax("transport must be MQTT or HTTP")


# -- profiles ---------------------------------------------------------------------------------
def profile(
    tenant: str,
    service_path: str,
    apikey: str,
    device_doc: dict[str, Any],
    group_doc: dict[str, Any] | None,
    *,
    autoprovisioned: bool = False,
) -> DeviceProfile:
    """The device with its group's settings filled in (the device's own win)."""
    group = group_doc or {}
    entity_type = device_doc.get("entity_type") or group.get("entity_type")
    if not entity_type:
        raise WrongSyntax("the device has no entity_type and no service group gives one")
    device_id = device_doc["device_id"]
    entity_id = entity_name(device_doc.get("entity_name"), entity_type, device_id)
    attributes = _merged(group.get("attributes", []), device_doc.get("attributes", []))
    static = _merged(group.get("static_attributes", []), device_doc.get("static_attributes", []))
    commands = _merged(group.get("commands", []), device_doc.get("commands", []))
    explicit = device_doc.get("explicitAttrs", group.get("explicitAttrs", False))
    device = Device(
        device_id,
        entity_id,
        entity_type,
        attributes=tuple(
            AttributeMapping(a.get("object_id") or a["name"], a["name"], a.get("type", "Text"),
                             a.get("metadata"))
            for a in attributes
        ),
        static_attributes=tuple(
            StaticAttribute(s["name"], s.get("type", "Text"), s["value"], s.get("metadata"))
            for s in static
        ),
        timezone=device_doc.get("timezone") or group.get("timezone") or "UTC",
        explicit_attrs=bool(explicit),
    )
    protocol = protocol_of(device_doc, group)
    transport = (device_doc.get("transport") or group.get("transport")
                 or (MQTT if protocol == JSON else HTTP)).upper()
    return DeviceProfile(
        tenant, service_path, apikey, device, protocol, transport,
        tuple(Command(c["name"], c.get("type", "command")) for c in commands),
        device_doc.get("endpoint"), autoprovisioned,
    )


def entity_name(name: str | None, entity_type: str, device_id: str) -> str:
    """The entity id: the provisioned name, made a URN as the NGSI-LD agents do when it is not
    one (`urn:ngsi-ld:<type>:<name>`); without a name, `urn:ngsi-ld:<type>:<device id>`."""
    name = name or device_id
    return name if name.startswith(NGSI_LD_PREFIX) else f"{NGSI_LD_PREFIX}{entity_type}:{name}"


def protocol_of(device_doc: dict[str, Any], group_doc: dict[str, Any]) -> str:
    """JSON for the JSON agent's protocol names or resource, else UltraLight."""
    named = (device_doc.get("protocol") or group_doc.get("protocol") or "").upper()
    if "JSON" in named or group_doc.get("resource") == JSON_RESOURCE:
        return JSON
    return ULTRALIGHT


def _merged(group_items: list[dict], device_items: list[dict]) -> list[dict]:
    """The group's items and the device's, a device item replacing a group item of its name."""
    merged = {item["name"]: item for item in group_items}
    merged.update({item["name"]: item for item in device_items})
    return list(merged.values())
