"""What the safety services read out of an observed entity beyond single values (those come from
`madina.domains.entity_values`, which never raises on an untidy attribute): when a reading was
taken, and the area a warning about it names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from madina.domains import entity_values
from madina.domains.safety.model import Area


def reading(entity: dict[str, Any], name: str, now: datetime) -> tuple[float, datetime] | None:
    """A numeric attribute's value and when it was observed: its observedAt, else the entity's
    `dateObserved` (Smart Data Models), else `now`. None when it is not a finite number."""
    value = entity_values.number(entity, name)
    if value is None:
        return None
    at = (entity_values.observed_at(entity, name)
          or entity_values.parse_datetime(entity_values.value(entity, "dateObserved")) or now)
    return value, at


def location(entity: dict[str, Any]) -> dict[str, Any] | None:
    value = entity_values.value(entity, "location")
    return value if isinstance(value, dict) and isinstance(value.get("type"), str) else None


def display_name(entity: dict[str, Any]) -> str:
    name = entity_values.text(entity, "name")
    return name if name and name.strip() else str(entity.get("id", ""))


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
