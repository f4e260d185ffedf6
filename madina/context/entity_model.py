"""Shared vocabulary of the entity model: member names, attribute kinds, value checks.

Parsing, rendering and updating all need the same facts about what an NGSI-LD attribute
looks like; keeping them in one place stops the three from drifting apart.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Protocol

from madina.context.errors import BadRequestData

NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
NGSI_LD_NULL = "urn:ngsi-ld:null"
NONE_DATASET = "@none"
MAX_DEPTH = 32

PROPERTY = "Property"
RELATIONSHIP = "Relationship"
GEO_PROPERTY = "GeoProperty"
LANGUAGE_PROPERTY = "LanguageProperty"
VOCAB_PROPERTY = "VocabProperty"
JSON_PROPERTY = "JsonProperty"
LIST_PROPERTY = "ListProperty"
LIST_RELATIONSHIP = "ListRelationship"

#: The member that carries the content of each attribute kind (clause 4.5).
CONTENT_MEMBER = {
    PROPERTY: "value",
    GEO_PROPERTY: "value",
    RELATIONSHIP: "object",
    LANGUAGE_PROPERTY: "languageMap",
    VOCAB_PROPERTY: "vocab",
    JSON_PROPERTY: "json",
    LIST_PROPERTY: "valueList",
    LIST_RELATIONSHIP: "objectList",
}
KINDS = frozenset(CONTENT_MEMBER)

#: Concise form: the kind a content member implies when `type` is left out.
KIND_OF_CONTENT = {
    "object": RELATIONSHIP,
    "languageMap": LANGUAGE_PROPERTY,
    "vocab": VOCAB_PROPERTY,
    "json": JSON_PROPERTY,
    "valueList": LIST_PROPERTY,
    "objectList": LIST_RELATIONSHIP,
    "value": PROPERTY,
}

SYS_ATTRS = ("createdAt", "modifiedAt")
#: Members of an attribute instance that are not sub-attributes.
ATTRIBUTE_MEMBERS = frozenset(
    {"type", "objectType", "observedAt", "unitCode", "datasetId", "expiresAt", "lang",
     "createdAt", "modifiedAt", "deletedAt", "instanceId", *CONTENT_MEMBER.values()}
)
#: Members only brokers write (notifications with showChanges, signed entities).
OUTPUT_ONLY_MEMBERS = frozenset({"previousValue", "entityIdSealed"})
#: Core NGSI-LD terms that name members of attributes, so never an attribute (clause 4.5.1).
RESERVED_ATTRIBUTE_NAMES = frozenset(
    {"datasetId", "instanceId", "observedAt", "unitCode", "objectType", *OUTPUT_ONLY_MEMBERS}
)
#: Members of an entity that are not attributes.
ENTITY_MEMBERS = frozenset(
    {"id", "type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt"}
)

#: Attributes the spec fixes as GeoProperties (clause 4.7 / core context).
GEO_NAMES = frozenset(NGSI_LD + n for n in ("location", "observationSpace", "operationSpace"))

GEOJSON_GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
     "GeometryCollection"}
)

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_SCOPE = re.compile(r"^(/[^/\s#+]+)+$")
# Clause 4.6.2: characters that would break query strings or JSON-LD are refused in names.
_FORBIDDEN_NAME = re.compile(r"[\s<>\"'=;()\\\x00-\x1f\x7f]")
_VALID_NAMES: set[str] = set()
_NAME_MEMO_LIMIT = 100_000
_CANONICAL_DATETIMES: dict[str, str] = {}
_DATETIME_MEMO_LIMIT = 4096


class TermMap(Protocol):
    """What the entity model needs from an @context: term ↔ IRI in both directions."""

    def expand(self, term: str) -> str: ...

    def compact(self, iri: str) -> str: ...

    def expand_vocab(self, value: str) -> str: ...

    def compact_vocab(self, iri: str) -> str: ...


def bad(where: str, problem: str) -> BadRequestData:
    """One wording for every input error so clients can see what and where."""
    return BadRequestData(f"{where}: {problem}")


def is_uri(value: Any) -> bool:
    """The spec only asks for scheme ':' rest (RFC 3986), not a resolvable URL."""
    return isinstance(value, str) and bool(_URI.match(value))


def check_name(name: str, where: str) -> None:
    """Reject names the spec forbids: empty, JSON-LD keywords, query-breaking characters.

    Validity is a pure function of the name and clients send the same few names again and
    again, so names found valid are remembered (boundedly: names come from clients)."""
    if isinstance(name, str) and name in _VALID_NAMES:
        return
    if not isinstance(name, str) or not name:
        raise bad(where, "empty name")
    if name.startswith("@"):
        raise bad(where, f"'{name}' is a JSON-LD keyword, not allowed here")
    if _FORBIDDEN_NAME.search(name):
        raise bad(where, f"'{name}' contains a forbidden character")
    if len(_VALID_NAMES) < _NAME_MEMO_LIMIT:
        _VALID_NAMES.add(name)


def canonical_datetime(value: Any, where: str) -> str:
    """Store DateTimes as microsecond UTC strings so that string order is time order.

    The attributes of one measurement share its observedAt, and a batch holds many
    measurements of the same moment: converted strings are remembered (boundedly), since
    formatting one costs more than the rest of a plain Property's checks together."""
    if value.__class__ is str and (known := _CANONICAL_DATETIMES.get(value)) is not None:
        return known
    if not isinstance(value, str) or "T" not in value:
        raise bad(where, f"{value!r} is not an ISO 8601 DateTime")
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)  # OverflowError beyond year 1 or 9999 in UTC
    except (ValueError, OverflowError):
        raise bad(where, f"{value!r} is not an ISO 8601 DateTime") from None
    # isoformat pads the year to four digits (strftime's %Y gives "999" for 999), which
    # string order needs.
    canonical = moment.isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"
    if len(_CANONICAL_DATETIMES) >= _DATETIME_MEMO_LIMIT:
        _CANONICAL_DATETIMES.clear()
    _CANONICAL_DATETIMES[value] = canonical
    return canonical


def display_datetime(value: str) -> str:
    """Client-given DateTimes come back without the padding storage added (…:00Z,
    …:00.250Z), so a normalized entity sent with second or millisecond precision
    round-trips unchanged."""
    if not value.endswith("Z") or "." not in value:
        return value
    head, fraction = value[:-1].split(".", 1)
    if not fraction.strip("0"):
        return head + "Z"
    if fraction[3:].strip("0") == "":
        return f"{head}.{fraction[:3]}Z"
    return value


def check_scope(value: Any, where: str) -> list[str]:
    """Scopes are hierarchical paths like /Madrid/Centro (clause 4.18)."""
    scopes = [value] if isinstance(value, str) else value
    if not isinstance(scopes, list) or not scopes:
        raise bad(where, "scope must be a string or a non-empty list of strings")
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE.match(scope):
            raise bad(where, f"scope {scope!r} is not of the form /a/b")
    return list(dict.fromkeys(scopes))


def is_geojson_geometry(value: Any) -> bool:
    """Shape test only (full validation is geo's job): used to infer GeoProperty in concise."""
    if not isinstance(value, dict):
        return False
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in GEOJSON_GEOMETRY_TYPES:
        return False
    if value["type"] == "GeometryCollection":
        return "geometries" in value
    return "coordinates" in value


def is_expanded(key: str) -> bool:
    """Stored attribute names are IRIs; member names never contain ':' (docs/internals.md)."""
    return ":" in key


def attribute_names(doc: dict[str, Any]) -> list[str]:
    return [key for key in doc if is_expanded(key)]


def dataset_of(instance: dict[str, Any]) -> str | None:
    return instance.get("datasetId")
