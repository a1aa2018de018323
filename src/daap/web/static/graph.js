// An interactive SVG graph: laid out once (layout.js), drawn once, then only transformed (pan,
// zoom) and re-classed (selection). Nothing is re-laid out per frame, so hundreds of nodes stay fast.
//
//   const g = createGraph({nodes, edges, focus: "titles", onSelect, onOpen});
//   parent.append(g.el);   // the first size it gets, it fits the graph (or centres the focus)

import { h, s } from "./dom.js";
import { layered } from "./layout.js";

const MIN_ZOOM = 0.05;
const MAX_ZOOM = 4;
const NODE_H = 38;
const MAX_LABEL = 28;
let graphs = 0; // marker ids must be unique in the document

/** product | port (product.port) | column (product.port.column) | file | job | dataset */
export function nodeKind(id) {
  const prefix = /^(file|job|dataset):/.exec(id);
  if (prefix) return prefix[1];
  const dots = id.split(".").length - 1;
  return dots >= 2 ? "column" : dots === 1 ? "port" : "product";
}

/** The two lines a node shows: what it is called, and where it lives. */
export function nodeLabels(id) {
  const kind = nodeKind(id);
  const rest = id.slice(kind.length + 1);
  if (kind === "file") {
    const slash = rest.indexOf("/");
    return { kind, main: slash < 0 ? rest : rest.slice(slash + 1), sub: slash < 0 ? "file" : `file · ${rest.slice(0, slash)}` };
  }
  if (kind === "job" || kind === "dataset") {
    const slash = rest.lastIndexOf("/");
    return { kind, main: rest.slice(slash + 1) || rest, sub: slash > 0 ? `${kind} · ${rest.slice(0, slash)}` : kind };
  }
  if (kind === "product") return { kind, main: id, sub: "product" };
  const parts = id.split(".");
  return { kind, main: parts[parts.length - 1], sub: kind }; // its product (and port) captions its group
}

/** Columns of one port (and ports of one product) are drawn together, in a captioned box. */
export function nodeGroup(id) {
  const kind = nodeKind(id);
  return kind === "column" || kind === "port" ? id.slice(0, id.lastIndexOf(".")) : null;
}

function cut(text, max = MAX_LABEL, fromLeft = false) {
  if (text.length <= max) return text;
  return fromLeft ? `…${text.slice(text.length - max + 1)}` : `${text.slice(0, max - 1)}…`;
}

// estimated, not measured: measuring hundreds of texts would force a layout per node
const widthOf = (id, labels) => Math.min(250, Math.max(96, cut(labels.main).length * 7.9 + 26, cut(labels.sub, 34).length * 6.2 + 26,
  (nodeGroup(id)?.length ?? 0) * 6.7));

export function createGraph({ nodes, edges, focus = null, onSelect = () => {}, onOpen = () => {}, label = "Lineage graph" }) {
  const id = ++graphs;
  const t0 = performance.now();
  const info = new Map(nodes.map((n) => [n, nodeLabels(n)]));
  const layout = layered(nodes, edges, { size: (n) => ({ w: widthOf(n, info.get(n)), h: NODE_H }), group: nodeGroup });
  const t1 = performance.now();

  const up = new Map(nodes.map((n) => [n, []]));
  const down = new Map(nodes.map((n) => [n, []]));
  const touching = new Map(nodes.map((n) => [n, []]));
  const nodeEls = new Map();
  const arrow = `graph${id}-arrow`;

  const edgeLayer = s("g", { class: "edges" });
  const nodeLayer = s("g", { class: "nodes" });
  const edgeFrag = document.createDocumentFragment();
  for (const e of edges) {
    const a = layout.boxes.get(e.from);
    const b = layout.boxes.get(e.to);
    if (!a || !b || e.from === e.to) continue;
    const path = s("path", { class: `edge kind-${e.kind || "plain"}`, d: curve(a, b), "marker-end": `url(#${arrow})` },
      s("title", {}, `${e.from} → ${e.to}${e.kind ? ` (${e.kind})` : ""}`));
    edgeFrag.append(path);
    up.get(e.to).push(e.from);
    down.get(e.from).push(e.to);
    touching.get(e.from).push(path);
    touching.get(e.to).push(path);
  }
  edgeLayer.append(edgeFrag);
  const nodeFrag = document.createDocumentFragment();
  for (const n of nodes) {
    const box = layout.boxes.get(n);
    const { kind, main, sub } = info.get(n);
    const g = s("g", {
      class: `node kind-${kind}${n === focus ? " focus" : ""}`, transform: `translate(${box.x},${box.y})`,
      tabindex: "0", role: "button", "aria-label": `${kind} ${n}`, dataset: { testid: "lineage-node", node: n, kind },
    },
    s("title", {}, n),
    s("rect", { class: "node-box", width: box.w, height: box.h, rx: kind === "job" ? 19 : kind === "product" ? 8 : 4 }),
    s("rect", { class: "node-stripe", width: 5, height: box.h - 8, x: 4, y: 4, rx: 2 }),
    s("text", { class: "node-label", x: 15, y: 16 }, cut(main, MAX_LABEL, kind === "file")),
    s("text", { class: "node-sub", x: 15, y: 30 }, cut(sub, 34)));
    nodeEls.set(n, g);
    nodeFrag.append(g);
  }
  nodeLayer.append(nodeFrag);

  const viewport = s("g", { class: "viewport" }, groupBoxes(layout), edgeLayer, nodeLayer);
  const svg = s("svg", {
    class: "graph-svg", tabindex: "0", role: "group", "aria-label": `${label}: ${nodes.length} nodes, ${edges.length} edges`,
    dataset: { testid: "lineage-graph", nodes: String(nodes.length), edges: String(edges.length) },
  },
  s("defs", {},
    marker(arrow, "graph-arrow"), marker(`${arrow}-hl`, "graph-arrow hl")),
  viewport);
  const zoomButton = (text, title, action) => h("button", { type: "button", class: "btn btn-small", title, "aria-label": title, onclick: action }, text);
  const toolbar = h("div", { class: "graph-toolbar", role: "toolbar", "aria-label": "Graph view" },
    zoomButton("+", "Zoom in", () => zoomBy(1.3)),
    zoomButton("−", "Zoom out", () => zoomBy(1 / 1.3)),
    zoomButton("Fit", "Fit the whole graph", () => fit()),
    focus && nodeEls.has(focus) ? zoomButton("Focus", "Centre on the focus node", () => centre(focus)) : null);
  const el = h("div", { class: "graph" }, toolbar, h("div", { class: "graph-canvas" }, svg));

  // ---- pan and zoom: a transform on one <g>, applied at most once per frame
  const view = { k: 1, x: 0, y: 0 };
  let frame = 0;
  const apply = () => {
    frame = 0;
    viewport.setAttribute("transform", `translate(${view.x.toFixed(1)},${view.y.toFixed(1)}) scale(${view.k.toFixed(4)})`);
    svg.classList.toggle("zoomed-out", view.k < 0.45);
  };
  const schedule = () => { frame ||= requestAnimationFrame(apply); };
  const size = () => ({ w: svg.clientWidth || 800, h: svg.clientHeight || 500 });

  function zoomAt(px, py, factor) {
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.k * factor));
    view.x = px - ((px - view.x) * k) / view.k;
    view.y = py - ((py - view.y) * k) / view.k;
    view.k = k;
    schedule();
  }
  function zoomBy(factor) {
    const { w, h: height } = size();
    zoomAt(w / 2, height / 2, factor);
  }
  function fit() {
    const { w, h: height } = size();
    const pad = 24;
    const top = 52; // below the zoom buttons, with room for group captions
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Math.min((w - 2 * pad) / (layout.width || 1), (height - top - pad) / (layout.height || 1), 1.2)));
    Object.assign(view, { k, x: (w - layout.width * k) / 2, y: top + (height - top - pad - layout.height * k) / 2 });
    schedule();
    return k;
  }
  function centre(n, k = Math.max(view.k, 0.8)) {
    const box = layout.boxes.get(n);
    if (!box) return;
    const { w, h: height } = size();
    Object.assign(view, { k, x: w / 2 - (box.x + box.w / 2) * k, y: height / 2 - (box.y + box.h / 2) * k });
    schedule();
  }

  let press = null;
  let dragged = false;
  svg.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    press = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, pointer: e.pointerId };
    dragged = false;
  });
  svg.addEventListener("pointermove", (e) => {
    if (!press) return;
    const dx = e.clientX - press.x;
    const dy = e.clientY - press.y;
    if (!dragged && Math.hypot(dx, dy) < 4) return;
    if (!dragged) {
      dragged = true;
      svg.setPointerCapture(press.pointer);
      svg.classList.add("panning");
    }
    view.x = press.vx + dx;
    view.y = press.vy + dy;
    schedule();
  });
  const release = () => {
    press = null;
    svg.classList.remove("panning");
  };
  svg.addEventListener("pointerup", release);
  svg.addEventListener("pointercancel", release);
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = svg.getBoundingClientRect();
    const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    zoomAt(e.clientX - rect.left, e.clientY - rect.top, Math.exp(-delta * 0.0015));
  }, { passive: false });
  svg.addEventListener("click", (e) => {
    if (dragged) return; // the end of a pan is not a click
    select(e.target.closest?.("[data-node]")?.dataset.node ?? null);
  });
  svg.addEventListener("dblclick", (e) => {
    const n = e.target.closest?.("[data-node]")?.dataset.node;
    if (n) onOpen(n);
  });
  svg.addEventListener("keydown", (e) => {
    const n = e.target.closest?.("[data-node]")?.dataset.node;
    const pan = { ArrowLeft: [60, 0], ArrowRight: [-60, 0], ArrowUp: [0, 60], ArrowDown: [0, -60] }[e.key];
    if (n && (e.key === "Enter" || e.key === " ")) {
      if (e.shiftKey || (e.key === "Enter" && selected === n)) onOpen(n);
      else select(n);
    } else if (pan && !n) {
      view.x += pan[0];
      view.y += pan[1];
      schedule();
    } else if (e.key === "+" || e.key === "=") zoomBy(1.3);
    else if (e.key === "-") zoomBy(1 / 1.3);
    else if (e.key === "0") fit();
    else if (e.key === "Escape") select(null);
    else return;
    e.preventDefault();
  });

  // ---- selection: toggle classes on the node, its neighbours and its edges only
  let selected = null;
  let lit = [];
  function select(n) {
    for (const item of lit) {
      item.classList.remove("sel", "nb", "hl");
      if (item.tagName === "path") item.setAttribute("marker-end", `url(#${arrow})`);
    }
    lit = [];
    selected = n && nodeEls.has(n) ? n : null;
    svg.classList.toggle("has-sel", Boolean(selected));
    if (selected) {
      const me = nodeEls.get(selected);
      me.classList.add("sel");
      lit.push(me);
      for (const other of [...up.get(selected), ...down.get(selected)]) {
        const g = nodeEls.get(other);
        g.classList.add("nb");
        lit.push(g);
      }
      for (const path of touching.get(selected)) {
        path.classList.add("hl");
        path.setAttribute("marker-end", `url(#${arrow}-hl)`);
        lit.push(path);
      }
    }
    onSelect(selected, selected ? { upstream: up.get(selected), downstream: down.get(selected), kind: info.get(selected).kind } : null);
  }

  let placed = false;
  const observer = new ResizeObserver(() => {
    if (placed || !svg.clientWidth) return;
    placed = true;
    const k = fit();
    if (k < 0.35 && focus && nodeEls.has(focus)) centre(focus, 0.75);
  });
  observer.observe(svg);
  apply();

  const stats = { nodes: nodes.length, edges: edges.length, layoutMs: t1 - t0, buildMs: performance.now() - t1 };
  svg.dataset.layoutMs = stats.layoutMs.toFixed(1);
  svg.dataset.buildMs = stats.buildMs.toFixed(1);
  return {
    el, svg, stats, fit, centre, select,
    get selected() { return selected; },
    destroy: () => observer.disconnect(),
  };
}

/** A captioned box behind each run of nodes of one group in a layer. */
function groupBoxes(layout) {
  const layer = s("g", { class: "groups" });
  for (const ids of layout.layers) {
    for (let i = 0; i < ids.length;) {
      const group = nodeGroup(ids[i]);
      let j = i + 1;
      while (j < ids.length && group && nodeGroup(ids[j]) === group) j++;
      if (group) {
        const boxes = ids.slice(i, j).map((id) => layout.boxes.get(id));
        const top = boxes[0].y - 22;
        const width = Math.max(...boxes.map((b) => b.w)) + 12;
        const bottom = boxes[boxes.length - 1].y + boxes[boxes.length - 1].h + 6;
        layer.append(s("rect", { class: "group-box", x: boxes[0].x - 6, y: top, width, height: bottom - top, rx: 8 }),
          s("text", { class: "group-label", x: boxes[0].x, y: top + 14 }, cut(group, Math.floor(width / 6.2), true)));
      }
      i = j;
    }
  }
  return layer;
}

function marker(id, cls) {
  return s("marker", { id, class: cls, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse", markerUnits: "userSpaceOnUse" },
    s("path", { d: "M0,1 L10,5 L0,9 z" }));
}

/** A cubic curve from the right side of a to the left side of b (or around, for a back edge). */
function curve(a, b) {
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x - 2;
  const y2 = b.y + b.h / 2;
  const dx = Math.max(36, Math.abs(x2 - x1) / 2);
  return `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
}
