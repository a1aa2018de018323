// The home view: search the catalog, filter by facets, page through the results.
//
// The route holds the whole state ("#/search?q=watch&domain=content&domain=billing&offset=20"),
// so back/forward and shared links show the same results. Typing replaces the route (no history
// step per key); Enter, a facet or a page button pushes one.

import { api, isAbort } from "./api.js";
import { badge, clear, empty, errorBox, fill, h, highlighted, loading, marked } from "./dom.js";
import { number, plural, words } from "./format.js";
import { href, navigate, productHref } from "./router.js";

const LIMIT = 20;
const DEBOUNCE_MS = 250;
const SHOWN_VALUES = 8;
// facet name in the response → query parameter, label
const FACETS = [
  ["domain", "domain", "Domain"],
  ["product_type", "type", "Type"],
  ["status", "status", "Status"],
  ["owner", "owner", "Owner"],
  ["tag", "tag", "Tag"],
  ["classification", "classification", "Classification"],
];

function stateOf(route) {
  const p = route.params;
  const offset = Math.max(0, parseInt(p.get("offset") || "0", 10) || 0);
  const filters = Object.fromEntries(FACETS.map(([, param]) => [param, p.getAll(param)]));
  return { q: p.get("q") || "", offset, filters };
}

function hashOf(state) {
  return href("search", [], { q: state.q, ...state.filters, offset: state.offset || null });
}

const hasFilters = (state) => Object.values(state.filters).some((v) => v.length);
const noFilters = () => Object.fromEntries(FACETS.map(([, param]) => [param, []]));

export function mount(root, route, ctx) {
  document.title = "Search — daap";
  let state = stateOf(route);
  let inflight = null;
  let timer = null;
  const expanded = new Set();
  let lastFacets = {};

  const input = h("input", {
    id: "search-input", type: "search", testid: "search-input", value: state.q, autocomplete: "off",
    placeholder: "Search products, objectives, columns, owners…", "aria-describedby": "search-help",
  });
  const form = h("form", { class: "searchbar", role: "search", onsubmit: submit },
    h("label", { for: "search-input", class: "sr-only" }, "Search data products"),
    input,
    h("button", { type: "submit", class: "btn btn-primary" }, "Search"));
  const help = h("p", { id: "search-help", class: "hint" },
    "Full-text over names, business objectives, purposes, personas, tags, ports and columns.");
  const facetsEl = h("aside", { class: "facets", "aria-label": "Filters" });
  const totalEl = h("p", { class: "result-total", testid: "result-total", "aria-live": "polite" });
  const listEl = h("div", { class: "results-body" });
  const pagerEl = h("nav", { class: "pager", "aria-label": "Result pages" });
  const results = h("div", { class: "results" }, totalEl, listEl, pagerEl);

  fill(root, h("div", { class: "page search-view" },
    h("div", { class: "search-head" }, h("h1", { class: "sr-only" }, "Search data products"), form, help),
    h("div", { class: "search-layout" }, facetsEl, results)));

  input.addEventListener("input", () => {
    clearTimeout(timer);
    markStale();
    timer = setTimeout(() => go({ ...state, q: input.value.trim(), offset: 0 }, true), DEBOUNCE_MS);
  });

  function submit(event) {
    event.preventDefault();
    clearTimeout(timer);
    const next = { ...state, q: input.value.trim(), offset: 0 };
    if (hashOf(next) === hashOf(state) && location.hash.startsWith("#/search")) load();
    else go(next, false);
  }

  function go(next, replace) {
    if (hashOf(next) !== location.hash) markStale();
    navigate(hashOf(next), { replace });
  }

  /**
   * Results of the previous query stay on screen, dimmed, until the new ones come; their hooks say
   * so ("result-stale", "result-total-stale"), so a test waiting for a result never finds an old one.
   */
  function markStale() {
    results.setAttribute("aria-busy", "true");
    results.classList.add("is-loading");
    totalEl.dataset.testid = "result-total-stale";
    for (const li of listEl.querySelectorAll('[data-testid="result"]')) li.dataset.testid = "result-stale";
  }

  function toggle(param, value, on) {
    const values = state.filters[param].filter((v) => v !== value);
    if (on) values.push(value);
    go({ ...state, filters: { ...state.filters, [param]: values }, offset: 0 }, false);
  }

  async function load() {
    inflight?.abort();
    const mine = new AbortController();
    inflight = mine;
    ctx.signal.addEventListener("abort", () => mine.abort(), { once: true });
    markStale();
    if (!listEl.firstChild) fill(listEl, loading("Searching…"));
    try {
      const data = await api("/api/products", {
        params: { q: state.q, ...state.filters, limit: LIMIT, offset: state.offset }, signal: mine.signal,
      });
      render(data);
    } catch (err) {
      if (isAbort(err)) return;
      clear(totalEl);
      clear(pagerEl);
      fill(listEl, errorBox(err));
    } finally {
      if (inflight === mine) {
        totalEl.dataset.testid = "result-total";
        results.removeAttribute("aria-busy");
        results.classList.remove("is-loading");
      }
    }
    if (!mine.signal.aborted) ctx.ready();
  }

  function render(data) {
    const items = data?.items || [];
    const total = data?.total ?? items.length;
    lastFacets = data?.facets || {};
    renderFacets(lastFacets);
    // no product has every word: the server ranked those with any of them
    const matching = state.q ? ` matching ${data?.any_word && total ? "some of " : ""}'${state.q}'` : "";
    fill(totalEl, total > items.length
      ? `${number(state.offset + 1)}–${number(state.offset + items.length)} of ${plural(total, "product")}${matching}`
      : `${plural(total, "product")}${matching}`);
    totalEl.dataset.total = String(total);
    if (!items.length) fill(listEl, emptyState());
    else fill(listEl, h("ol", { class: "result-list" }, items.map((item) => resultItem(item, state.q))));
    renderPager(total, items.length);
  }

  function emptyState() {
    const reset = h("button", { type: "button", class: "btn", onclick: () => go({ q: "", offset: 0, filters: noFilters() }, false) }, "Clear search and filters");
    if (state.q) return empty(`No products match '${state.q}'${hasFilters(state) ? " with these filters" : ""}.`, reset);
    if (hasFilters(state)) return empty("No products have all of these filters.", reset);
    return empty("No products to show yet — or none you may discover. Sign in to see more; `daap build` registers products.");
  }

  function renderPager(total, count) {
    clear(pagerEl);
    if (total <= LIMIT && state.offset === 0) return;
    const prev = h("button", { type: "button", class: "btn", disabled: state.offset === 0,
      onclick: () => go({ ...state, offset: Math.max(0, state.offset - LIMIT) }, false) }, "← Previous");
    const next = h("button", { type: "button", class: "btn", disabled: state.offset + count >= total,
      onclick: () => go({ ...state, offset: state.offset + LIMIT }, false) }, "Next →");
    const page = Math.floor(state.offset / LIMIT) + 1;
    fill(pagerEl, prev, h("span", { class: "muted" }, `Page ${page} of ${Math.max(1, Math.ceil(total / LIMIT))}`), next);
  }

  function renderFacets(facets) {
    const active = document.activeElement;
    const focused = active?.dataset?.testid === "facet" ? active.dataset : null;
    const more = active?.dataset?.more;
    const groups = FACETS.map(([key, param, label]) => facetGroup(key, param, label, facets[key] || {}));
    const clearAll = hasFilters(state)
      ? h("button", { type: "button", class: "btn btn-small btn-ghost", onclick: () => go({ ...state, filters: noFilters(), offset: 0 }, false) }, "Clear filters")
      : null;
    fill(facetsEl, h("div", { class: "facets-head" }, h("h2", {}, "Filters"), clearAll), groups.filter(Boolean));
    if (focused) {
      const again = facetsEl.querySelector(`[data-facet="${CSS.escape(focused.facet)}"][data-value="${CSS.escape(focused.value)}"]`);
      again?.focus();
    }
    if (more) facetsEl.querySelector(`[data-more="${CSS.escape(more)}"]`)?.focus();
  }

  function facetGroup(key, param, label, counts) {
    const selected = state.filters[param];
    const values = Object.entries(counts);
    for (const value of selected) if (!(value in counts)) values.unshift([value, 0]);
    if (!values.length) return null;
    const all = expanded.has(key);
    const shown = all ? values : values.filter(([value], i) => i < SHOWN_VALUES || selected.includes(value));
    const list = h("ul", { class: "facet-values" }, shown.map(([value, count], i) => {
      const id = `facet-${param}-${i}`;
      const box = h("input", {
        type: "checkbox", id, checked: selected.includes(value), testid: "facet",
        dataset: { facet: key, param, value }, onchange: (e) => toggle(param, value, e.target.checked),
      });
      return h("li", {}, box, h("label", { for: id }, h("span", { class: "facet-value" }, value), h("span", { class: "count" }, number(count))));
    }));
    const more = values.length > SHOWN_VALUES
      ? h("button", { type: "button", class: "btn-link", "aria-expanded": String(all), dataset: { more: key }, onclick: () => {
          if (all) expanded.delete(key); else expanded.add(key);
          renderFacets(lastFacets);
        } }, all ? "Show fewer" : `Show all ${values.length}`)
      : null;
    return h("fieldset", { class: "facet" }, h("legend", {}, label), list, more);
  }

  load();
  if (!state.q && !route.params.toString()) input.focus({ preventScroll: true });

  return {
    update(next) {
      if (next.view !== "search") return false;
      state = stateOf(next);
      if (document.activeElement !== input && input.value !== state.q) input.value = state.q;
      load();
      return true;
    },
    destroy() {
      clearTimeout(timer);
      inflight?.abort();
    },
  };
}

/** A field shown whole: marked where the server says the search matched it, if that is this field. */
function markedField(item, field, text, q) {
  const snippet = item.snippet;
  return snippet?.field === field && snippet.text === text ? marked(text, snippet.spans, q) : highlighted(text, q);
}

function resultItem(item, q) {
  const snippet = item.snippet && !["name", "business_objective"].includes(item.snippet.field) ? item.snippet : null;
  const objective = item.business_objective || item.purpose || "";
  return h("li", { class: "result", testid: "result", dataset: { name: item.name } },
    h("div", { class: "result-head" },
      h("a", { class: "result-name", href: productHref(item.name) }, markedField(item, "name", item.name, q)),
      item.status ? badge(item.status) : null,
      item.quality ? badge(`quality ${item.quality}`, toneOfQuality(item.quality)) : null),
    objective ? h("p", { class: "result-objective" }, markedField(item, "business_objective", objective, q)) : null,
    snippet ? h("p", { class: "result-snippet" },
      h("span", { class: "snippet-field" }, `matched in ${fieldName(snippet.field)}`), " ",
      marked(snippet.text, snippet.spans, q)) : null,
    h("p", { class: "result-meta" },
      meta("domain", item.domain), meta("type", item.type), meta("owner", item.owner),
      item.latest_version != null ? meta("version", `v${item.latest_version}`) : meta("version", "unpublished"),
      (item.tags || []).length ? h("span", { class: "tags" }, item.tags.map((t) => h("span", { class: "tag" }, t))) : null));
}

/** "business_objective" → "business objective"; "column events.title_id" keeps the column's name. */
function fieldName(field) {
  return String(field).replace(/^[a-z_]+/, (head) => words(head));
}

function meta(label, value) {
  if (value === null || value === undefined || value === "") return null;
  return h("span", { class: "meta-item" }, h("span", { class: "meta-label" }, `${label} `), String(value));
}

export function toneOfQuality(quality) {
  return { passed: "ok", failed: "bad", quarantined: "warn", warning: "warn" }[quality] || "neutral";
}
