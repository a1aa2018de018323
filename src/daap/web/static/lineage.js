// The lineage view: "#/lineage?node=titles&depth=2&level=product|column" — the graph around a
// node, every page of its edges, with a details panel for the selected node.
// Without a node it shows the whole mesh's product graph (from the overview).

import { allPages, api, isAbort } from "./api.js";
import { badge, empty, errorBox, fill, h, link, loading } from "./dom.js";
import { number, plural } from "./format.js";
import { createGraph, nodeKind } from "./graph.js";
import { href, navigate, productHref } from "./router.js";

const MAX_EDGES = 5000;
const DEPTHS = [1, 2, 3, 4, 5];

function stateOf(route) {
  const p = route.params;
  const depth = Math.min(10, Math.max(1, parseInt(p.get("depth") || "2", 10) || 2));
  return { node: (p.get("node") || "").trim(), depth, level: p.get("level") === "column" ? "column" : "product" };
}

const hashOf = (st) => href("lineage", [], { node: st.node, depth: st.depth, level: st.level === "column" ? "column" : null });

/** The product a node belongs to: "titles.titles.title" → titles, "file:titles/x.csv" → titles. */
export function productOf(node) {
  const kind = nodeKind(node);
  if (kind === "file") return node.slice(5).split("/")[0] || null;
  if (kind === "job" || kind === "dataset") return null;
  return node.split(".")[0];
}

export function mount(root, route, ctx) {
  let state = stateOf(route);
  let graph = null;
  let inflight = null;

  const nodeInput = h("input", { id: "lineage-node", type: "text", value: state.node, placeholder: "a product, product.port.column or file:…", autocomplete: "off" });
  const depthSelect = h("select", { id: "lineage-depth", onchange: () => go({ ...state, depth: Number(depthSelect.value) }) },
    DEPTHS.map((d) => h("option", { value: String(d) }, String(d))));
  const levels = ["product", "column"].map((level) => {
    const input = h("input", { type: "radio", name: "lineage-level", id: `lineage-level-${level}`, value: level,
      checked: state.level === level, onchange: () => go({ ...state, level }) });
    return h("span", { class: "segment" }, input, h("label", { for: `lineage-level-${level}` }, level === "product" ? "Products" : "Columns"));
  });
  const form = h("form", { class: "lineage-controls card", onsubmit: (e) => {
    e.preventDefault();
    go({ ...state, node: nodeInput.value.trim() });
  } },
  h("div", { class: "control" }, h("label", { for: "lineage-node" }, "Node"), nodeInput),
  h("div", { class: "control" }, h("label", { for: "lineage-depth" }, "Depth"), depthSelect),
  h("fieldset", { class: "control segmented" }, h("legend", {}, "Level"), levels),
  h("button", { type: "submit", class: "btn btn-primary" }, "Show"));
  const status = h("p", { class: "graph-status", role: "status" });
  const host = h("div", { class: "graph-host" });
  const details = h("aside", { class: "details card", "aria-label": "Selected node", "aria-live": "polite" });
  fill(root, h("div", { class: "page lineage-view" },
    h("h1", { class: "page-title" }, "Lineage"),
    form, status,
    h("div", { class: "lineage-layout" }, host, details),
    legend()));

  function go(next) {
    navigate(hashOf(next));
  }

  function sync() {
    if (document.activeElement !== nodeInput) nodeInput.value = state.node;
    if (![...depthSelect.options].some((o) => o.value === String(state.depth))) {
      depthSelect.append(h("option", { value: String(state.depth) }, String(state.depth))); // a deeper link
    }
    depthSelect.value = String(state.depth);
    for (const radio of form.querySelectorAll("input[type=radio]")) radio.checked = radio.value === state.level;
  }

  async function load() {
    document.title = `${state.node ? `Lineage of ${state.node}` : "Mesh lineage"} — daap`;
    inflight?.abort();
    const mine = new AbortController();
    inflight = mine;
    ctx.signal.addEventListener("abort", () => mine.abort(), { once: true });
    graph?.destroy();
    graph = null;
    sync();
    fill(host, loading("Loading the lineage…"));
    fill(status);
    showDetails(null);
    try {
      const data = state.node ? await around(state, mine.signal) : await wholeMesh(mine.signal);
      if (mine.signal.aborted) return;
      draw(data);
    } catch (err) {
      if (isAbort(err)) return;
      fill(host, errorBox(err));
    }
    if (!mine.signal.aborted) ctx.ready();
  }

  function draw({ nodes, edges, focus, notes }) {
    if (!nodes.length) {
      fill(host, empty(state.node ? `No lineage around ${state.node}.` : "Type a product (or product.port.column, file:…) above to draw its lineage."));
      return;
    }
    graph = createGraph({
      nodes, edges, focus,
      onSelect: (n, links) => showDetails(n, links),
      onOpen: (n) => go({ ...state, node: n }),
    });
    fill(host, graph.el);
    const timing = `laid out in ${graph.stats.layoutMs.toFixed(0)} ms`;
    fill(status, `${plural(nodes.length, "node")} · ${plural(edges.length, "edge")} · ${timing}`,
      notes.map((note) => h("span", { class: "graph-note" }, note)));
  }

  function showDetails(n, links) {
    if (!n) {
      fill(details, h("h2", {}, "Details"),
        h("p", { class: "muted" }, "Click a node to see what it reads and who reads it; double-click (or Shift+Enter) to centre the graph on it."),
        h("p", { class: "muted" }, "Drag to pan, scroll or use + / − to zoom, 0 to fit."));
      return;
    }
    const product = productOf(n);
    const list = (title, ids) => h("div", {}, h("h3", {}, `${title} (${number(ids.length)})`),
      ids.length ? h("ul", { class: "neighbours" }, ids.map((other) =>
        h("li", {}, h("button", { type: "button", class: "btn-link", onclick: () => graph?.select(other) }, other)))) : h("p", { class: "muted" }, "none"));
    fill(details,
      h("h2", {}, "Details"),
      h("p", {}, badge(links.kind, "kind"), " ", h("code", { class: "node-id" }, n)),
      h("div", { class: "detail-actions" },
        product && links.kind !== "file" ? link(productHref(product), `Open ${product}`, { class: "btn btn-small" }) : null,
        n !== state.node ? h("button", { type: "button", class: "btn btn-small", onclick: () => go({ ...state, node: n }) }, "Centre the graph here") : null),
      list("Reads", links.upstream), list("Read by", links.downstream));
  }

  load();
  return {
    update(next) {
      if (next.view !== "lineage") return false;
      state = stateOf(next);
      load();
      return true;
    },
    destroy() {
      inflight?.abort();
      graph?.destroy();
    },
  };
}

async function around(state, signal) {
  const params = { node: state.node, depth: state.depth, limit: 1000, level: state.level === "column" ? "column" : null };
  const { first, items, truncated } = await allPages("/api/lineage", { params, signal, key: "edges", cap: MAX_EDGES });
  const focus = first?.node || state.node;
  // the server names the nodes it starts at (a product's columns, at column level), the focus among them
  const nodes = new Set(first?.nodes?.length ? first.nodes : [focus]);
  for (const e of items) nodes.add(e.from).add(e.to);
  const notes = [];
  if (truncated) notes.push(`only the first ${number(MAX_EDGES)} of ${number(first?.total ?? items.length)} edges are drawn`);
  if (first?.capped) notes.push(`depth capped at ${first.depth}`);
  if (state.level === "column" && ![...nodes].some((n) => nodeKind(n) === "column")) {
    notes.push("this server answered with product-level lineage only");
  }
  return { nodes: [...nodes], edges: items, focus, notes };
}

/** No node: every product and the edges between them, from GET /api/overview. */
async function wholeMesh(signal) {
  let data;
  try {
    data = await api("/api/overview", { signal });
  } catch (err) {
    if (err.status !== 404 || err.type === "NotFound") throw err;
    return { nodes: [], edges: [], focus: null, notes: [] }; // no overview here: ask for a node
  }
  const nodes = new Set(meshProducts(data));
  for (const e of data?.edges || []) nodes.add(e.from).add(e.to);
  const notes = ["the whole mesh, products only: pick a node for files, ports and columns"];
  if (data?.edges_total > (data?.edges || []).length) notes.push(`${number(data.edges.length)} of ${number(data.edges_total)} edges`);
  return { nodes: [...nodes], edges: data?.edges || [], focus: null, notes };
}

/** The product names of an overview; its domains are {domain: {count, products}} or {domain: [names]}. */
export function meshProducts(overview) {
  return Object.values(overview?.domains || {}).flatMap((d) => (Array.isArray(d) ? d : d?.products || []));
}

function legend() {
  const kinds = [["product", "product"], ["port", "port"], ["column", "column"], ["file", "file"], ["job", "outside job"], ["dataset", "outside dataset"]];
  return h("div", { class: "legend", "aria-label": "Legend" },
    kinds.map(([kind, text]) => h("span", { class: `legend-item kind-${kind}` }, h("span", { class: "swatch", "aria-hidden": "true" }), text)),
    h("span", { class: "legend-item" }, h("span", { class: "line line-direct", "aria-hidden": "true" }), "direct"),
    h("span", { class: "legend-item" }, h("span", { class: "line line-derived", "aria-hidden": "true" }), "derived"),
    h("span", { class: "legend-item" }, h("span", { class: "line line-filter", "aria-hidden": "true" }), "filter"));
}
