"""Measures of a provisioned device become NGSI-LD attributes (normalized form).

Values are converted to the type the device was provisioned with, the way the FIWARE IoT Agent
library maps them for NGSI-LD (`convertAttrNGSILD` in iotagent-node-lib; type names are matched
without regard to case): `Text`, `String`, `Property` keep the value as sent; `Number`,
`Integer`, `Float` and `Boolean` become JSON numbers and booleans; `DateTime`, `Date`, `Time` a
typed `{"@type": ..., "@value": ...}` value; `geo:point`, `geo:json`, `Point`, `LineString`, …
a GeoProperty; `Relationship` an `object`; `LanguageProperty` a `languageMap`; any other type
name (`celsius`, `Percentage`) the typed value `{"@type": "<type>", "@value": <value>}`.

Geometries given as text or arrays are read as the NGSI-LD agents read them: `"24.94, 60.17"` or
`[24.94, 60.17]` are GeoJSON coordinates, longitude first (NGSI-v2's `geo:point` put latitude
first; the NGSI-LD agents do not). One bad value rejects only its own attribute: the good
measures of the same message still land, and the rejection carries the reason `bad_value` for
the metrics. A `null` measure is dropped (the agents drop it too), and counted.
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
    metadata: dict[str, Any] | None = None
    """Provisioned metadata (`{"unitCode": {"type": "Text", "value": "CEL"}}`), added to every
    instance of the attribute."""


@dataclass(frozen=True)
class StaticAttribute:
    """An attribute the device never measures but its entity carries (its location, owner)."""

    name: str
    type: str
    value: Any
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Device:
    """The part of a provisioned device that measure conversion needs."""

    device_id: str
    entity_name: str
    entity_type: str
    attributes: tuple[AttributeMapping, ...] = ()
    static_attributes: tuple[StaticAttribute, ...] = ()
    timezone: str = "UTC"
    explicit_attrs: bool = False
    """True: measures with no mapping are dropped (`explicitAttrs`), else stored as sent."""
    zone: tzinfo = field(init=False, repr=False, compare=False)
    static_names: frozenset[str] = field(init=False, repr=False, compare=False)
    """The names of the static attributes (a message of those alone updates nothing)."""
    _by_id: dict[str, AttributeMapping] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Resolved once at provisioning, so an unknown zone fails there and not per measure.
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        object.__setattr__(self, "zone", zone)
        object.__setattr__(self, "static_names",
                           frozenset(s.name for s in self.static_attributes))
        by_id = {m.name: m for m in reversed(self.attributes)}
        by_id.update({m.object_id: m for m in reversed(self.attributes)})
        object.__setattr__(self, "_by_id", by_id)

    def mapping(self, object_id: str) -> AttributeMapping | None:
        """The mapping for a measure id; the agents also accept the attribute's own name."""
        return self._by_id.get(object_id)


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


RESERVED = frozenset({"id", "type"})
"""Measure names that would collide with the entity's own members; the agents rename them."""


def convert(
    device: Device,
    group: MeasureGroup,
    *,
    received_at: datetime,
    with_static: bool = False,
) -> Conversion:
    """The NGSI-LD attribute fragments for one measure group of `device`.

    `observedAt` is the device's own timestamp when it sent one (local times read in the device's
    timezone), else `received_at`. Unknown measure ids keep their raw id as the attribute name,
    as the agents do, unless the device has `explicit_attrs`; `id` and `type` become
    `measure_id` and `measure_type`. Static attributes are added when `with_static` is set (an
    entity being created carries them; updates need not repeat them).
    """
    observed_at = instant(group.timestamp or received_at, device.zone)
    attributes: dict[str, dict[str, Any]] = {}
    rejected: list[Rejection] = []
    for object_id, raw in group.values.items():
        mapping = device.mapping(object_id)
        if mapping is None:
            if device.explicit_attrs:
                rejected.append(Rejection(object_id, "unknown_attribute", ""))
                continue
            name = f"measure_{object_id}" if object_id in RESERVED else object_id
            mapping = AttributeMapping(object_id, name, "Property")
        if raw is None:
            rejected.append(Rejection(object_id, "bad_value", "null"))
            continue
        try:
            fragment = attribute(mapping.type, raw, device.zone, mapping.metadata)
        except ValueError as error:
            rejected.append(Rejection(object_id, "bad_value", str(error)[:120]))
            continue
        fragment["observedAt"] = observed_at
        attributes[mapping.name] = fragment
    if with_static:
        static, bad = static_attributes(device)
        for name, fragment in static.items():
            attributes.setdefault(name, fragment)
        rejected.extend(bad)
    return Conversion(attributes, rejected)


def static_attributes(device: Device) -> tuple[dict[str, dict[str, Any]], list[Rejection]]:
    """The device's static attributes as NGSI-LD fragments, and those that do not convert."""
    attributes: dict[str, dict[str, Any]] = {}
    rejected: list[Rejection] = []
    for static in device.static_attributes:
        try:
            attributes[static.name] = attribute(
                static.type, static.value, device.zone, static.metadata
            )
        except ValueError as error:
            rejected.append(Rejection(static.name, "bad_value", str(error)[:120]))
    return attributes, rejected


def instant(moment: datetime, zone: tzinfo) -> str:
    """UTC ISO 8601 with microseconds and `Z`, the store's canonical form (docs/internals.md)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def attribute(
    type_name: str, raw: Any, zone: tzinfo, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One normalized attribute for a provisioned type; ValueError says why the value is wrong."""
    kind = type_name.lower()
    geometry = _GEOMETRIES.get(kind)
    if geometry is not None:
        fragment: dict[str, Any] = {"type": "GeoProperty", "value": _geometry(geometry, raw)}
    elif kind == "relationship":
        if not isinstance(raw, str) or ":" not in raw:
            raise ValueError(f"a Relationship needs a URI, got {raw!r}")
        fragment = {"type": "Relationship", "object": raw}
    elif kind == "languageproperty":
        if not isinstance(raw, dict) or not raw or not all(
            isinstance(v, str | list) for v in raw.values()
        ):
            raise ValueError(f"a LanguageProperty needs a language map, got {raw!r}")
        fragment = {"type": "LanguageProperty", "languageMap": raw}
    elif kind in _TEMPORAL:
        fragment = {"type": "Property", "value": {"@type": _TEMPORAL[kind],
                                                  "@value": _temporal(kind, raw, zone)}}
    elif kind in _AS_SENT:
        fragment = {"type": "Property", "value": raw}
    elif kind in _SCALARS:
        fragment = {"type": "Property", "value": _SCALARS[kind](raw)}
    else:
        if isinstance(raw, dict | list):
            raise ValueError(f"a {type_name} value must be text, a number or a boolean")
        fragment = {"type": "Property", "value": {"@type": type_name, "@value": raw}}
    if metadata:
        _add_metadata(fragment, metadata, zone)
    return fragment


def _add_metadata(fragment: dict[str, Any], metadata: dict[str, Any], zone: tzinfo) -> None:
    """`unitCode` is the standard member; other metadata become sub-properties."""
    for name, item in metadata.items():
        value = item.get("value") if isinstance(item, dict) else item
        if name == "unitCode":
            fragment["unitCode"] = str(value)
        elif name not in ("type", "value", "object", "observedAt") and value is not None:
            kind = item.get("type", "Property") if isinstance(item, dict) else "Property"
            fragment[name] = attribute(str(kind), value, zone)


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


def _temporal(kind: str, raw: Any, zone: tzinfo) -> str:
    try:
        moment = parse_timestamp(raw)
    except MalformedPayload:
        raise ValueError(f"not an ISO 8601 date-time: {raw!r}") from None
    text = instant(moment, zone)
    if kind == "date":
        return text[:10]
    if kind == "time":
        return text[11:19]
    return text


def _geometry(kind: str, raw: Any) -> dict[str, Any]:
    """A GeoJSON geometry: an object (JSON devices) or its text (UltraLight devices) as is,
    else coordinates as `"x, y, x, y"` text or a (nested) array of numbers, longitude first."""
    if isinstance(raw, str) and raw.lstrip().startswith("{"):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ValueError("geo:json text is not JSON") from None
    if not isinstance(raw, dict):
        raw = {"type": kind, "coordinates": _coordinates(kind, raw)}
    try:
        validate_geometry(raw)  # the same rules as a GeoProperty written through the API
    except BadRequestData as exc:
        raise ValueError(f"geometry: {exc.detail}") from None
    return raw


def _coordinates(kind: str, raw: Any) -> Any:
    numbers = _flat_numbers(raw)
    if len(numbers) < 2 or len(numbers) % 2:
        raise ValueError(f"{kind} needs pairs of numbers, got {raw!r}")
    for longitude, latitude in zip(numbers[::2], numbers[1::2], strict=True):
        if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
            raise ValueError(f"coordinates out of range (longitude first): {raw!r}")
    pairs = [list(pair) for pair in zip(numbers[::2], numbers[1::2], strict=True)]
    if kind == "Point":
        if len(pairs) != 1:
            raise ValueError(f"a Point is one pair of numbers, got {raw!r}")
        return pairs[0]
    if kind in ("LineString", "MultiPoint"):
        return pairs
    if kind == "Polygon":
        return [pairs]
    if kind == "MultiLineString":
        return [pairs]
    return [[pairs]]  # MultiPolygon


def _flat_numbers(raw: Any) -> list[float]:
    if isinstance(raw, str):
        return [_float(part) for part in raw.replace(";", ",").split(",")]
    if not isinstance(raw, list):
        raise ValueError(f"not coordinates: {raw!r}")
    numbers: list[float] = []
    for item in raw:  # nesting is bounded by the payload parsers' depth limit
        numbers.extend(_flat_numbers(item) if isinstance(item, list) else [_float(item)])
    return numbers


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "number": _number,
    "integer": _integer,
    "float": _float,
    "boolean": _boolean,
}
_AS_SENT = frozenset({"property", "string", "text", "textunrestricted"})
_TEMPORAL = {"datetime": "DateTime", "iso8601": "DateTime", "date": "Date", "time": "Time"}
_GEOMETRIES = {
    "geoproperty": "Point",
    "point": "Point",
    "geo:point": "Point",
    "geo:json": "Point",
    "linestring": "LineString",
    "geo:linestring": "LineString",
    "polygon": "Polygon",
    "geo:polygon": "Polygon",
    "multipoint": "MultiPoint",
    "geo:multipoint": "MultiPoint",
    "multilinestring": "MultiLineString",
    "geo:multilinestring": "MultiLineString",
    "multipolygon": "MultiPolygon",
    "geo:multipolygon": "MultiPolygon",
}
