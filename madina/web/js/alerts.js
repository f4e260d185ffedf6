// The control room's alerts panel: the domains' active Alert entities (live, from the page's
// entity store) and the public warnings of the CAP feed (/alerts/cap, Atom).

import { call } from "./api.js";
import { age, el } from "./dom.js";
import { SEVERITY_RANK, isActiveAlert } from "./layers.js";

const ATOM = "http://www.w3.org/2005/Atom";

/** Active alerts, most severe first, then newest. */
export function activeAlerts(entities) {
  return [...entities].filter(isActiveAlert).sort((a, b) =>
    (SEVERITY_RANK[b.severity] || 0) - (SEVERITY_RANK[a.severity] || 0)
    || String(b.dateIssued || "").localeCompare(String(a.dateIssued || "")));
}

export function renderAlerts(list, alerts, onSelect) {
  list.replaceChildren(...(alerts.length ? alerts.map((alert) => el("li", { class: `alert severity-${alert.severity || "unknown"}` },
    el("button", { type: "button", class: "link", onclick: () => onSelect(alert) },
      el("strong", {}, [alert.subCategory, alert.category].filter(Boolean).join(" · ") || "alert"),
      " ", el("span", { class: "badge" }, alert.severity || "unknown")),
    el("p", {}, alert.name || alert.description || ""),
    el("p", { class: "muted" }, alert.dateIssued ? `issued ${age(alert.dateIssued, "en")}` : ""),
  )) : [el("li", { class: "muted" }, "No active alerts.")]));
}

/** The CAP feed's entries: [{title, summary, updated, url, categories}]. */
export async function capWarnings() {
  const answer = await call("/alerts/cap");
  if (!answer.ok) return [];
  const doc = new DOMParser().parseFromString(await answer.text(), "application/xml");
  return [...doc.getElementsByTagNameNS(ATOM, "entry")].map((entry) => {
    const text = (name) => entry.getElementsByTagNameNS(ATOM, name)[0]?.textContent || "";
    return {
      title: text("title"), summary: text("summary"), updated: text("updated"),
      url: entry.getElementsByTagNameNS(ATOM, "link")[0]?.getAttribute("href") || "",
      categories: [...entry.getElementsByTagNameNS(ATOM, "category")].map((c) => c.getAttribute("term")),
    };
  });
}

export function renderCap(list, warnings) {
  list.replaceChildren(...(warnings.length ? warnings.map((w) => el("li", { class: "cap" },
    el("a", { href: w.url, target: "_blank", rel: "noopener" }, w.title),
    el("p", {}, w.summary),
    el("p", { class: "muted" }, [w.categories.join(", "), w.updated ? age(w.updated, "en") : ""].filter(Boolean).join(" · ")),
  )) : [el("li", { class: "muted" }, "No current public warnings.")]));
}
