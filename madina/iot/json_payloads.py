"""The FIWARE IoT Agent JSON payloads: measures, commands and command results.

A measure message is a flat object (`{"t": 15, "h": 70}`) or an array of such objects, each its
own update; an object may carry its own `TimeInstant`. Values keep their JSON type (a `geo:json`
attribute is legitimately an object), so nesting is allowed but bounded: `max_depth` stops a
hostile payload from costing more than a real one, and `max_bytes` is checked before parsing.
"""

from __future__ import annotations

from typing import Any

import orjson

from madina.iot.payload import (
    DEFAULT_MAX_BYTES,
    TIME_INSTANT,
    Command,
    CommandResult,
    MalformedPayload,
    MeasureGroup,
    decode_text,
    parse_timestamp,
)

DEFAULT_MAX_DEPTH = 8
"""Deep enough for a GeoJSON polygon inside a measure object inside an array."""


def parse_measures(
    payload: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> list[MeasureGroup]:
    """Every measure group of a JSON message, in order; all or nothing."""
    document = _load(payload, max_bytes, max_depth)
    objects = document if isinstance(document, list) else [document]
    if not objects:
        raise MalformedPayload("empty")
    return [_group(item) for item in objects]


def parse_single_measure(
    name: str,
    payload: str | bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> MeasureGroup:
    """A value published on `.../attrs/<name>`: JSON if it parses, else the plain text as sent.

    Devices commonly publish a bare `23.5` or `on` on a per-attribute topic, so text that is not
    JSON is a string value rather than an error.
    """
    if not name:
        raise MalformedPayload("empty_key")
    text = decode_text(payload, max_bytes)
    try:
        value = _load(text, max_bytes, max_depth)
    except MalformedPayload as error:
        if error.reason != "not_json":
            raise
        value = text.strip()
    if name == TIME_INSTANT:
        raise MalformedPayload("no_measures", "only a timestamp")
    return MeasureGroup({name: value})


def parse_command(
    payload: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> Command:
    """A downlink command `{"<cmd>": <value>}`, as a device on the `cmd` topic reads it."""
    document = _load(payload, max_bytes, max_depth)
    if not isinstance(document, dict):
        raise MalformedPayload("not_object")
    if len(document) != 1:
        raise MalformedPayload("not_one_command", f"{len(document)} keys")
    ((name, value),) = document.items()
    if not name:
        raise MalformedPayload("empty_key")
    return Command(name=name, value=value)


def parse_command_results(
    payload: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> list[CommandResult]:
    """The results on `cmdexe`: `{"<cmd>": <result>}`, one entry per command answered."""
    document = _load(payload, max_bytes, max_depth)
    if not isinstance(document, dict):
        raise MalformedPayload("not_object")
    if not document:
        raise MalformedPayload("empty")
    if "" in document:
        raise MalformedPayload("empty_key")
    return [CommandResult(name=name, result=result) for name, result in document.items()]


def format_command(name: str, value: Any) -> bytes:
    """The downlink body for a command, the JSON agent's `{"<cmd>": <value>}`."""
    if not name:
        raise ValueError("a command needs a name")
    return orjson.dumps({name: value})


def _group(item: object) -> MeasureGroup:
    if not isinstance(item, dict):
        raise MalformedPayload("not_object", type(item).__name__)
    if "" in item:
        raise MalformedPayload("empty_key")
    values = dict(item)
    timestamp = parse_timestamp(values.pop(TIME_INSTANT)) if TIME_INSTANT in values else None
    if not values:
        raise MalformedPayload("no_measures")
    return MeasureGroup(values, timestamp)


def _load(payload: str | bytes, max_bytes: int, max_depth: int) -> Any:
    if len(payload) > max_bytes:
        raise MalformedPayload("too_large", f"{len(payload)} > {max_bytes}")
    if isinstance(payload, str):
        payload = decode_text(payload, max_bytes)
    if not payload.strip():
        raise MalformedPayload("empty")
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise MalformedPayload("not_json", str(error)[:80]) from None
    _check_depth(document, max_depth)
    return document


def _check_depth(document: Any, max_depth: int) -> None:
    """Iterative, so the check itself cannot overflow the stack on the payloads it guards."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise MalformedPayload("too_deep", f"more than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)
