// Hash routing: "#/product/title_popularity/queries" → {view: "product", parts: ["title_popularity",
// "queries"], params}. Back and forward fire "hashchange"; a replaced route (typing in the search box)
// does not add history and calls the listener itself.

import { query } from "./api.js";

const VIEWS = new Set(["search", "product", "lineage", "overview"]);

export function parse(hash) {
  const raw = (hash || "").replace(/^#/, "");
  const [path, search = ""] = raw.split(/\?(.*)/s);
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const name = parts.shift() || "search";
  return { view: VIEWS.has(name) ? name : "notfound", name, parts, params: new URLSearchParams(search) };
}

/** "#/lineage?node=x&depth=2": parts are encoded; params as for api.query (arrays repeat). */
export function href(view, parts = [], params = {}) {
  const path = [view, ...parts].map((p) => encodeURIComponent(p)).join("/");
  return `#/${path}${query(params)}`;
}

export const productHref = (name, tab) => href("product", tab ? [name, tab] : [name]);

let listener = () => {};

export function current() {
  return parse(location.hash);
}

/** Go to a hash; `replace` keeps the history entry (no new back step). */
export function navigate(hash, { replace = false } = {}) {
  if (hash === location.hash) return;
  delete document.body.dataset.ready; // now, not at "hashchange": a test must never see the old view's

  if (replace) {
    history.replaceState(history.state, "", hash);
    listener(current());
  } else {
    location.hash = hash;
  }
}

export function start(onRoute) {
  listener = onRoute;
  window.addEventListener("hashchange", () => listener(current()));
  listener(current());
}
