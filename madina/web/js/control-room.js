// The operator control room (served at /): the city map with a layer per domain, live over
// the SSE stream; details and history of anything clicked; alerts; the service-request queue
// per department; and a strip of city indicators.

import { activeAlerts, capWarnings, renderAlerts, renderCap } from "./alerts.js";
import {
  entities, entity, history, localName, plain, session, signIn, signOut, sumsSince, useToken,
  webConfig,
} from "./api.js";
import { cityMap, feature } from "./basemap.js";
import { historyCharts } from "./charts.js";
import { debounce, el } from "./dom.js";
import { anchor } from "./geo.js";
import { aqiByDistrict, congestionShare, medianHoursToClose, startOfDay } from "./indicators.js";
import { ALL_TYPES, AQI_COLOURS, LAYERS, LAYER_OF_TYPE, mapLayers } from "./layers.js";
import { LiveStream, frameBatcher } from "./live.js";
import { loadRequests, renderQueue } from "./queue.js";

const $ = (id) => document.getElementById(id);
const ENERGY_ATTRS = ["energyConsumption", "emissionsScope1", "emissionsScope2"];
const NUMBER = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

/** Everything the page knows: entities by id (plain keyValues), Open311 requests, today's
 * energy sums, the entity whose details are open and their charts. */
const state = {
  entities: new Map(),
  requests: { open: [], closed: [] },
  energy: null,
  selected: null,
  charts: [],
};

let map;

function layerEntities(layer) {
  return [...state.entities.values()].filter((e) => LAYER_OF_TYPE[e.type] === layer);
}

function redraw(layer) {
  const features = layerEntities(layer)
    .filter((e) => e.location && (!layer.show || layer.show(e)))
    .map((e) => feature(e, { state: layer.state(e), type: e.type }));
  map.getSource(`domain-${layer.id}`).setData({ type: "FeatureCollection", features });
  $(`count-${layer.id}`).textContent = String(features.length);
}

function redrawAll() {
  LAYERS.forEach(redraw);
  renderAlerts($("alert-list"), activeAlerts(state.entities.values()), select);
  indicators();
}

function snapshot() {
  return entities({ type: ALL_TYPES.join(",") });
}

async function reload(pending = snapshot()) {
  const all = await pending;
  state.entities = new Map(all.map((e) => [e.id, e]));
  redrawAll();
}

/** What the map draws of an entity: a change of anything else (most sensor readings) needs
 * no redraw. */
function drawn(layer, entity) {
  if (!entity?.location || (layer.show && !layer.show(entity))) return null;
  return `${layer.state(entity)}|${JSON.stringify(entity.location)}`;
}

/** A frame's worth of live messages: the latest per entity, applied at once; a layer is
 * redrawn only when what it draws changed. */
function applyBatch(batch) {
  const dirty = new Set();
  let requestsChanged = false;
  let energyChanged = false;
  for (const message of batch.values()) {
    const type = localName(message.type);
    const layer = LAYER_OF_TYPE[type];
    if (!layer) continue;
    const before = drawn(layer, state.entities.get(message.id));
    if (message.kind === "deleted" || !message.matches || !message.entity) state.entities.delete(message.id);
    else state.entities.set(message.id, plain(message.entity));
    if (drawn(layer, state.entities.get(message.id)) !== before) dirty.add(layer);
    requestsChanged ||= type === "Open311ServiceRequest";
    energyChanged ||= type === "Building";
    if (state.selected === message.id) refreshDetails();
  }
  dirty.forEach(redraw);
  if ([...batch.values()].some((m) => localName(m.type) === "Alert")) {
    renderAlerts($("alert-list"), activeAlerts(state.entities.values()), select);
    refreshCap();
  }
  if (requestsChanged) refreshRequests();
  if (energyChanged) refreshEnergy();
  indicators();
}

// -- details and history --------------------------------------------------------------------

function show(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return NUMBER.format(value);
  if (typeof value === "object") {
    if (value["@value"] !== undefined) return String(value["@value"]);
    if (value.type === "Point") return value.coordinates.map((c) => c.toFixed(5)).join(", ");
    return JSON.stringify(value);
  }
  return String(value);
}

function attributeRows(normalized) {
  const rows = [];
  const numeric = [];
  const units = {};
  for (const [key, raw] of Object.entries(normalized)) {
    if (["id", "type", "@context"].includes(key)) continue;
    const name = localName(key);
    const attribute = Array.isArray(raw) ? raw[0] : raw;
    const value = attribute?.value ?? attribute?.object ?? attribute?.languageMap ?? attribute;
    if (typeof value === "number") numeric.push(key);
    if (attribute?.unitCode) units[name] = attribute.unitCode;
    rows.push(el("tr", {},
      el("th", { scope: "row" }, name),
      el("td", {}, show(value), attribute?.unitCode ? ` ${attribute.unitCode}` : ""),
      el("td", { class: "muted" }, attribute?.observedAt || "")));
  }
  return { rows, numeric, units };
}

async function openDetails(id) {
  state.selected = id;
  $("details").hidden = false;
  $("details-title").textContent = id;
  await refreshDetails(true);
  $("details-close").focus();
}

const refreshCharts = debounce(async (id, numeric, units) => {
  const series = numeric.length ? await history(id, numeric) : {};
  if (state.selected !== id) return;
  state.charts.forEach((chart) => chart.destroy());
  $("details-charts").replaceChildren();
  state.charts = historyCharts($("details-charts"), series, { units });
  $("details-charts-note").textContent = state.charts.length ? "" : "No numeric history recorded.";
}, 300);

async function refreshDetails(now = false) {
  const id = state.selected;
  if (!id) return;
  let normalized;
  try {
    normalized = await entity(id);
  } catch (exc) {
    $("details-table").replaceChildren(el("tr", {}, el("td", {}, exc.message)));
    return;
  }
  if (state.selected !== id) return;
  $("details-type").textContent = localName(String(normalized.type));
  const { rows, numeric, units } = attributeRows(normalized);
  $("details-table").replaceChildren(...rows);
  if (now) {
    state.charts.forEach((chart) => chart.destroy());
    state.charts = [];
    $("details-charts").replaceChildren();
  }
  refreshCharts(id, numeric, units);
}

function closeDetails() {
  state.selected = null;
  state.charts.forEach((chart) => chart.destroy());
  state.charts = [];
  $("details").hidden = true;
}

function select(item) {
  const id = item.id || `urn:ngsi-ld:Open311ServiceRequest:${item.service_request_id}`;
  const known = state.entities.get(id);
  const point = anchor(known?.location)
    || (item.long !== undefined && item.lat !== undefined ? [item.long, item.lat] : null);
  if (point) map.easeTo({ center: point, zoom: Math.max(map.getZoom(), 16) });
  openDetails(id);
}

// -- requests, CAP, indicators ---------------------------------------------------------------

const refreshRequests = debounce(async () => {
  try {
    state.requests = await loadRequests();
  } catch (exc) {
    $("queue-list").replaceChildren(el("li", { class: "error" }, exc.message));
    return;
  }
  renderQueue($("queue-list"), $("department"), state.requests.open,
    { onChanged: refreshRequests, onSelect: select });
  indicators();
}, 300);

const refreshCap = debounce(async () => renderCap($("cap-list"), await capWarnings()), 1000);

const refreshEnergy = debounce(async () => {
  try {
    state.energy = await sumsSince("Building", ENERGY_ATTRS, startOfDay());
  } catch {
    state.energy = null;
  }
  indicators();
}, 2000);

function setIndicator(id, text, title = "") {
  const node = $(id);
  node.textContent = text;
  if (title) node.title = title;
}

function indicators() {
  const air = layerEntities(LAYER_OF_TYPE.AirQualityObserved);
  const districts = aqiByDistrict(air, map.basemap.districts);
  $("ind-aqi").replaceChildren(...(Object.keys(districts).length
    ? Object.entries(districts).sort(([a], [b]) => a.localeCompare(b)).map(([name, { aqi, level }]) =>
      el("span", { class: `aqi level-${level || "unknown"}`, title: level || "" }, `${name} ${aqi}`))
    : ["—"]));
  const share = congestionShare(layerEntities(LAYER_OF_TYPE.TrafficFlowObserved));
  setIndicator("ind-congestion", share === null ? "—" : `${Math.round(share * 100)} %`);
  setIndicator("ind-open", String(state.requests.open.length));
  const hours = medianHoursToClose(state.requests.closed);
  setIndicator("ind-close", hours === null ? "—" : hours < 48 ? `${NUMBER.format(hours)} h` : `${NUMBER.format(hours / 24)} d`);
  const energy = state.energy?.energyConsumption;
  setIndicator("ind-energy", energy == null ? "—" : energy >= 1000 ? `${NUMBER.format(energy / 1000)} MWh` : `${NUMBER.format(energy)} kWh`);
  const scopes = [state.energy?.emissionsScope1, state.energy?.emissionsScope2].filter((v) => v != null);
  const co2 = scopes.length ? scopes.reduce((a, b) => a + b, 0) : null;
  setIndicator("ind-co2", co2 === null ? "—" : co2 >= 1000 ? `${NUMBER.format(co2 / 1000)} t` : `${NUMBER.format(co2)} kg`);
}

// -- staff session --------------------------------------------------------------------------

function renderSession() {
  const current = session();
  $("session-user").textContent = current ? `Signed in${current.user ? ` as ${current.user}` : ""}` : "Not signed in";
  $("sign-in").hidden = Boolean(current);
  $("sign-out").hidden = !current;
  renderQueue($("queue-list"), $("department"), state.requests.open, { onChanged: refreshRequests, onSelect: select });
}

function setUpSignIn() {
  const dialog = $("sign-in-dialog");
  $("sign-in").addEventListener("click", () => dialog.showModal());
  $("sign-out").addEventListener("click", () => signOut());
  $("sign-in-cancel").addEventListener("click", () => dialog.close());
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    $("sign-in-error").textContent = "";
    try {
      if (form.get("token")) await useToken(String(form.get("token")).trim());
      else await signIn(String(form.get("username")), String(form.get("password")));
      event.target.reset();
      dialog.close();
    } catch (exc) {
      $("sign-in-error").textContent = form.get("token")
        ? `The token was refused: ${exc.message}` : `Sign-in failed: ${exc.message}`;
    }
  });
  addEventListener("madina:session", renderSession);
}

// -- start ----------------------------------------------------------------------------------

function legend() {
  $("aqi-key").before(...LAYERS.map((layer) => el("label", { class: "toggle" },
    el("input", {
      type: "checkbox", checked: true, "data-layer": layer.id,
      onchange: (event) => mapLayers(layer).forEach((l) => map.setLayoutProperty(l.id, "visibility", event.target.checked ? "visible" : "none")),
    }),
    el("span", { class: `swatch swatch-${layer.id}`, "aria-hidden": "true" }),
    el("span", {}, `${layer.label} (`, el("span", { id: `count-${layer.id}` }, "0"), ")"))));
  $("aqi-key").append(...Object.keys(AQI_COLOURS).map((level) => el("span", { class: `aqi level-${level}` }, level)));
}

async function main() {
  const config = await webConfig();
  // The stream opens before the first load, and what it sends meanwhile waits: no change
  // between the load and the stream is missed, and replaying one the load already saw
  // ends at the same state. The load itself runs while the map starts.
  const waiting = [];
  let loaded = false;
  let resetEarly = false;
  let connected;
  const streaming = new Promise((resolve) => { connected = resolve; });
  const queue = frameBatcher(applyBatch);
  const live = new LiveStream({ type: ALL_TYPES.join(","), options: "keyValues" }, {
    onEvent: (message) => (loaded ? queue(message.id, message) : waiting.push(message)),
    onReset: () => (loaded ? reload() : (resetEarly = true)),
    onStatus: (status) => {
      connected(); // live, or refused: the load goes ahead either way
      $("live-status").textContent = status === "live" ? "Live" : "Reconnecting…";
      $("live-status").className = `status ${status}`;
    },
  }).start();
  const first = streaming.then(snapshot);
  const requests = loadRequests().catch(() => ({ open: [], closed: [] }));
  map = await cityMap($("map"), config);
  for (const layer of LAYERS) {
    map.addSource(`domain-${layer.id}`, { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    mapLayers(layer).forEach((l) => map.addLayer(l));
  }
  legend();
  const clickable = LAYERS.flatMap((layer) => mapLayers(layer).map((l) => l.id));
  map.on("click", (event) => {
    const [hit] = map.queryRenderedFeatures(event.point, { layers: clickable });
    if (hit) openDetails(hit.properties.id);
  });
  map.on("mousemove", (event) => {
    const hits = map.queryRenderedFeatures(event.point, { layers: clickable });
    map.getCanvas().style.cursor = hits.length ? "pointer" : "";
  });
  $("details-close").addEventListener("click", closeDetails);
  $("department").addEventListener("change", () => renderQueue($("queue-list"), $("department"), state.requests.open, { onChanged: refreshRequests, onSelect: select }));
  setUpSignIn();

  await reload(first);
  loaded = true;
  if (resetEarly) await reload();
  waiting.forEach((message) => queue(message.id, message));
  state.requests = await requests;
  renderSession();
  indicators();
  refreshCap();
  refreshEnergy();
  setInterval(refreshCap, 60_000);
  setInterval(refreshRequests, 60_000);
  setInterval(refreshEnergy, 300_000);
  // Alerts also end by the clock (validTo passes) without any change to stream.
  setInterval(() => {
    redraw(LAYER_OF_TYPE.Alert);
    renderAlerts($("alert-list"), activeAlerts(state.entities.values()), select);
  }, 30_000);
  // A handle for operators' browser consoles and the end-to-end tests.
  window.madina = { map, state, live };
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  console.error(error);
  $("live-status").textContent = `Failed to start: ${error.message}`;
});
