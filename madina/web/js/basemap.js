// The city map both pages share: MapLibre GL with the city's own GeoJSON layers as the basemap
// (served by Madina, so it works offline) and, when the city configured one, online raster
// tiles beneath. No glyphs or sprites are needed: nothing is drawn as map text.

import * as maplibregl from "/web/vendor/maplibre-gl/maplibre-gl.mjs";

export { maplibregl };

const PAINT = {
  water: [{ type: "fill", paint: { "fill-color": "#a9cde8" } }],
  districts: [
    { type: "fill", paint: { "fill-color": "#f4f1ea", "fill-opacity": 0.6 } },
    { type: "line", paint: { "line-color": "#9a9384", "line-width": 1.2, "line-dasharray": [3, 2] } },
  ],
  buildings: [{ type: "fill", paint: { "fill-color": "#d9d3c7", "fill-outline-color": "#bcb4a5" } }],
  streets: [{ type: "line", paint: { "line-color": "#ffffff", "line-width": ["interpolate", ["linear"], ["zoom"], 13, 1, 17, 6] } }],
  other: [{ type: "line", paint: { "line-color": "#8c8c8c", "line-width": 1 } }],
};
/** Drawn bottom to top. */
const ORDER = ["districts", "water", "buildings", "streets", "other"];

/** The map in `container`, resolved once its style and basemap are loaded; `config` is what
 * GET /web/config answered. */
export async function cityMap(container, config, { rtl = false } = {}) {
  const sources = {};
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#eeebe4" } }];
  if (config.tiles) {
    sources.tiles = {
      type: "raster", tiles: [config.tiles.url], tileSize: 256,
      attribution: config.tiles.attribution || "",
    };
    layers.push({ id: "tiles", type: "raster", source: "tiles" });
  }
  const basemap = [...config.basemap].sort((a, b) => ORDER.indexOf(a.role) - ORDER.indexOf(b.role));
  const collections = await Promise.all(basemap.map((layer) => fetch(layer.url).then((r) => r.json())));
  basemap.forEach((layer, index) => {
    sources[`basemap-${layer.name}`] = {
      type: "geojson", data: collections[index],
      attribution: index === 0 ? config.attribution : undefined,
    };
    if (config.tiles && layer.role !== "districts") return; // tiles already draw the city
    PAINT[layer.role].forEach((style, n) => {
      layers.push({ id: `basemap-${layer.name}-${n}`, source: `basemap-${layer.name}`, ...style });
    });
  });
  const map = new maplibregl.Map({
    container,
    style: { version: 8, sources, layers },
    bounds: bounds(collections) || [[24.90, 60.15], [24.99, 60.19]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: { compact: false },
    dragRotate: false,
    pitchWithRotate: false,
  });
  map.touchZoomRotate.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), rtl ? "top-left" : "top-right");
  map.basemap = Object.fromEntries(basemap.map((layer, i) => [layer.role, collections[i]]));
  await new Promise((resolve) => map.once("load", resolve));
  return map;
}

function bounds(collections) {
  let west = Infinity, south = Infinity, east = -Infinity, north = -Infinity;
  const visit = (coordinates) => {
    if (typeof coordinates[0] === "number") {
      west = Math.min(west, coordinates[0]); east = Math.max(east, coordinates[0]);
      south = Math.min(south, coordinates[1]); north = Math.max(north, coordinates[1]);
    } else coordinates.forEach(visit);
  };
  for (const collection of collections) {
    for (const feature of collection.features || []) {
      if (feature.geometry?.coordinates) visit(feature.geometry.coordinates);
    }
  }
  return Number.isFinite(west) ? [[west, south], [east, north]] : null;
}

/** The GeoJSON feature of an entity (plain keyValues) for a domain layer's source. */
export function feature(entity, properties) {
  return { type: "Feature", geometry: entity.location, properties: { id: entity.id, ...properties } };
}
