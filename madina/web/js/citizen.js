// The citizen portal (served at /citizen): report a problem on the map through Open311 after
// seeing what is already reported nearby, follow a report's status, and read the air quality
// and active warnings near a place in plain language, in English, Arabic or Persian.

import { ApiError, OPEN311, call, entities, open311, session, signIn, webConfig } from "./api.js";
import { cityMap, maplibregl } from "./basemap.js";
import { debounce, el } from "./dom.js";
import { anchor, distance } from "./geo.js";
import { LANGUAGES, dateTime, has, lang, number, preferred, setLanguage, t, translate } from "./i18n.js";
import { LiveStream } from "./live.js";

const $ = (id) => document.getElementById(id);
const NEARBY_METRES = 200;
const AIR_METRES = 5000;
const WARNING_METRES = 10000;
const MINE_KEY = "madina.myReports";
const CLOSED = new Set(["closed", "fixed"]);

const state = {
  config: null,
  map: null,
  marker: null,
  spot: null,
  services: [],
  definition: null,
  following: null,
  followStream: null,
  airStream: null,
};

// -- language -------------------------------------------------------------------------------

async function changeLanguage(code) {
  await setLanguage(code);
  $("language").value = code;
  renderServices();
  renderDefinition();
  renderSpot();
  renderMine();
  refreshNearby();
  refreshAir();
  if (state.following) showReport(state.following);
}

// -- tabs (WAI-ARIA tabs pattern: arrow keys move between tabs) -------------------------------

function setUpTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const activate = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (tab.id === "tab-air") refreshAir();
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => activate(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const forward = document.documentElement.dir === "rtl" ? -step : step;
      const next = tabs[(index + forward + tabs.length) % tabs.length];
      next.focus();
      activate(next);
    });
  });
  return (id) => activate($(id));
}

let showTab;

// -- the place ------------------------------------------------------------------------------

function choose(point) {
  state.spot = point;
  state.marker.setLngLat(point).addTo(state.map);
  renderSpot();
  refreshNearby();
  refreshAir();
}

function renderSpot() {
  $("spot").textContent = state.spot
    ? t("report.chosen", { lat: number(state.spot[1], { maximumFractionDigits: 5 }), lon: number(state.spot[0], { maximumFractionDigits: 5 }) })
    : t("report.notChosen");
}

function locate() {
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition((position) => {
    const point = [position.coords.longitude, position.coords.latitude];
    state.map.easeTo({ center: point, zoom: Math.max(state.map.getZoom(), 16) });
    choose(point);
  });
}

function near(point, metres) {
  return { georel: `near;maxDistance==${metres}`, geometry: "Point", coordinates: JSON.stringify(point) };
}

/** The place the air tab is about: the chosen spot, else the map's centre. */
function place() {
  if (state.spot) return state.spot;
  const centre = state.map.getCenter();
  return [centre.lng, centre.lat];
}

// -- open reports on the map and nearby (duplicates) ------------------------------------------

/** The open reports in view, as dots: what is already known around. */
const refreshReports = debounce(async () => {
  const bounds = state.map.getBounds();
  const [w, s, e, n] = [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()];
  const open = await entities({
    type: "Open311ServiceRequest", q: 'status=="open"', georel: "within", geometry: "Polygon",
    coordinates: JSON.stringify([[[w, s], [e, s], [e, n], [w, n], [w, s]]]),
  });
  state.map.getSource("reports").setData({
    type: "FeatureCollection",
    features: open.filter((r) => r.location).map((r) => ({ type: "Feature", geometry: r.location, properties: { id: r.service_request_id } })),
  });
}, 300);


const refreshNearby = debounce(async () => {
  if (!state.spot) return;
  const point = state.spot;
  const found = (await entities({ type: "Open311ServiceRequest", ...near(point, NEARBY_METRES) }))
    .filter((r) => !CLOSED.has(r.status))
    .map((r) => ({ ...r, metres: distance(point, anchor(r.location)) }))
    .sort((a, b) => a.metres - b.metres);
  $("nearby").hidden = false;
  $("nearby-help").textContent = found.length ? t("report.nearbyHelp") : t("report.nearbyNone", { metres: number(NEARBY_METRES) });
  $("nearby-list").replaceChildren(...found.map((r) => el("li", { class: "nearby" },
    el("strong", {}, `#${r.service_request_id} ${r.service_name || r.service_code}`),
    el("p", { lang: "und" }, r.description || ""),
    el("p", { class: "muted" }, `${t("distance", { metres: number(Math.round(r.metres)) })} · ${statusText(r.status)}`),
    el("button", { type: "button", class: "secondary", onclick: () => follow(r.service_request_id) }, t("report.followThis")))));
}, 150);

// -- the report form ------------------------------------------------------------------------

async function loadServices() {
  state.services = await open311("services");
  renderServices();
}

function renderServices() {
  const select = $("service");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, t("report.choose")),
    ...state.services.map((s) => el("option", { value: s.service_code, selected: s.service_code === chosen }, s.service_name)));
}

async function chooseService(code) {
  state.definition = code ? await open311(`services/${encodeURIComponent(code)}`) : null;
  renderDefinition();
}

function renderDefinition() {
  const service = state.services.find((s) => s.service_code === $("service").value);
  $("service-description").textContent = service?.description || "";
  const attributes = [...(state.definition?.attributes || [])].sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  const kept = new FormData($("report-form"));
  $("attributes").replaceChildren(...attributes.map((attribute) => attributeField(attribute, kept)));
}

/** A form field for an Open311 attribute definition, by its datatype. */
function attributeField(attribute, kept) {
  const name = `attribute[${attribute.code}]`;
  const label = attribute.description || attribute.code;
  if (attribute.variable === false) return el("p", { class: "muted" }, label);
  const required = Boolean(attribute.required);
  const caption = el("span", {}, label, required ? el("span", { "aria-hidden": "true" }, " *") : null);
  const values = attribute.values || [];
  switch (attribute.datatype) {
    case "singlevaluelist":
      return el("label", { class: "field" }, caption, el("select", { name, required },
        el("option", { value: "" }, t("report.choose")),
        values.map((v) => el("option", { value: v.key, selected: kept.get(name) === String(v.key) }, v.name))));
    case "multivaluelist":
      return el("fieldset", { class: "choices" }, el("legend", {}, caption),
        values.map((v) => el("label", {}, el("input", { type: "checkbox", name: `${name}[]`, value: v.key }), ` ${v.name}`)));
    case "text":
      return el("label", { class: "field" }, caption, el("textarea", { name, required, rows: 2 }));
    case "number":
      return el("label", { class: "field" }, caption, el("input", { type: "number", step: "any", name, required }));
    case "datetime":
      return el("label", { class: "field" }, caption, el("input", { type: "datetime-local", name, required }));
    default:
      return el("label", { class: "field" }, caption, el("input", { name, required }));
  }
}

function mine() {
  try {
    return JSON.parse(localStorage.getItem(MINE_KEY)) || [];
  } catch {
    return [];
  }
}

function remember(id) {
  localStorage.setItem(MINE_KEY, JSON.stringify([id, ...mine().filter((known) => known !== id)].slice(0, 20)));
  renderMine();
}

function renderMine() {
  const ids = mine();
  $("my-reports").replaceChildren(...(ids.length
    ? ids.map((id) => el("li", {}, el("button", { type: "button", class: "link", onclick: () => follow(id) }, `#${id}`)))
    : [el("li", { class: "muted" }, t("follow.none"))]));
}

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  $("report-error").textContent = "";
  $("report-result").textContent = "";
  if (!state.spot) {
    $("report-error").textContent = t("report.needPlace");
    return;
  }
  if (!form.reportValidity()) return;
  const data = new FormData(form);
  const body = new FormData();
  body.set("lat", String(state.spot[1]));
  body.set("long", String(state.spot[0]));
  if (state.config.open311ApiKey) body.set("api_key", state.config.open311ApiKey);
  for (const [name, value] of data) {
    if (["username", "password"].includes(name) || value === "") continue;
    if (value instanceof File) {
      if (value.size) body.append(name, value);
    } else body.append(name, value);
  }
  $("send").disabled = true;
  $("send").textContent = t("report.sending");
  try {
    if (!state.config.open311ApiKey && !session()) await signIn(String(data.get("username")), String(data.get("password")));
    const hasFile = [...body.values()].some((value) => value instanceof File);
    // Without a photo the spec's own form encoding; with one, multipart (the `media` field).
    const answer = await call(`${OPEN311}/requests.json`, {
      method: "POST", body: hasFile ? body : new URLSearchParams(body),
    });
    const text = await answer.text();
    const result = text ? JSON.parse(text) : null;
    if (!answer.ok) throw new ApiError(answer.status, result);
    const [created] = result;
    if (created.service_request_id) {
      remember(String(created.service_request_id));
      $("report-result").textContent = t("report.thanks", { id: created.service_request_id });
    } else {
      $("report-result").textContent = t("report.thanksToken", { token: created.token });
    }
    form.reset();
    state.definition = null;
    renderDefinition();
    refreshNearby();
    refreshReports();
  } catch (exc) {
    $("report-error").textContent = t("report.failed", { reason: exc.message });
  } finally {
    $("send").disabled = false;
    $("send").textContent = t("report.send");
    $("sign-in").hidden = Boolean(state.config.open311ApiKey || session());
  }
}

// -- following a report ---------------------------------------------------------------------

function statusText(status) {
  return has(`status.${status}`) ? t(`status.${status}`) : status;
}

async function follow(id) {
  showTab("tab-follow");
  $("follow-id").value = id;
  await showReport(String(id));
}

async function lookUp(id) {
  try {
    const [request] = await open311(`requests/${encodeURIComponent(id)}`, { extensions: "true" });
    return request;
  } catch (exc) {
    if (!(exc instanceof ApiError) || exc.status !== 404) throw exc;
  }
  // Not a request number: perhaps the token a batch service answered with.
  try {
    const [token] = await open311(`tokens/${encodeURIComponent(id)}`);
    if (token?.service_request_id) return lookUp(String(token.service_request_id));
  } catch (exc) {
    if (!(exc instanceof ApiError) || exc.status !== 404) throw exc;
  }
  return null;
}

async function showReport(id) {
  const out = $("follow-result");
  let request;
  try {
    request = await lookUp(id);
  } catch (exc) {
    out.replaceChildren(el("p", { class: "error" }, exc.message));
    return;
  }
  if (!request) {
    out.replaceChildren(el("p", { class: "error" }, t("follow.notFound")));
    return;
  }
  if (state.following !== request.service_request_id) watchReport(request.service_request_id);
  state.following = request.service_request_id;
  const notes = request.notes || [];
  // The workflow state (extensions) says more than GeoReport's open/closed.
  const current = request.extended_attributes?.state || request.status;
  out.replaceChildren(el("article", { class: `report status-${request.status}`, "data-status": request.status, "data-state": current },
    el("h3", {}, `#${request.service_request_id} ${request.service_name || request.service_code}`),
    el("p", { class: "status-line" }, t("follow.status", { status: statusText(current) })),
    request.status_notes ? el("p", { lang: "und" }, request.status_notes) : null,
    request.agency_responsible ? el("p", {}, t("follow.department", { department: request.agency_responsible })) : null,
    el("p", { class: "muted" }, t("follow.reported", { when: dateTime(request.requested_datetime) })),
    el("p", { class: "muted" }, t("follow.updated", { when: dateTime(request.updated_datetime) })),
    el("h4", {}, t("follow.history")),
    notes.length ? el("ol", { class: "history" }, notes.map((note) => el("li", {},
      el("strong", {}, statusText(note.state || note.status)), ` · ${dateTime(note.datetime)}`,
      note.description ? el("p", { lang: "und" }, note.description) : null)))
      : el("p", { class: "muted" }, t("follow.noHistory"))));
}

/** Live: the followed report's entity changes re-read its status. */
function watchReport(id) {
  state.followStream?.close();
  const refresh = debounce(() => showReport(id), 200);
  state.followStream = new LiveStream(
    { type: "Open311ServiceRequest", q: `service_request_id==${JSON.stringify(String(id))}`, options: "keyValues", attrs: "status,status_notes" },
    { onEvent: refresh, onReset: async () => refresh() },
  ).start();
}

// -- air and warnings -----------------------------------------------------------------------

const refreshAir = debounce(async () => {
  if (!state.map || $("air").hidden) return;
  const point = place();
  const [stations, alerts] = await Promise.all([
    entities({ type: "AirQualityObserved", ...near(point, AIR_METRES) }),
    entities({ type: "Alert", ...near(point, WARNING_METRES) }),
  ]);
  renderAir(point, stations);
  renderWarnings(alerts.filter((a) => !a.validTo || Date.parse(a.validTo) > Date.now()));
  watchAir(point);
}, 150);

function renderAir(point, stations) {
  const nearest = stations
    .filter((s) => typeof s.airQualityIndex === "number" && s.airQualityLevel)
    .map((s) => ({ ...s, metres: distance(point, anchor(s.location)) }))
    .sort((a, b) => a.metres - b.metres)[0];
  if (!nearest) {
    $("air-now").replaceChildren(el("p", {}, t("air.none")));
    return;
  }
  const level = `air.levels.${nearest.airQualityLevel}`;
  const known = has(level);
  $("air-now").replaceChildren(el("article", { class: "air-now", "data-level": nearest.airQualityLevel },
    el("p", { class: `level aqi level-${known ? nearest.airQualityLevel : "unknown"}` }, known ? t(`${level}.name`) : nearest.airQualityLevel),
    el("p", {}, t("air.index", { aqi: number(nearest.airQualityIndex) })),
    known ? el("p", {}, t(`${level}.meaning`)) : null,
    known ? el("p", { class: "advice" }, t(`${level}.advice`)) : null,
    el("p", { class: "muted" }, t("air.station", { distance: t("distance", { metres: number(Math.round(nearest.metres / 10) * 10) }) }))));
}

function renderWarnings(alerts) {
  $("warnings").replaceChildren(...(alerts.length ? alerts.map((alert) => {
    const kind = has(`warning.${alert.subCategory}`) ? alert.subCategory : "other";
    return el("li", { class: `warning severity-${alert.severity || "unknown"}` },
      el("strong", {}, t(`warning.${kind}.name`)),
      alert.severity ? el("p", {}, t("air.severity", { severity: has(`severity.${alert.severity}`) ? t(`severity.${alert.severity}`) : alert.severity })) : null,
      el("p", { class: "advice" }, t(`warning.${kind}.advice`)),
      alert.description ? el("p", { lang: "en", dir: "ltr", class: "muted" }, alert.description) : null);
  }) : [el("li", { class: "muted" }, t("air.noWarnings"))]));
}

/** Live: changes of stations and alerts around the place refresh the tab. */
function watchAir(point) {
  const key = point.join(",");
  if (state.airStream?.key === key) return;
  state.airStream?.close();
  const box = [point[0] - 0.1, point[1] - 0.05, point[0] + 0.1, point[1] + 0.05];
  state.airStream = new LiveStream({ type: "AirQualityObserved,Alert", bbox: box.join(","), options: "keyValues" },
    { onEvent: refreshAir, onReset: async () => refreshAir() }).start();
  state.airStream.key = key;
}

// -- start ----------------------------------------------------------------------------------

async function main() {
  const language = preferred();
  $("language").replaceChildren(...Object.entries(LANGUAGES).map(([code, { name }]) =>
    el("option", { value: code, lang: code }, name)));
  $("language").addEventListener("change", (event) => changeLanguage(event.target.value));
  await setLanguage(language);
  $("language").value = lang;
  showTab = setUpTabs();
  state.config = await webConfig();
  state.map = await cityMap($("map"), state.config, { rtl: LANGUAGES[lang].dir === "rtl" });
  state.marker = new maplibregl.Marker({ color: "#0b57a4" });
  state.map.addSource("reports", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  state.map.addLayer({ id: "reports", type: "circle", source: "reports", paint: {
    "circle-color": "#6a1b9a", "circle-radius": 6, "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 } });
  state.map.on("moveend", refreshReports);
  refreshReports();
  state.map.on("click", (event) => choose([event.lngLat.lng, event.lngLat.lat]));
  state.map.on("moveend", () => !state.spot && refreshAir());
  for (const button of document.querySelectorAll(".use-location")) button.addEventListener("click", locate);
  document.querySelector(".use-centre").addEventListener("click", () => {
    const centre = state.map.getCenter();
    choose([centre.lng, centre.lat]);
  });
  $("service").addEventListener("change", (event) => chooseService(event.target.value));
  $("report-form").addEventListener("submit", submit);
  $("follow-form").addEventListener("submit", (event) => {
    event.preventDefault();
    follow($("follow-id").value.trim());
  });
  $("sign-in").hidden = Boolean(state.config.open311ApiKey || session());
  renderSpot();
  renderMine();
  translate(document);
  await loadServices();
  const asked = new URLSearchParams(location.search).get("request");
  if (asked) follow(asked);
  // A handle for the browser console and the end-to-end tests.
  window.madina = { map: state.map, state };
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  console.error(error);
  $("report-error").textContent = error.message;
});
