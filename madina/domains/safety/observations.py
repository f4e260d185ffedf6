"""Reading what the services need out of an observed entity (NGSI-LD normalized form, compacted
with Smart Data Models terms), without trusting it: a missing, non-numeric or malformed value
reads as None, never an exception, since devices send all of these."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from madina.domains.safety.model import Area


def _instance(entity: dict[str, Any], name: str) -> dict[str, Any] | None:
    attribute = entity.get(name)
    if isinstance(attribute, list):  # several datasetIds: the default (first) instance
        attribute = attribute[0] if attribute else None
    return attribute if isinstance(attribute, dict) else None


def moment(text: Any) -> datetime | None:
    """An ISO 8601 date-time as aware UTC (a naive one is taken as UTC); None if unreadable."""
    if isinstance(text, dict):  # {"@type": "DateTime", "@value": "..."}
        text = text.get("@value")
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def number(entity: dict[str, Any], name: str) -> tuple[float, datetime | None] | None:
    """A Property's finite numeric value and its observedAt (if readable)."""
    instance = _instance(entity, name)
    if instance is None:
        return None
    value = instance.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value), moment(instance.get("observedAt"))


def observed_at(entity: dict[str, Any], attribute_time: datetime | None,
                now: datetime) -> datetime:
    """When a reading was taken: its observedAt, else the entity's `dateObserved` (Smart Data
    Models), else `now`."""
    if attribute_time is not None:
        return attribute_time
    instance = _instance(entity, "dateObserved")
    observed = moment(instance.get("value")) if instance is not None else None
    return observed or now


def location(entity: dict[str, Any]) -> dict[str, Any] | None:
    instance = _instance(entity, "location")
    value = instance.get("value") if instance is not None else None
    return value if isinstance(value, dict) and isinstance(value.get("type"), str) else None


def display_name(entity: dict[str, Any]) -> str:
    instance = _instance(entity, "name")
    value = instance.get("value") if instance is not None else None
    return value if isinstance(value, str) and value.strip() else str(entity.get("id", ""))


def area_around(name: str, geometry: dict[str, Any] | None, radius_km: float) -> Area | None:
    """A CAP area for a source with no configured one: a circle around a Point, the ring of a
    Polygon (GeoJSON lon,lat becomes CAP lat,lon), else only words."""
    try:
        if geometry is not None and geometry["type"] == "Point":
            lon, lat = geometry["coordinates"][:2]
            return Area(f"{radius_km:g} km around {name}",
                        circles=((float(lat), float(lon), radius_km),))
        if geometry is not None and geometry["type"] == "Polygon":
            ring = tuple((float(lat), float(lon)) for lon, lat, *_ in geometry["coordinates"][0])
            return Area(name, polygons=(ring,))
    except (KeyError, TypeError, ValueError):
        pass
    return Area(name) if name.strip() else None
