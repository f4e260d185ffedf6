// Talking to Madina's public APIs: NGSI-LD, Open311 and the token endpoint. The pages are
// ordinary API clients; nothing here knows more about the server than its documented routes.

const NGSI = "/ngsi-ld/v1";
const TOKEN_KEY = "madina.session";
const PAGE = 1000; // MADINA_MAX_LIMIT's default: the largest page a query may ask for

/** The tenant the page works in (`?tenant=` in its address), "" for the default one. */
export const tenant = new URLSearchParams(location.search).get("tenant") || "";

/** The signed-in session of this tab: {access, refresh, user}, or null. Kept in
 * sessionStorage, so it ends with the tab and is never shared with another site. */
export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(TOKEN_KEY));
  } catch {
    return null;
  }
}

export function setSession(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, JSON.stringify(value));
  else sessionStorage.removeItem(TOKEN_KEY);
  dispatchEvent(new CustomEvent("madina:session", { detail: value }));
}

/** An error answer, with the message the API gave (ProblemDetails or Open311 error list). */
export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
  }
}

function describe(status, body) {
  if (Array.isArray(body)) return body.map((e) => e.description).join("; ");
  if (body && typeof body === "object") {
    return body.detail || body.error_description || body.title || `HTTP ${status}`;
  }
  return `HTTP ${status}`;
}

export function headers(extra = {}) {
  const out = { ...extra };
  if (tenant) out["NGSILD-Tenant"] = tenant;
  const current = session();
  if (current?.access) out.Authorization = `Bearer ${current.access}`;
  return out;
}

/** fetch() with the tenant and credential. A refused credential (expired, revoked) is
 * refreshed once if it can be, else the session ends and the call is made again without it:
 * public reads go on working and the page shows that it is signed out. */
export async function call(path, options = {}, retried = false) {
  const answer = await fetch(path, { ...options, headers: headers(options.headers) });
  if (answer.status === 401 && !retried && session()) {
    if (!(session().refresh && (await refresh()))) setSession(null);
    return call(path, options, true);
  }
  return answer;
}

/** The answer's JSON, or an ApiError for a 4xx/5xx. */
export async function json(path, options = {}) {
  const answer = await call(path, options);
  const text = await answer.text();
  const body = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, body);
  return body;
}

async function token(form) {
  const answer = await fetch("/auth/token", {
    method: "POST",
    headers: tenant ? { "NGSILD-Tenant": tenant } : {},
    body: new URLSearchParams(form),
  });
  const body = await answer.json().catch(() => null);
  if (!answer.ok) throw new ApiError(answer.status, body);
  return body;
}

export async function signIn(username, password) {
  const body = await token({ grant_type: "password", username, password });
  setSession({ access: body.access_token, refresh: body.refresh_token, user: username });
}

/** A bearer token pasted as is (the admin token `madina demo` prints, automation's),
 * kept only once the server accepts it. */
export async function useToken(access) {
  const answer = await fetch(`${NGSI}/types`, { headers: { ...headers(), Authorization: `Bearer ${access}` } });
  if (answer.status === 401) throw new ApiError(401, await answer.json().catch(() => null));
  setSession({ access, refresh: null, user: null });
}

async function refresh() {
  const current = session();
  try {
    const body = await token({ grant_type: "refresh_token", refresh_token: current.refresh });
    setSession({ ...current, access: body.access_token, refresh: body.refresh_token });
    return true;
  } catch {
    setSession(null);
    return false;
  }
}

/** End the sign-in on the server too (its refresh tokens), then here. */
export async function signOut() {
  if (session()?.refresh) await fetch("/auth/logout", { method: "POST", headers: headers() }).catch(() => null);
  setSession(null);
}

// -- NGSI-LD -------------------------------------------------------------------------------

/** The local name of a term or IRI: derived attributes may come back expanded when the
 * writer used another @context than the core one. */
export function localName(name) {
  return name.replace(/^.*[/#]/, "");
}

/** A keyValues entity with local names and DateTime values as plain strings. */
export function plain(entity) {
  const out = {};
  for (const [key, value] of Object.entries(entity)) {
    const name = key === "id" || key === "type" ? key : localName(key);
    out[name] = value && typeof value === "object" && "@value" in value ? value["@value"] : value;
  }
  out.type = localName(String(entity.type));
  return out;
}

/** Every entity matching `params` (paged through), as plain keyValues objects. */
export async function entities(params) {
  const all = [];
  for (let offset = 0; ; offset += PAGE) {
    const query = new URLSearchParams({ ...params, options: "keyValues", limit: PAGE, offset });
    const page = await json(`${NGSI}/entities?${query}`);
    all.push(...page.map(plain));
    if (page.length < PAGE) return all;
  }
}

/** One entity, normalized (values with their observedAt and unitCode). */
export function entity(id) {
  return json(`${NGSI}/entities/${encodeURIComponent(id)}`);
}

/** The last `lastN` values of each of `attrs` of an entity: {attr: [[time_s], [value]]}. */
export async function history(id, attrs, lastN = 500) {
  const query = new URLSearchParams({ attrs: attrs.join(","), options: "temporalValues", lastN });
  const body = await json(`${NGSI}/temporal/entities/${encodeURIComponent(id)}?${query}`);
  const out = {};
  for (const [key, attribute] of Object.entries(body)) {
    const instance = Array.isArray(attribute) ? attribute[0] : attribute;
    if (!instance || !Array.isArray(instance.values)) continue;
    const pairs = instance.values
      .filter(([value]) => typeof value === "number")
      .map(([value, at]) => [Date.parse(at) / 1000, value])
      .sort((a, b) => a[0] - b[0]);
    out[localName(key)] = [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
  }
  return out;
}

/** Sums of `attrs` over every entity of `type` since `since` (a Date): {attr: total}. */
export async function sumsSince(type, attrs, since) {
  const query = new URLSearchParams({
    type, attrs: attrs.join(","), timerel: "after", timeAt: since.toISOString(),
    options: "aggregatedValues", aggrMethods: "sum", aggrPeriodDuration: "P1D", limit: PAGE,
  });
  const body = await json(`${NGSI}/temporal/entities?${query}`);
  const totals = Object.fromEntries(attrs.map((a) => [a, null]));
  for (const item of body) {
    for (const [key, attribute] of Object.entries(item)) {
      const name = localName(key);
      if (!(name in totals)) continue;
      for (const instance of Array.isArray(attribute) ? attribute : [attribute]) {
        for (const [value] of instance?.sum || []) {
          if (typeof value === "number") totals[name] = (totals[name] || 0) + value;
        }
      }
    }
  }
  return totals;
}

// -- Open311 -------------------------------------------------------------------------------

export const OPEN311 = "/open311/v2";

export function open311(path, params = {}) {
  const query = new URLSearchParams(params);
  return json(`${OPEN311}/${path}.json${query.size ? `?${query}` : ""}`);
}

/** Staff: move a request to another workflow `state` (acknowledged, in_progress, fixed,
 * closed…), add a public note, or both (the admin API). */
export function moveRequest(id, { state, notes }) {
  const body = {};
  if (state) body.state = state;
  if (notes) body.status_notes = notes;
  return json(`${OPEN311}/admin/requests/${encodeURIComponent(id)}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** The dashboards' settings (basemap layers, tiles, the portal's api_key). */
export function webConfig() {
  return json("/web/config");
}
