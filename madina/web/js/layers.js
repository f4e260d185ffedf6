// The control room's layers, one per city domain: which entity types feed it, and the state
// each entity is coloured by (the attributes the domain services derive, docs/domains.md).

const ACTIVE = (e) => !e.validTo || Date.parse(e.validTo) > Date.now();

export const AQI_COLOURS = {
  good: "#00e400", moderate: "#ffff00", unhealthyForSensitiveGroups: "#ff7e00",
  unhealthy: "#ff0000", veryUnhealthy: "#8f3f97", hazardous: "#7e0023",
};
/** EPA's category colours (EPA-454/B-24-002), by the Smart Data Models level names. */

export const SEVERITY_RANK = { critical: 5, high: 4, medium: 3, low: 2, informational: 1 };

export const LAYERS = [
  {
    id: "traffic", label: "Traffic",
    types: ["TrafficFlowObserved", "RoadSegment"],
    state: (e) => (e.congested === true ? "congested" : e.congested === false ? "flowing" : "unknown"),
    colours: { congested: "#c62828", flowing: "#2e7d32", unknown: "#78909c" },
  },
  {
    id: "air", label: "Air quality (US AQI)",
    types: ["AirQualityObserved"],
    state: (e) => e.airQualityLevel || "unknown",
    colours: { ...AQI_COLOURS, unknown: "#9e9e9e" },
  },
  {
    id: "water", label: "Water level",
    types: ["WaterObserved", "FloodMonitoring"],
    state: (e) => e.floodWarningLevel || "unknown",
    colours: { normal: "#1565c0", advisory: "#fdd835", watch: "#fb8c00", warning: "#e53935",
      danger: "#6a1b1a", unknown: "#9e9e9e" },
  },
  {
    id: "requests", label: "Open service requests",
    types: ["Open311ServiceRequest"],
    state: (e) => e.status || "unknown",
    show: (e) => e.status !== "closed",
    colours: { open: "#6a1b9a", unknown: "#6a1b9a" },
  },
  {
    id: "alerts", label: "Active alerts",
    types: ["Alert"],
    state: (e) => e.severity || "unknown",
    show: ACTIVE,
    colours: { critical: "#4a0000", high: "#b71c1c", medium: "#e65100", low: "#f9a825",
      informational: "#546e7a", unknown: "#546e7a" },
  },
  {
    id: "sensors", label: "Other sensors and buildings",
    types: ["NoiseLevelObserved", "WeatherObserved", "Building", "ParkingSpot", "Streetlight"],
    state: () => "sensor",
    colours: { sensor: "#37474f" },
  },
];

export const LAYER_OF_TYPE = Object.fromEntries(
  LAYERS.flatMap((layer) => layer.types.map((type) => [type, layer])),
);
export const ALL_TYPES = LAYERS.flatMap((layer) => layer.types);

export function isActiveAlert(entity) {
  return entity.type === "Alert" && ACTIVE(entity);
}

/** The MapLibre layers drawing one domain's source: areas, lines and points, coloured by the
 * `state` property of each feature. */
export function mapLayers(layer) {
  const colour = ["match", ["get", "state"],
    ...Object.entries(layer.colours).flat(), "#9e9e9e"];
  const source = `domain-${layer.id}`;
  return [
    { id: `${layer.id}-area`, type: "fill", source,
      filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "fill-color": colour, "fill-opacity": 0.45, "fill-outline-color": "#263238" } },
    { id: `${layer.id}-line`, type: "line", source,
      filter: ["==", ["geometry-type"], "LineString"],
      paint: { "line-color": colour, "line-width": 5 } },
    { id: `${layer.id}-point`, type: "circle", source,
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-color": colour, "circle-radius": layer.id === "alerts" ? 11 : 7,
        "circle-stroke-color": "#263238", "circle-stroke-width": 1.5,
        "circle-opacity": layer.id === "alerts" ? 0.55 : 0.95 } },
  ];
}
