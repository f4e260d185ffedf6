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
