"""UltraLight 2.0, the FIWARE IoT Agents' text protocol for constrained devices.

Measures are `key|value` pairs joined by `|` (`t|15|k|abc`); several groups joined by `#` each
become their own update; a group may start with an ISO 8601 timestamp (`2016-06-13T00:35:30Z|t|15`)
and a `TimeInstant|...` pair means the same. Commands go down as `dev@cmd|value` and come back as
`dev@cmd|result`. UltraLight has no escaping: a value can never contain `|` or `#`, so a payload
that seems to is malformed, not something to guess at. As in the agent's own parser (iotagent-ul
`ulParser.js`), a key or value may not be empty and one leading `|` of a group is ignored. Values
are untyped strings; the provisioned types turn them into numbers, booleans or places later
(`madina.iot.measures`).
"""

from __future__ import annotations

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


def parse_measures(
    payload: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[MeasureGroup]:
    """Every measure group of an UltraLight payload, in order; all or nothing.

    A trailing newline is tolerated (devices written with `println` send one); any other
    irregularity rejects the whole message so a half-understood payload never lands.
    """
    text = _text(payload, max_bytes)
    return [_parse_group(group) for group in text.split("#")]


def is_command_result(payload: str | bytes) -> bool:
    """Whether a message sent where measures go is a command result (`dev@cmd|result`): the
    agents accept both on the same HTTP resource, told apart by the `@` in the first field."""
    head = payload.split(b"|" if isinstance(payload, bytes) else "|", 1)[0]
    return (b"@" if isinstance(head, bytes) else "@") in head


def _parse_group(group: str) -> MeasureGroup:
    if group.startswith("|"):
        group = group[1:]
    if not group:
        raise MalformedPayload("empty_group")
    fields = group.split("|")
    timestamp = None
    if len(fields) % 2:
        if len(fields) == 1:
            raise MalformedPayload("odd_pairs", "a key without a value")
        try:
            timestamp = parse_timestamp(fields[0])
        except MalformedPayload:
            raise MalformedPayload("odd_pairs", f"{len(fields)} fields") from None
        fields = fields[1:]
    values: dict[str, str] = {}
    for key, value in zip(fields[::2], fields[1::2], strict=True):
        key = key.strip()
        if not key:
            raise MalformedPayload("empty_key")
        if key in values or (key == TIME_INSTANT and timestamp is not None):
            raise MalformedPayload("duplicate_key", key)
        if not value:
            raise MalformedPayload("empty_value", key)
        if key == TIME_INSTANT:
            timestamp = parse_timestamp(value)
        else:
            values[key] = value
    if not values:
        raise MalformedPayload("no_measures")
    return MeasureGroup(values, timestamp)


def parse_command(payload: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Command:
    """A command line `dev@cmd|value` (value may be `p1=1|p2=2` or absent), as a device reads it."""
    device, name, value = _split_addressed(payload, max_bytes)
    return Command(name=name, value=value, device=device)


def parse_command_result(
    payload: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> CommandResult:
    """A device's `dev@cmd|result` answer, from the `cmdexe` topic or an HTTP measure."""
    device, name, result = _split_addressed(payload, max_bytes)
    return CommandResult(name=name, result=result, device=device)


def format_command(device: str, name: str, value: str = "") -> str:
    """The downlink line for a command; refuses what the device could not split back apart."""
    for part, label in ((device, "device"), (name, "command")):
        if not part or any(c in part for c in "@|#"):
            raise ValueError(f"{label} {part!r} cannot be written in UltraLight")
    if "#" in value:
        raise ValueError("a command value cannot contain '#' in UltraLight")
    return f"{device}@{name}|{value}" if value else f"{device}@{name}"


def _split_addressed(payload: str | bytes, max_bytes: int) -> tuple[str, str, str]:
    text = _text(payload, max_bytes)
    head, _, rest = text.partition("|")
    device, at, name = head.partition("@")
    if not at:
        raise MalformedPayload("missing_at", head[:80])
    if not device.strip():
        raise MalformedPayload("missing_device")
    if not name.strip():
        raise MalformedPayload("missing_command")
    return device.strip(), name.strip(), rest


def _text(payload: str | bytes, max_bytes: int) -> str:
    """The payload text without surrounding whitespace; an empty message is its own reason."""
    text = decode_text(payload, max_bytes).strip()
    if not text:
        raise MalformedPayload("empty")
    return text
