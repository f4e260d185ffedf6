// The city indicators of the control room's strip, computed from what the APIs return.
// Pure functions: the page feeds them entities and Open311 requests.

import { anchor, contains } from "./geo.js";

/** The highest US AQI of the stations in each district ({district: {aqi, level}}), stations
 * outside every district under "elsewhere". An index is the worst of its parts, so is a
 * district's. */
export function aqiByDistrict(stations, districts) {
  const out = {};
  for (const station of stations) {
    if (typeof station.airQualityIndex !== "number") continue;
    const point = anchor(station.location);
    const district = (districts?.features || []).find((d) => point && contains(d.geometry, point));
    const name = district?.properties?.name || "elsewhere";
    if (!(name in out) || station.airQualityIndex > out[name].aqi) {
      out[name] = { aqi: station.airQualityIndex, level: station.airQualityLevel || null };
    }
  }
  return out;
}

/** Share (0–1) of the road segments that know their state that are congested; null if none. */
export function congestionShare(segments) {
  const known = segments.filter((s) => typeof s.congested === "boolean");
  return known.length ? known.filter((s) => s.congested).length / known.length : null;
}

/** The median of numbers, null for none. */
export function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median hours from request to close over closed Open311 requests (their last update is
 * the close), null when none closed. */
export function medianHoursToClose(closed) {
  const hours = closed
    .map((r) => (Date.parse(r.updated_datetime) - Date.parse(r.requested_datetime)) / 3.6e6)
    .filter((h) => Number.isFinite(h) && h >= 0);
  return median(hours);
}

/** The local midnight that starts `now`'s day: "today" for energy and CO2. */
export function startOfDay(now = new Date()) {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}
