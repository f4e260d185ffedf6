"""Reading observed entities and writing derived attributes, in NGSI-LD normalized form.

Domain services receive entities in normalized form compacted with the Smart Data Models terms
(`{"intensity": {"type": "Property", "value": 197, "observedAt": ...}}`). Real feeds are untidy:
a value may be a typed literal (`{"@type": "DateTime", "@value": ...}`), an attribute may carry
several instances (datasetId), a relationship may list several objects. These helpers take the
default instance, reject what is not a finite number where a number is wanted, and never raise on
a malformed attribute: a service skips what it cannot read instead of failing the whole change.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote


def attribute(entity: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The attribute's default instance (no datasetId), else its first instance, else None."""
    found = entity.get(name)
    if isinstance(found, dict):
        return found
    if isinstance(found, list):
        instances = [item for item in found if isinstance(item, dict)]
        for instance in instances:
            if "datasetId" not in instance:
                return instance
        return instances[0] if instances else None
    return None


def value(entity: dict[str, Any], name: str) -> Any:
    """The attribute's value, typed literals unwrapped to their `@value`; None when absent."""
    found = attribute(entity, name)
    if found is None:
        return None
    raw = found.get("value")
    if isinstance(raw, dict) and "@value" in raw:
        return raw["@value"]
    return raw


def number(entity: dict[str, Any], name: str) -> float | None:
    """The attribute's value as a finite float; None when absent, not a number, NaN or infinite."""
    raw = value(entity, name)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    result = float(raw)
    return result if math.isfinite(result) else None


def text(entity: dict[str, Any], name: str) -> str | None:
    """The attribute's value when it is a string."""
    raw = value(entity, name)
    return raw if isinstance(raw, str) else None


def unit_code(entity: dict[str, Any], name: str) -> str | None:
    """The attribute's UN/CEFACT unitCode, if it gives one."""
    found = attribute(entity, name)
    code = None if found is None else found.get("unitCode")
    return code if isinstance(code, str) else None


def relationship(entity: dict[str, Any], name: str) -> str | None:
    """The relationship's target id (the first one when it lists several)."""
    found = attribute(entity, name)
    if found is None:
        return None
    target = found.get("object")
    if isinstance(target, list):
        target = target[0] if target else None
    return target if isinstance(target, str) and target else None


def observed_at(entity: dict[str, Any], name: str) -> datetime | None:
    """The attribute's observedAt as an aware UTC datetime."""
    found = attribute(entity, name)
    stamp = None if found is None else found.get("observedAt")
    return parse_datetime(stamp) if isinstance(stamp, str) else None


def parse_datetime(raw: Any) -> datetime | None:
    """An ISO 8601 date-time as an aware UTC datetime (naive ones are taken as UTC); None if not."""
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00+14:00": the offset leaves datetime's range
        return None


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a Z, the form NGSI-LD brokers answer with."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def prop(
    val: Any,
    observed: datetime | None = None,
    unit: str | None = None,
    dataset_id: str | None = None,
) -> dict[str, Any]:
    """A normalized Property, with the observedAt, unitCode and datasetId given."""
    result: dict[str, Any] = {"type": "Property", "value": val}
    if observed is not None:
        result["observedAt"] = iso(observed)
    if unit is not None:
        result["unitCode"] = unit
    if dataset_id is not None:
        result["datasetId"] = dataset_id
    return result


def date_time(moment: datetime) -> dict[str, Any]:
    """A Property holding a DateTime, typed as NGSI-LD wants temporal values (clause 4.6.3)."""
    return {"type": "Property", "value": {"@type": "DateTime", "@value": iso(moment)}}


def rel(target: str) -> dict[str, Any]:
    """A normalized Relationship."""
    return {"type": "Relationship", "object": target}


def id_part(name: str) -> str:
    """An id or name made safe to embed in a URN (RFC 8141): URN-friendly characters kept, the rest
    percent-encoded as UTF-8. Derived ids stay readable, stable and distinct: "Töölö" and
    "Täälä" do not collide."""
    return quote(name, safe=":._-~")
