"""Measures of a provisioned device become NGSI-LD attributes (normalized form).

Values are converted to the type the device was provisioned with, the way the FIWARE IoT Agents
map them for NGSI-LD: numbers and booleans become Property values, `DateTime` a typed
`{"@type": "DateTime"}` value, `geo:point` (`"lat, lon"`) and `geo:json` a GeoProperty, and
`Relationship` an `object`. A type the agents do not know (`celsius`, `Percentage`) keeps the
value as sent. One bad value rejects only its own attribute: the good measures of the same
message still land, and the rejection carries the reason `bad_value` for the metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from madina.context.errors import BadRequestData
from madina.context.geo import validate_geometry
from madina.iot.payload import MalformedPayload, MeasureGroup, parse_timestamp


@dataclass(frozen=True)
class AttributeMapping:
    """How a device's short measure id (`t`) becomes an entity attribute (`temperature`)."""

    object_id: str
    name: str
    type: str = "Text"


@dataclass(frozen=True)
class StaticAttribute:
    """An attribute the device never measures but every update carries (its location, its owner)."""

    name: str
    type: str
    value: Any


@dataclass(frozen=True)
class Device:
    """The part of a provisioned device that measure conversion needs."""

    device_id: str
    entity_name: str
    entity_type: str
    attributes: tuple[AttributeMapping, ...] = ()
    static_attributes: tuple[StaticAttribute, ...] = ()
    timezone: str = "UTC"
    zone: tzinfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Resolved once at provisioning, so an unknown zone fails there and not per measure.
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        object.__setattr__(self, "zone", zone)

    def mapping(self, object_id: str) -> AttributeMapping | None:
        """The mapping for a measure id; the agents also accept the attribute's own name."""
        for mapping in self.attributes:
            if mapping.object_id == object_id:
                return mapping
        for mapping in self.attributes:
            if mapping.name == object_id:
                return mapping
        return None


@dataclass(frozen=True)
class Rejection:
    """One attribute that did not convert; `reason` is a metric label, `detail` is for the log."""

    object_id: str
    reason: str
    detail: str


@dataclass
class Conversion:
    """The attributes of one entity update, and the measures of the message that were dropped."""

    attributes: dict[str, dict[str, Any]]
    rejected: list[Rejection]


def convert(
    device: Device, group: MeasureGroup, *, received_at: datetime, keep_unknown: bool = True
) -> Conversion:
    """The NGSI-LD attribute fragments for one measure group of `device`.

    `observedAt` is the device's own timestamp when it sent one (local times read in the device's
    timezone), else `received_at`. Unknown measure ids keep their raw id as the attribute name,
    as the agents do, unless `keep_unknown` is off.
    """
    observed_at = instant(group.timestamp or received_at, device.zone)
    attributes: dict[str, dict[str, Any]] = {}
    rejected: list[Rejection] = []
    for object_id, raw in group.values.items():
        mapping = device.mapping(object_id)
        if mapping is None:
            if not keep_unknown:
                rejected.append(Rejection(object_id, "unknown_attribute", ""))
                continue
            mapping = AttributeMapping(object_id, object_id, "Property")
        try:
            fragment = attribute(mapping.type, raw, device.zone)
        except ValueError as error:
            rejected.append(Rejection(object_id, "bad_value", str(error)[:120]))
            continue
        fragment["observedAt"] = observed_at
        attributes[mapping.name] = fragment
    for static in device.static_attributes:
        try:
            attributes.setdefault(static.name, attribute(static.type, static.value, device.zone))
        except ValueError as error:
            rejected.append(Rejection(static.name, "bad_value", str(error)[:120]))
    return Conversion(attributes, rejected)


def instant(moment: datetime, zone: tzinfo) -> str:
    """UTC ISO 8601 with microseconds and `Z`, the store's canonical form (docs/internals.md)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def attribute(type_name: str, raw: Any, zone: tzinfo) -> dict[str, Any]:
    """One normalized attribute for a provisioned type; ValueError says why the value is wrong."""
    geo = _GEO.get(type_name)
    if geo is not None:
        return {"type": "GeoProperty", "value": geo(raw)}
    if type_name == "Relationship":
        if not isinstance(raw, str) or ":" not in raw:
            raise ValueError(f"a Relationship needs a URI, got {raw!r}")
        return {"type": "Relationship", "object": raw}
    if type_name in _DATE_TYPES:
        return {"type": "Property", "value": {"@type": "DateTime", "@value": _date_time(raw, zone)}}
    convert_value = _SCALARS.get(type_name)
    value = raw if convert_value is None else convert_value(raw)
    return {"type": "Property", "value": value}


def _number(raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise ValueError(f"not a number: {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    return _float(raw)


def _float(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"not a number: {raw!r}")
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except (ValueError, OverflowError):
        raise ValueError(f"not a number: {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {raw!r}")
    return value


def _integer(raw: Any) -> int:
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    value = _number(raw)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"not an integer: {raw!r}")
    return int(value)


_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no"})


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"not a boolean: {raw!r}")


def _text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"not text: {raw!r}")
    return str(raw)


def _date_time(raw: Any, zone: tzinfo) -> str:
    try:
        return instant(parse_timestamp(raw), zone)
    except MalformedPayload:
        raise ValueError(f"not an ISO 8601 date-time: {raw!r}") from None


def _point(raw: Any) -> dict[str, Any]:
    """`geo:point` is `"lat, lon"` (latitude first, as the agents send it); GeoJSON is lon, lat."""
    if not isinstance(raw, str) or raw.count(",") != 1:
        raise ValueError(f"geo:point needs 'lat, lon', got {raw!r}")
    latitude, longitude = (_float(part) for part in raw.split(","))
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError(f"geo:point out of range: {raw!r}")
    return {"type": "Point", "coordinates": [longitude, latitude]}


def _geojson(raw: Any) -> dict[str, Any]:
    """A GeoJSON geometry, as an object (JSON devices) or its text (UltraLight devices)."""
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ValueError("geo:json text is not JSON") from None
    try:
        validate_geometry(raw)  # the same rules as a GeoProperty written through the API
    except BadRequestData as exc:
        raise ValueError(f"geo:json: {exc.detail}") from None
    return raw


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "Number": _number,
    "Integer": _integer,
    "Float": _float,
    "Boolean": _boolean,
    "Text": _text,
    "String": _text,
}
_DATE_TYPES = frozenset({"DateTime", "ISO8601"})
_GEO: dict[str, Callable[[Any], dict[str, Any]]] = {
    "geo:point": _point,
    "geo:json": _geojson,
    "GeoProperty": _geojson,
}
