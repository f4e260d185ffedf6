"""What both payload formats parse into, so measure conversion never knows the wire format.

Every parse failure is a `MalformedPayload` with a short machine `reason`: the gateway counts
rejections by reason in its metrics and logs, so reasons are a small fixed vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

TIME_INSTANT = "TimeInstant"
"""The attribute the IoT Agents read a measure's own timestamp from."""

DEFAULT_MAX_BYTES = 64 * 1024
"""Larger than any real sensor message; anything bigger is a broken or hostile device."""


class MalformedPayload(ValueError):
    """A payload the gateway rejects; `reason` is the metric label, `detail` is for the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class MeasureGroup:
    """Measures sent together: object_id -> raw value, and the time the device says they hold.

    `timestamp` is None when the device sent none (the receive time applies), and naive when the
    device sent a local time (the device's provisioned timezone applies).
    """

    values: dict[str, Any]
    timestamp: datetime | None = None


@dataclass(frozen=True)
class Command:
    """A command for a device (`dev@cmd|value`); `device` is None in JSON: the topic names it."""

    name: str
    value: Any
    device: str | None = None


@dataclass(frozen=True)
class CommandResult:
    """A device's answer to a command, which becomes the `<cmd>_info` attribute."""

    name: str
    result: Any
    device: str | None = None


def parse_timestamp(text: object) -> datetime:
    """An ISO 8601 instant, naive if the text has no offset; `Z` is accepted as UTC."""
    if not isinstance(text, str) or len(text) < 10 or not text[:4].isdigit():
        raise MalformedPayload("bad_timestamp", repr(text)[:80])
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise MalformedPayload("bad_timestamp", repr(text)[:80]) from None


def decode_text(payload: str | bytes, max_bytes: int) -> str:
    """The payload as text, refused when oversized or not UTF-8, before any parsing work."""
    if len(payload) > max_bytes:
        raise MalformedPayload("too_large", f"{len(payload)} > {max_bytes}")
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPayload("not_utf8") from None
    if len(payload.encode("utf-8", "surrogatepass")) > max_bytes:
        raise MalformedPayload("too_large", f"more than {max_bytes} bytes")
    return payload
