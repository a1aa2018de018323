// The mesh at a glance: counts, one card per domain, the latest versions, and the product graph.
// From GET /api/overview; a server without it gets the same page built from the search
// (every page of GET /api/products), minus the graph and the recent versions.

import { allPages, api, isAbort } from "./api.js";
import { badge, empty, errorBox, fill, h, link, loading, timeEl } from "./dom.js";
import { number, plural } from "./format.js";
import { createGraph } from "./graph.js";
import { meshProducts } from "./lineage.js";
import { href, navigate, productHref } from "./router.js";
import { toneOfQuality } from "./search.js";

export function mount(root, route, ctx) {
  document.title = "Overview — daap";
  const page = h("div", { class: "page overview-view", testid: "overview" }, h("h1", { class: "page-title" }, "Mesh overview"), loading());
  fill(root, page);
  let graph = null;
  load(ctx.signal).then((data) => {
    if (ctx.signal.aborted) return;
    graph = render(page, data);
    ctx.ready();
  }, (err) => {
    if (isAbort(err)) return;
    fill(page, h("h1", { class: "page-title" }, "Mesh overview"), errorBox(err));
    ctx.ready();
  });
  return { destroy: () => graph?.destroy() };
}

async function load(signal) {
  try {
    return await api("/api/overview", { signal });
  } catch (err) {
    if (err.status !== 404 || err.type === "NotFound") throw err;
  }
  const { items } = await allPages("/api/products", { params: { limit: 100 }, signal, cap: 5000 });
  const count = (key, fallback) => items.reduce((acc, it) => {
    const k = it[key] || fallback;
    acc[k] = (acc[k] || 0) + 1;
    return acc;
  }, {});
  const domains = {};
  for (const it of items) (domains[it.domain || "(none)"] ||= []).push(it.name);
  return {
    products: items.length, domains, by_status: count("status", "unknown"), by_type: count("type", "(none)"),
    quality: count("quality", "unknown"), recent: null, edges: null, partial: true,
  };
}

function render(page, data) {
  const domains = Object.entries(data.domains || {}).map(([name, d]) => ({
    name, products: Array.isArray(d) ? d : d?.products || [], count: Array.isArray(d) ? d.length : d?.count ?? 0,
  }));
  const tiles = h("div", { class: "tiles" },
    tile("Products", number(data.products ?? 0)),
    tile("Domains", number(domains.length)),
    tile("Quality", counts(data.quality, toneOfQuality)),
    tile("Status", counts(data.by_status)),
    tile("Type", counts(data.by_type, () => "neutral")));
  const cards = domains.length
    ? h("div", { class: "domain-grid" }, domains.map(domainCard))
    : empty("No products you may discover yet.");
  const parts = [h("h1", { class: "page-title" }, "Mesh overview"), tiles,
    h("section", { class: "overview-domains", "aria-labelledby": "ov-domains" }, h("h2", { id: "ov-domains" }, "Domains"), cards)];
  if (data.partial) parts.push(h("p", { class: "notice" }, "This server has no overview endpoint: built from the search, without the graph and recent versions."));
  let graph = null;
  const recent = Array.isArray(data.recent) ? recentList(data.recent) : null;
  const graphBox = h("section", { class: "card overview-graph", "aria-labelledby": "ov-graph" },
    h("div", { class: "section-head" }, h("h2", { id: "ov-graph" }, "Product graph"), link(href("lineage"), "Open in the lineage view", { class: "btn btn-small" })));
  if (Array.isArray(data.edges)) {
    const nodes = new Set(meshProducts(data));
    for (const e of data.edges) nodes.add(e.from).add(e.to);
    if (nodes.size) {
      const caption = h("p", { class: "muted graph-caption", "aria-live": "polite" }, "Click a product to highlight its neighbours; double-click to open it.");
      graph = createGraph({
        nodes: [...nodes], edges: data.edges, label: "Product graph of the mesh",
        onSelect: (n) => fill(caption, n ? ["Selected ", link(productHref(n), n), " — double-click to open it."] : "Click a product to highlight its neighbours; double-click to open it."),
        onOpen: (n) => navigate(productHref(n)),
      });
      graphBox.append(graph.el, caption);
      if (data.edges_total > data.edges.length) graphBox.append(h("p", { class: "muted" }, `${number(data.edges.length)} of ${number(data.edges_total)} edges drawn.`));
    } else graphBox.append(empty("No lineage between products yet."));
  }
  parts.push(h("div", { class: "overview-bottom" }, recent, Array.isArray(data.edges) ? graphBox : null));
  fill(page, parts);
  return graph;
}

function tile(label, value) {
  return h("div", { class: "tile card" }, h("p", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value));
}

function counts(map, tone) {
  const entries = Object.entries(map || {});
  if (!entries.length) return h("span", { class: "muted" }, "—");
  return h("span", { class: "tags" }, entries.map(([k, n]) => badge(`${k} ${number(n)}`, tone ? tone(k) : undefined)));
}

function domainCard(d) {
  const more = d.count - d.products.length;
  return h("article", { class: "domain card", dataset: { domain: d.name } },
    h("h3", {}, link(href("search", [], { domain: d.name }), d.name), h("span", { class: "muted" }, ` · ${plural(d.count, "product")}`)),
    h("ul", {}, d.products.map((name) => h("li", {}, link(productHref(name), name)))),
    more > 0 ? h("p", {}, link(href("search", [], { domain: d.name }), `and ${number(more)} more…`)) : null);
}

function recentList(items) {
  return h("section", { class: "card overview-recent", "aria-labelledby": "ov-recent" },
    h("h2", { id: "ov-recent" }, "Recently published"),
    items.length
      ? h("ol", { class: "recent-list" }, items.map((r) => h("li", {},
          link(productHref(r.name), r.name), " ",
          h("span", { class: "muted" }, r.latest_version != null ? `v${r.latest_version} · ` : ""), timeEl(r.published_at))))
      : empty("Nothing published yet."));
}
