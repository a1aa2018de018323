// DOM building without innerHTML: product data is untrusted, so every text goes in as a text node.
//
//   h("a", {href: "#/", class: "brand", dataset: {testid: "home"}}, "daap")
//   h("button", {type: "button", onclick: () => go()}, "Go")

import { absoluteTime, relativeTime, showValue } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key === "testid") el.dataset.testid = value;
    else if (key in el && typeof value !== "string") el[key] = value; // checked, disabled, value as property
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: `h(tag, attrs?, ...children)`; strings become text nodes, null/false are skipped. */
export function h(tag, attrs, ...children) {
  if (attrs instanceof Node || typeof attrs !== "object" || attrs === null || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  return append(apply(document.createElement(tag), attrs), children);
}

/** An SVG element, same calling convention as {@link h}. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  return append(el, children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  return append(clear(el), children);
}

const TONES = {
  active: "ok", passed: "ok", met: "ok", ok: "ok", published: "ok", healthy: "ok", insert: "ok",
  deprecated: "warn", warn: "warn", warning: "warn", quarantined: "warn", update: "warn", degraded: "warn",
  failed: "bad", fail: "bad", breached: "bad", error: "bad", retired: "bad", deleted: "bad", delete: "bad",
  unhealthy: "bad", tombstone: "bad",
};

/** A small label; its colour follows the word (passed → green, failed → red) unless `tone` is given. */
export function badge(text, tone, title) {
  const word = String(text ?? "unknown");
  return h("span", { class: `badge tone-${tone || TONES[word.toLowerCase()] || "neutral"}`, title }, word);
}

/** `<time>` showing "3 minutes ago", the absolute time in its tooltip. */
export function timeEl(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return h("span", {}, String(iso));
  return h("time", { datetime: when.toISOString(), title: absoluteTime(when) }, relativeTime(when));
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}

/** The error box every view shows: message, hint, and what the server called it. */
export function errorBox(err, testid = "page-error", extra = null) {
  const box = h("div", { class: "error-box", role: "alert", testid },
    h("p", { class: "error-message" }, err?.message || String(err)),
    err?.hint ? h("p", { class: "error-hint" }, err.hint) : null,
    err?.status ? h("p", { class: "error-meta" }, `${err.type || "Error"} · HTTP ${err.status}`) : null,
    err?.status === 401 || err?.status === 403 ? signInButton() : null,
    extra);
  return box;
}

function signInButton() {
  const ask = () => document.dispatchEvent(new CustomEvent("daap:signin"));
  return h("p", {}, h("button", { type: "button", class: "btn btn-small", onclick: ask }, "Sign in with another token"));
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

export function empty(text, ...more) {
  return h("div", { class: "empty" }, h("p", {}, text), ...more);
}

/** A table of row objects; columns default to the union of the rows' keys, in first-seen order. */
export function rowsTable(rows, { columns, testid, caption } = {}) {
  const names = columns || [...new Set(rows.flatMap((r) => Object.keys(r || {})))];
  const head = h("tr", {}, names.map((n) => h("th", { scope: "col" }, n)));
  const body = rows.map((row) =>
    h("tr", {}, names.map((n) => {
      const value = row?.[n];
      const text = showValue(value);
      return h("td", { class: value === null || value === undefined ? "null" : typeof value === "number" ? "num" : null,
        title: text.length > 40 ? text : null }, text);
    })));
  return h("div", { class: "table-wrap", testid },
    h("table", { class: "data rows" }, caption ? h("caption", {}, caption) : null, h("thead", {}, head), h("tbody", {}, body)));
}

/** A `<section>` with a stable id and heading; returns [section, body] so callers fill the body later. */
export function section(id, title, ...intro) {
  const body = h("div", { class: "section-body" });
  const el = h("section", { id, class: "card", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title`, tabindex: "-1" }, title), ...intro, body);
  return [el, body];
}

/** Wrap query words in `<mark>` inside text (case-insensitive prefix match), as DOM nodes. */
/** `text` with the server's matched `spans` ([start, end] offsets) marked; else as {@link highlighted}. */
export function marked(text, spans, query) {
  const valid = (spans || []).filter(([a, b]) => Number.isInteger(a) && Number.isInteger(b) && a < b);
  if (!valid.length) return highlighted(text, query);
  const chars = Array.from(String(text)); // the server counts code points, not UTF-16 units
  const cut = (a, b) => chars.slice(a, b).join("");
  const out = [];
  let at = 0;
  for (const [a, b] of [...valid].sort((x, y) => x[0] - y[0])) {
    if (a < at) continue; // overlapping: keep the first
    out.push(cut(at, a), h("mark", {}, cut(a, b)));
    at = b;
  }
  out.push(cut(at));
  return out;
}

export function highlighted(text, query) {
  const words = String(query || "").toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter((w) => w.length > 1);
  if (!words.length) return [String(text)];
  const out = [];
  for (const part of String(text).split(/([\p{L}\p{N}_]+)/u)) {
    const lower = part.toLowerCase();
    out.push(words.some((w) => lower.startsWith(w)) ? h("mark", {}, part) : part);
  }
  return out;
}
