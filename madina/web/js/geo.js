// Small geometry for the pages: which district a point is in, how far two points are apart.

/** Whether [lon, lat] lies inside a GeoJSON Polygon or MultiPolygon (even-odd rule). */
export function contains(geometry, point) {
  if (!geometry) return false;
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates]
    : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  return polygons.some((rings) => rings.reduce((inside, ring) => inside !== inRing(ring, point), false));
}

function inRing(ring, [x, y]) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Great-circle distance in metres between two [lon, lat] points (haversine). */
export function distance([lon1, lat1], [lon2, lat2]) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2
    + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
}

/** A representative [lon, lat] of a geometry: a point itself, else its first vertex's
 * neighbourhood centre (the mean of its outer vertices). */
export function anchor(geometry) {
  if (!geometry) return null;
  if (geometry.type === "Point") return geometry.coordinates;
  const points = [];
  const visit = (c) => (typeof c[0] === "number" ? points.push(c) : c.forEach(visit));
  if (geometry.coordinates) visit(geometry.coordinates);
  if (!points.length) return null;
  return [points.reduce((s, p) => s + p[0], 0) / points.length,
    points.reduce((s, p) => s + p[1], 0) / points.length];
}
