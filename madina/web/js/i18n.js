// Translations for the citizen portal: one JSON file per language in /web/i18n/, texts
// looked up by key, `{name}` placeholders filled in; right-to-left languages set dir="rtl"
// on the page, and the CSS (logical properties only) mirrors the layout by itself.

export const LANGUAGES = {
  en: { name: "English", dir: "ltr" },
  ar: { name: "العربية", dir: "rtl" },
  fa: { name: "فارسی", dir: "rtl" },
};
const STORAGE_KEY = "madina.lang";

let texts = {};
let fallback = {};
export let lang = "en";

/** The language to start in: `?lang=`, then the one chosen before, then the browser's. */
export function preferred() {
  const asked = new URLSearchParams(location.search).get("lang");
  const candidates = [asked, localStorage.getItem(STORAGE_KEY), ...navigator.languages.map((l) => l.slice(0, 2))];
  return candidates.find((code) => code && code in LANGUAGES) || "en";
}

async function load(code) {
  const answer = await fetch(`/web/i18n/${code}.json`);
  return answer.json();
}

/** Switch the page to `code`: load its texts, set lang/dir, translate every marked node. */
export async function setLanguage(code) {
  if (!(code in LANGUAGES)) code = "en";
  [texts, fallback] = await Promise.all([load(code), code === "en" ? null : load("en")]);
  fallback = fallback || texts;
  lang = code;
  localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
  document.documentElement.dir = LANGUAGES[code].dir;
  translate(document);
}

/** The text of `key` (dotted path) with `{name}` filled from `values`; the English text
 * when the language lacks it, the key itself when English does too. */
export function t(key, values = {}) {
  const find = (table) => key.split(".").reduce((node, part) => node?.[part], table);
  const text = find(texts) ?? find(fallback) ?? key;
  return String(text).replace(/\{(\w+)\}/g, (_, name) => (name in values ? values[name] : `{${name}}`));
}

export function has(key) {
  return key.split(".").reduce((node, part) => node?.[part], texts) !== undefined;
}

/** Translate nodes marked data-i18n (text), data-i18n-placeholder, data-i18n-label
 * (aria-label) and data-i18n-title under `root`. */
export function translate(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
}

export function number(value, options = {}) {
  return new Intl.NumberFormat(lang, options).format(value);
}

export function dateTime(iso) {
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? "" : new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(moment);
}
