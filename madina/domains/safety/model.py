"""OASIS CAP 1.2 messages as immutable values, checked when built.

Field names, enumerations and rules follow "Common Alerting Protocol Version 1.2", OASIS Standard,
1 July 2010, §3.2 (the data dictionary): an `alert` segment with one or more `info` segments,
each with zero or more `area` segments. A value that the standard forbids (an unknown
enumeration, a comma in an identifier, an open polygon, an Update without `references`) fails
here with ValueError, so no invalid message ever reaches the XML writer; the XML Schema check in
`cap.validate` is the second line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

STATUSES = frozenset({"Actual", "Exercise", "System", "Test", "Draft"})
MSG_TYPES = frozenset({"Alert", "Update", "Cancel", "Ack", "Error"})
SCOPES = frozenset({"Public", "Restricted", "Private"})
CATEGORIES = frozenset({"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                        "Transport", "Infra", "CBRNE", "Other"})
RESPONSE_TYPES = frozenset({"Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor",
                            "Assess", "AllClear", "None"})
URGENCIES = frozenset({"Immediate", "Expected", "Future", "Past", "Unknown"})
SEVERITIES = frozenset({"Extreme", "Severe", "Moderate", "Minor", "Unknown"})
CERTAINTIES = frozenset({"Observed", "Likely", "Possible", "Unlikely", "Unknown"})

_NOT_IN_IDS = re.compile(r"[\s,<&]")
"""§3.2.1: identifier and sender "MUST NOT include spaces, commas or restricted characters
(< and &)"."""


def _one_of(name: str, value: str, allowed: frozenset[str]) -> None:
    if value not in allowed:
        raise ValueError(f"CAP {name} must be one of {sorted(allowed)}, not {value!r}")


def _id_like(name: str, value: str) -> None:
    if not value or _NOT_IN_IDS.search(value):
        raise ValueError(f"CAP {name} must be non-empty, without spaces, commas, < or &: "
                         f"{value!r}")


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"CAP {name} must be a timezone-aware time")


def _whole_seconds(instance: object, *names: str) -> None:
    """CAP times have no fractions of a second (§3.3.2): keep them whole here, so a message
    equals itself read back and `references` name exactly the `sent` that was written."""
    for name in names:
        value = getattr(instance, name)
        if value is not None and value.microsecond:
            object.__setattr__(instance, name, value.replace(microsecond=0))


def _point(lat: float, lon: float) -> None:
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"({lat}, {lon}) is not a WGS 84 latitude, longitude")


@dataclass(frozen=True)
class Area:
    """§3.2.4: the affected area, described in words and by any of polygons, circles, geocodes."""

    description: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    """Rings of (latitude, longitude) WGS 84 points; each closed (last point = first) and of
    at least four points."""
    circles: tuple[tuple[float, float, float], ...] = ()
    """(latitude, longitude, radius in kilometres)."""
    geocodes: tuple[tuple[str, str], ...] = ()
    """(valueName, value) pairs, e.g. ("NUTS3", "FI1B1")."""

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise ValueError("CAP areaDesc must not be empty")
        for ring in self.polygons:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise ValueError("a CAP polygon is a closed ring of at least four points")
            for lat, lon in ring:
                _point(lat, lon)
        for lat, lon, radius in self.circles:
            _point(lat, lon)
            if not radius >= 0:
                raise ValueError("a CAP circle's radius must be zero or more kilometres")
        for name, value in self.geocodes:
            if not name or not value:
                raise ValueError("a CAP geocode needs a valueName and a value")


@dataclass(frozen=True)
class Info:
    """§3.2.2: one description of the event, in one language."""

    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    language: str = "en-US"
    response_types: tuple[str, ...] = ()
    effective: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str = ""
    parameters: tuple[tuple[str, str], ...] = ()
    areas: tuple[Area, ...] = ()

    def __post_init__(self) -> None:
        if not self.categories:
            raise ValueError("a CAP info needs at least one category")
        for category in self.categories:
            _one_of("category", category, CATEGORIES)
        for response in self.response_types:
            _one_of("responseType", response, RESPONSE_TYPES)
        _one_of("urgency", self.urgency, URGENCIES)
        _one_of("severity", self.severity, SEVERITIES)
        _one_of("certainty", self.certainty, CERTAINTIES)
        if not self.event.strip():
            raise ValueError("a CAP info needs an event")
        _aware("effective", self.effective)
        _aware("expires", self.expires)
        _whole_seconds(self, "effective", "expires")
        if self.effective and self.expires and self.expires < self.effective:
            raise ValueError("a CAP info cannot expire before it takes effect")


@dataclass(frozen=True)
class Reference:
    """One earlier message an Update, Cancel, Ack or Error refers to (§3.2.1 `references`)."""

    sender: str
    identifier: str
    sent: datetime

    def __post_init__(self) -> None:
        _id_like("sender", self.sender)
        _id_like("identifier", self.identifier)
        _aware("sent", self.sent)
        _whole_seconds(self, "sent")


@dataclass(frozen=True)
class Message:
    """§3.2.1: one CAP `alert` message."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: tuple[Reference, ...] = ()
    infos: tuple[Info, ...] = ()
    restriction: str = ""
    """Who may see a Restricted message (required with that scope)."""
    addresses: str = ""
    """Who receives a Private message (required with that scope)."""
    note: str = ""

    def __post_init__(self) -> None:
        _id_like("identifier", self.identifier)
        _id_like("sender", self.sender)
        _aware("sent", self.sent)
        _whole_seconds(self, "sent")
        _one_of("status", self.status, STATUSES)
        _one_of("msgType", self.msg_type, MSG_TYPES)
        _one_of("scope", self.scope, SCOPES)
        if self.msg_type != "Alert" and not self.references:
            raise ValueError(f"a CAP {self.msg_type} must reference the message(s) it is about")
        if self.scope == "Restricted" and not self.restriction:
            raise ValueError("a Restricted CAP message must say its restriction")
        if self.scope == "Private" and not self.addresses:
            raise ValueError("a Private CAP message must list its addresses")

    def reference(self) -> Reference:
        """How later messages refer to this one."""
        return Reference(self.sender, self.identifier, self.sent)

    @property
    def expires(self) -> datetime | None:
        """When the last of its infos expires (None: some info never does, or none has one)."""
        ends = [info.expires for info in self.infos]
        if not ends or any(end is None for end in ends):
            return None
        return max(end for end in ends if end is not None)
