"""The shipped city geometry: valid GeoJSON, in central Helsinki, compact, attributed."""

from __future__ import annotations

import pytest
from shapely.geometry import shape

from madina.sim import geodata

HELSINKI_CENTRE = (24.90, 60.15, 25.00, 60.19)
"""(west, south, east, north): a box around the city centre the extract covers."""


def _positions(coordinates):
    if isinstance(coordinates[0], int | float):
        yield coordinates
        return
    for part in coordinates:
        yield from _positions(part)


@pytest.mark.parametrize("name", geodata.LAYERS)
def test_each_layer_is_a_valid_feature_collection_in_central_helsinki(name) -> None:
    collection = geodata.layer(name)
    assert collection["type"] == "FeatureCollection"
    assert collection["features"]
    west, south, east, north = HELSINKI_CENTRE
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        geometry = shape(feature["geometry"])
        assert geometry.is_valid and not geometry.is_empty, feature["properties"]
        for lon, lat in _positions(feature["geometry"]["coordinates"]):
            assert west <= lon <= east and south <= lat <= north
            assert round(lon, geodata.COORDINATE_DECIMALS) == lon  # ~1 m, no false precision
            assert round(lat, geodata.COORDINATE_DECIMALS) == lat


def test_the_layers_carry_what_the_map_and_the_simulator_need() -> None:
    streets = geodata.layer("streets")["features"]
    assert len(streets) > 500
    assert {"primary", "secondary", "residential"} <= {f["properties"]["highway"]
                                                        for f in streets}
    assert "Mannerheimintie" in {f["properties"]["name"] for f in streets}
    buildings = geodata.layer("buildings")["features"]
    assert len(buildings) > 300
    assert all(f["properties"]["footprint_m2"] > 0 for f in buildings)
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in buildings)
    town_hall = next(f for f in buildings
                     if f["properties"]["name"] == "Helsingin kaupungintalo")
    assert 2000 < town_hall["properties"]["footprint_m2"] < 5000  # measured in metres, not deg²
    water = geodata.layer("water")["features"]
    assert any(f["properties"]["natural"] == "coastline" for f in water)
    districts = geodata.layer("districts")["features"]
    assert {"Kluuvi", "Kamppi", "Kruununhaka"} <= {f["properties"]["name"] for f in districts}
    assert all(f["properties"]["approximate"] for f in districts)


def test_the_districts_tile_the_city_without_overlap() -> None:
    cells = [shape(f["geometry"]) for f in geodata.layer("districts")["features"]]
    west, south, east, north = geodata.bounds()
    total = sum(cell.area for cell in cells)
    assert total == pytest.approx((east - west) * (north - south), rel=1e-3)
    for i, first in enumerate(cells):
        for second in cells[i + 1:]:
            assert first.intersection(second).area < 1e-12


def test_the_data_is_small_and_carries_the_odbl_attribution() -> None:
    total = sum(path.stat().st_size for path in geodata.DATA_DIR.iterdir())
    assert total < 3 * 1024 * 1024
    sources = (geodata.DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in sources and "ODbL" in sources
    assert geodata.ATTRIBUTION == "© OpenStreetMap contributors, ODbL"
