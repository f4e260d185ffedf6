"""The demo city's geometry: compact GeoJSON layers of central Helsinki shipped in
`madina/sim/data/` (made once by `madina sim geodata`; © OpenStreetMap contributors, ODbL —
see `data/SOURCES.md`). Reading them needs nothing beyond the standard library."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
LAYERS = ("streets", "buildings", "water", "districts")
COORDINATE_DECIMALS = 5
"""1e-5° is 1.1 m of latitude and 0.6 m of longitude at Helsinki's 60° N."""
ATTRIBUTION = "© OpenStreetMap contributors, ODbL"


def layer_path(name: str) -> Path:
    if name not in LAYERS:
        raise KeyError(f"no layer {name!r}; layers are {', '.join(LAYERS)}")
    return DATA_DIR / f"helsinki-{name}.geojson.gz"


def layer_bytes(name: str) -> bytes:
    """The layer's gzip-compressed GeoJSON as shipped (what a web server can send as is)."""
    return layer_path(name).read_bytes()


@cache
def layer(name: str) -> dict[str, Any]:
    """The layer as a GeoJSON FeatureCollection (cached: callers must not change it)."""
    return json.loads(gzip.decompress(layer_bytes(name)))


def district_of(lon: float, lat: float) -> str | None:
    """The name of the (approximate) district holding the point, if any."""
    from shapely.geometry import Point, shape

    point = Point(lon, lat)
    for feature in layer("districts")["features"]:
        if shape(feature["geometry"]).covers(point):
            return feature["properties"]["name"]
    return None


def bounds() -> tuple[float, float, float, float]:
    """(west, south, east, north) of the streets: the area the demo city covers."""
    xs, ys = [], []
    for feature in layer("streets")["features"]:
        for lon, lat in feature["geometry"]["coordinates"]:
            xs.append(lon)
            ys.append(lat)
    return min(xs), min(ys), max(xs), max(ys)
