// The control room's service-request queue: open Open311 requests per department (public
// GeoReport v2 reads, with the workflow state of the extensions), and for signed-in staff
// the moves of the admin API (acknowledge, in progress, fixed, a public note).

import { moveRequest, open311, session } from "./api.js";
import { age, el } from "./dom.js";

const UNASSIGNED = "(no department yet)";

/** Open requests grouped by the department responsible: Map(department → requests), oldest
 * first (the longest waiting at the top of each queue). */
export function byDepartment(requests) {
  const groups = new Map();
  const sorted = [...requests].sort((a, b) => String(a.requested_datetime).localeCompare(String(b.requested_datetime)));
  for (const request of sorted) {
    const department = request.agency_responsible || UNASSIGNED;
    if (!groups.has(department)) groups.set(department, []);
    groups.get(department).push(request);
  }
  return new Map([...groups].sort(([a], [b]) => a.localeCompare(b)));
}

export async function loadRequests() {
  const [open, closed] = await Promise.all([
    open311("requests", { status: "open", page_size: 1000, extensions: "true" }),
    open311("requests", { status: "closed", page_size: 1000 }),
  ]);
  return { open, closed };
}

/** Render the queue of `department` ("" for all) into `list`; `onChanged` after a status
 * change, `onSelect(request)` to show one on the map. */
export function renderQueue(list, select, open, { onChanged, onSelect }) {
  const groups = byDepartment(open);
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, `All departments (${open.length})`),
    ...[...groups].map(([name, items]) => el("option", { value: name, selected: name === chosen }, `${name} (${items.length})`)));
  const staff = Boolean(session()?.access);
  const shown = [...groups].filter(([name]) => !select.value || name === select.value);
  list.replaceChildren(...(shown.length ? shown.map(([name, items]) => el("li", { class: "department" },
    el("h3", {}, name),
    el("ol", {}, items.map((request) => requestItem(request, staff, onChanged, onSelect))),
  )) : [el("li", { class: "muted" }, "No open requests.")]));
}

const MOVES = [
  ["acknowledged", "Acknowledge"],
  ["in_progress", "In progress"],
  ["fixed", "Mark fixed"],
];

function requestItem(request, staff, onChanged, onSelect) {
  const id = request.service_request_id;
  const state = request.extended_attributes?.state || request.status;
  const error = el("p", { class: "error", role: "alert" });
  const notes = el("input", { type: "text", name: "notes", maxlength: "4000", "aria-label": `Public note for request ${id}`, placeholder: "Public note (optional)" });
  const move = async (to) => {
    error.textContent = "";
    const note = notes.value.trim();
    if (!to && !note) {
      error.textContent = "Write the note first.";
      return;
    }
    try {
      await moveRequest(id, { state: to, notes: note });
      onChanged();
    } catch (exc) {
      error.textContent = exc.message;
    }
  };
  return el("li", { class: "request", "data-request": id, "data-state": state },
    el("button", { type: "button", class: "link", onclick: () => onSelect(request) },
      el("strong", {}, `#${id} ${request.service_name || request.service_code}`)),
    " ", el("span", { class: "badge" }, state.replace("_", " ")),
    el("p", {}, request.description || request.address || ""),
    el("p", { class: "muted" }, `reported ${age(request.requested_datetime, "en")}`),
    staff ? el("div", { class: "actions" }, notes,
      ...MOVES.filter(([to]) => to !== state).map(([to, label]) =>
        el("button", { type: "button", class: to === "fixed" ? null : "secondary", onclick: () => move(to) }, label)),
      el("button", { type: "button", class: "secondary", onclick: () => move(null) }, "Add note")) : null,
    error);
}
