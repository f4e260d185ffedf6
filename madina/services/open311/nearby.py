"""Distances around a point, for duplicates (open requests near a new one, FixMyStreet's
"around/nearby", 250 m there by default) and for area alerts drawn as a circle.

Distances are geodesic metres on the WGS84 ellipsoid (madina.context.geo, as for NGSI-LD's
georel near). A search reads the requests in a box that holds the whole circle, then keeps those
truly within the radius, nearest first.
"""

from __future__ import annotations

import math

from madina.context.geo import geodesic_distance
from madina.store.open311 import Doc, RequestRecord

METRES_PER_DEGREE = 111_320.0
"""At the equator; a degree of latitude is at least 110,574 m, hence the margin below."""
MAX_RADIUS_M = 5_000.0
CIRCLE_VERTICES = 64


def box_around(lat: float, lon: float, radius: float) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) holding every point within `radius` metres (2 %
    margin; the whole longitude range near a pole)."""
    dlat = radius * 1.02 / 110_574.0
    low, high = max(lat - dlat, -90.0), min(lat + dlat, 90.0)
    widest = math.cos(math.radians(max(abs(low), abs(high))))
    if widest < 1e-6:
        return (-180.0, low, 180.0, high)
    dlon = radius * 1.02 / (METRES_PER_DEGREE * widest)
    return (max(lon - dlon, -180.0), low, min(lon + dlon, 180.0), high)


def nearest(records: list[RequestRecord], lat: float, lon: float,
            radius: float) -> list[RequestRecord]:
    """The records within `radius` metres of the point, nearest first (newest first at the
    same distance)."""
    newest_first = sorted(records, key=lambda r: (r.requested_at, int(r.id)), reverse=True)
    measured = []
    for record in newest_first:
        if record.lat is None or record.long is None:
            continue
        distance = geodesic_distance(lon, lat, record.long, record.lat)
        if distance <= radius:
            measured.append((distance, record))
    measured.sort(key=lambda pair: pair[0])  # stable: newest first among equals
    return [record for _, record in measured]


def circle(lat: float, lon: float, radius: float) -> Doc:
    """A GeoJSON polygon with its vertices on the circle (each put at `radius` geodesic
    metres from the centre), so it lies inside the circle, short of it by at most 0.12 % of
    the radius between two vertices."""
    ring = []
    east_scale = METRES_PER_DEGREE * math.cos(math.radians(lat))
    for step in range(CIRCLE_VERTICES):
        bearing = 2 * math.pi * step / CIRCLE_VERTICES
        north = radius * math.cos(bearing) / 110_574.0
        east = radius * math.sin(bearing) / east_scale
        scale = radius / geodesic_distance(lon, lat, lon + east, lat + north)
        ring.append([lon + east * scale, lat + north * scale])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}
