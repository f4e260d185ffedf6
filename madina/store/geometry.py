"""Bounding boxes of GeoJSON values, for the spatial indexes of every engine."""

from __future__ import annotations

from typing import Any


def bbox_of(geometry: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of any GeoJSON geometry; None if it has no positions."""
    if geometry.get("type") == "GeometryCollection":
        boxes = [b for g in geometry.get("geometries", []) if (b := bbox_of(g)) is not None]
    else:
        boxes = []
        positions = list(_positions(geometry.get("coordinates")))
        if positions:
            lons = [p[0] for p in positions]
            lats = [p[1] for p in positions]
            boxes = [(min(lons), min(lats), max(lons), max(lats))]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _positions(coords: Any):
    if isinstance(coords, list) and coords and isinstance(coords[0], int | float):
        yield coords
    elif isinstance(coords, list):
        for item in coords:
            yield from _positions(item)


def geo_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether two versions of an entity differ in their GeoProperty values, i.e. whether its
    spatial index rows must be rebuilt. An attribute whose instance list an update left shared
    with the old document (madina.context.entity_update) cannot have changed: not looked into."""
    for name, instances in new.items():
        if ":" in name and instances is not (before := old.get(name)) and (
            _geo_values(instances) != _geo_values(before)
        ):
            return True
    return any(":" in name and name not in new and _geo_values(v) for name, v in old.items())


def _geo_values(instances: Any) -> list:
    if not isinstance(instances, list):
        return []
    return [i.get("value") for i in instances if i.get("type") == "GeoProperty"]
