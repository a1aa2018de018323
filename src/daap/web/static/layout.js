// A layered left-to-right layout for a directed graph (pure: ids and edges in, boxes out).
//
// 1. Cycles (there should be none in lineage, but a bad event can make one) are broken by
//    reversing the back edges a depth-first search finds.
// 2. Layers: longest path from the sources; then each source moves right next to its nearest
//    reader, so a file read by a deep product does not sit at the far left.
// 3. Order in a layer: barycentre of the neighbours' positions, sweeping down then up, keeping
//    the order with the fewest crossings between adjacent layers.
// 4. y: each node moves towards its neighbours' mean, packed with a minimum gap (forward and
//    backward passes averaged, which keeps the gap and the order).
// Optional groups (the columns of one port) stay together in a layer: sorted by the group's mean
// barycentre first, with a wider gap between groups for a caption.
// Every step is O(V + E) per sweep (sorting adds a log), so hundreds of nodes take milliseconds.

const SWEEPS = 8;
const PACK_PASSES = 4;

/**
 * @param {string[]} ids
 * @param {{from: string, to: string}[]} edges
 * @param {{size?: (id: string) => {w: number, h: number}, group?: (id: string) => string | null,
 *          gapX?: number, gapY?: number, groupGap?: number}} options
 * @returns {{boxes: Map<string, {x, y, w, h, layer}>, width: number, height: number, layers: string[][]}}
 */
export function layered(ids, edges, options = {}) {
  const { size = () => ({ w: 120, h: 36 }), group = () => null, gapX = 80, gapY = 14, groupGap = 26 } = options;
  const n = ids.length;
  const index = new Map(ids.map((id, i) => [id, i]));
  const succ = Array.from({ length: n }, () => []);
  const pred = Array.from({ length: n }, () => []);
  const seen = new Set();
  for (const e of edges) {
    const a = index.get(e.from);
    const b = index.get(e.to);
    const key = `${a}>${b}`;
    if (a === undefined || b === undefined || a === b || seen.has(key)) continue;
    seen.add(key);
    succ[a].push(b);
    pred[b].push(a);
  }
  breakCycles(n, succ, pred);
  const topo = topological(n, succ, pred);
  const layerOf = layering(topo, succ, pred);
  const groups = ids.map((id, v) => group(id) ?? `\u0000${v}`); // ungrouped: a group of its own
  let layers = initialOrder(n, succ, pred, layerOf, groups);
  layers = orderLayers(layers, succ, pred, layerOf, groups);
  const gap = (a, b) => gapY + (groups[a] !== groups[b] && !(groups[a][0] === "\u0000" && groups[b][0] === "\u0000") ? groupGap : 0);
  const grouped = (a, b) => groups[a] === groups[b];
  return coordinates(ids, layers, succ, pred, size, gapX, gap, grouped);
}

/** Reverse the edges that close a cycle (iterative DFS: deep graphs must not overflow the stack). */
function breakCycles(n, succ, pred) {
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
  for (let root = 0; root < n; root++) {
    if (state[root]) continue;
    const stack = [[root, 0]];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [v, i] = top;
      if (i >= succ[v].length) {
        state[v] = 2;
        stack.pop();
        continue;
      }
      top[1] = i + 1;
      const w = succ[v][i];
      if (state[w] === 1) { // back edge v → w: make it w → v
        succ[v].splice(i, 1);
        top[1] = i;
        pred[w].splice(pred[w].indexOf(v), 1);
        if (!succ[w].includes(v)) {
          succ[w].push(v);
          pred[v].push(w);
        }
      } else if (state[w] === 0) {
        state[w] = 1;
        stack.push([w, 0]);
      }
    }
  }
}

function topological(n, succ, pred) {
  const missing = pred.map((p) => p.length);
  const queue = [];
  for (let v = 0; v < n; v++) if (!missing[v]) queue.push(v);
  for (let head = 0; head < queue.length; head++) {
    for (const w of succ[queue[head]]) if (--missing[w] === 0) queue.push(w);
  }
  return queue;
}

function layering(topo, succ, pred) {
  const layer = new Int32Array(topo.length);
  for (const v of topo) for (const u of pred[v]) layer[v] = Math.max(layer[v], layer[u] + 1);
  for (let i = topo.length - 1; i >= 0; i--) { // sources move next to their nearest reader
    const v = topo[i];
    if (pred[v].length || !succ[v].length) continue;
    layer[v] = Math.min(...succ[v].map((w) => layer[w])) - 1;
  }
  return layer;
}

/** Depth-first discovery order from the sources, so connected nodes start out near each other. */
function initialOrder(n, succ, pred, layerOf, groups) {
  const order = new Int32Array(n).fill(-1);
  let next = 0;
  const visit = (root) => {
    const stack = [root];
    while (stack.length) {
      const v = stack.pop();
      if (order[v] >= 0) continue;
      order[v] = next++;
      for (let i = succ[v].length - 1; i >= 0; i--) if (order[succ[v][i]] < 0) stack.push(succ[v][i]);
      for (let i = pred[v].length - 1; i >= 0; i--) if (order[pred[v][i]] < 0) stack.push(pred[v][i]);
    }
  };
  for (let v = 0; v < n; v++) if (!pred[v].length) visit(v);
  for (let v = 0; v < n; v++) visit(v);
  const depth = layerOf.reduce((m, l) => Math.max(m, l + 1), 0);
  const layers = Array.from({ length: depth }, () => []);
  for (let v = 0; v < n; v++) layers[layerOf[v]].push(v);
  for (const layer of layers) {
    const first = new Map();
    for (const v of layer) first.set(groups[v], Math.min(first.get(groups[v]) ?? Infinity, order[v]));
    layer.sort((a, b) => first.get(groups[a]) - first.get(groups[b]) || order[a] - order[b]);
  }
  return layers;
}

function orderLayers(layers, succ, pred, layerOf, groups) {
  const pos = new Float64Array(layerOf.length);
  const place = () => layers.forEach((layer) => layer.forEach((v, i) => { pos[v] = i - (layer.length - 1) / 2; }));
  place();
  let best = layers.map((l) => l.slice());
  let fewest = crossings(layers, succ, pos);
  for (let sweep = 0; sweep < SWEEPS && fewest > 0; sweep++) {
    const down = sweep % 2 === 0;
    const range = down ? layers.map((_, i) => i).slice(1) : layers.map((_, i) => i).reverse().slice(1);
    for (const l of range) {
      const layer = layers[l];
      const key = new Map();
      for (const v of layer) {
        const near = down ? pred[v] : succ[v];
        key.set(v, near.length ? near.reduce((sum, u) => sum + pos[u], 0) / near.length : pos[v]);
      }
      const sums = new Map();
      for (const v of layer) {
        const [total, count] = sums.get(groups[v]) || [0, 0];
        sums.set(groups[v], [total + key.get(v), count + 1]);
      }
      const mean = (v) => sums.get(groups[v])[0] / sums.get(groups[v])[1];
      layer.sort((a, b) => mean(a) - mean(b) || (groups[a] < groups[b] ? -1 : groups[a] > groups[b] ? 1 : 0) ||
        key.get(a) - key.get(b) || pos[a] - pos[b]);
      layer.forEach((v, i) => { pos[v] = i - (layer.length - 1) / 2; });
    }
    const count = crossings(layers, succ, pos);
    if (count < fewest) {
      fewest = count;
      best = layers.map((l) => l.slice());
    }
  }
  return best;
}

/** Crossings between adjacent layers: inversions of the lower ends, counted with a Fenwick tree. */
function crossings(layers, succ, pos) {
  let total = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const below = new Set(layers[l + 1]);
    const half = (layers[l + 1].length - 1) / 2;
    const pairs = [];
    for (const v of layers[l]) for (const w of succ[v]) if (below.has(w)) pairs.push([pos[v], pos[w] + half]);
    pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const size = layers[l + 1].length;
    const tree = new Int32Array(size + 1);
    let placed = 0;
    for (const [, low] of pairs) { // each earlier pair whose lower end is further down crosses this one
      const at = Math.round(low) + 1;
      let atOrAbove = 0;
      for (let j = at; j > 0; j -= j & -j) atOrAbove += tree[j];
      total += placed - atOrAbove;
      for (let j = at; j <= size; j += j & -j) tree[j]++;
      placed++;
    }
  }
  return total;
}

function coordinates(ids, layers, succ, pred, size, gapX, gap, grouped) {
  const dims = ids.map((id) => size(id));
  const cy = new Float64Array(ids.length);
  for (const layer of layers) {
    let y = 0;
    layer.forEach((v, i) => {
      if (i) y += gap(layer[i - 1], v);
      cy[v] = y + dims[v].h / 2;
      y += dims[v].h;
    });
    const shift = y / 2;
    for (const v of layer) cy[v] -= shift;
  }
  for (let pass = 0; pass < PACK_PASSES; pass++) {
    const down = pass % 2 === 0;
    const order = down ? layers : layers.slice().reverse();
    for (const layer of order) {
      const want = layer.map((v) => {
        const near = down ? pred[v] : succ[v];
        const all = near.length ? near : down ? succ[v] : pred[v];
        return all.length ? all.reduce((s, u) => s + cy[u], 0) / all.length : cy[v];
      });
      if (layer.length) pack(layer, want, dims, gap, cy, grouped);
    }
  }
  const xs = [];
  let x = 0;
  for (const layer of layers) {
    xs.push(x);
    x += Math.max(0, ...layer.map((v) => dims[v].w)) + gapX;
  }
  let top = 0;
  cy.forEach((c, v) => { top = Math.min(top, c - dims[v].h / 2); });
  const boxes = new Map();
  let width = 0;
  let height = 0;
  layers.forEach((layer, l) => {
    for (const v of layer) {
      const box = { x: xs[l], y: cy[v] - dims[v].h / 2 - top, w: dims[v].w, h: dims[v].h, layer: l };
      boxes.set(ids[v], box);
      width = Math.max(width, box.x + box.w);
      height = Math.max(height, box.y + box.h);
    }
  });
  return { boxes, width, height, layers: layers.map((layer) => layer.map((v) => ids[v])) };
}

/**
 * Place a layer's nodes as near their wanted centres as the order and the gaps allow. A group
 * (consecutive nodes of one group: the gap between them is the plain one) moves as one block,
 * towards its members' mean wish, so a port's columns stay packed under their caption.
 */
function pack(layer, want, dims, gap, cy, grouped) {
  const blocks = [];
  layer.forEach((v, i) => {
    const last = blocks[blocks.length - 1];
    if (last && grouped(layer[i - 1], v)) {
      const offset = last.height + gap(layer[i - 1], v) + dims[v].h / 2;
      last.members.push([v, offset]);
      last.wish += want[i] - offset;
      last.height = offset + dims[v].h / 2;
    } else {
      blocks.push({ members: [[v, dims[v].h / 2]], wish: want[i] - dims[v].h / 2, height: dims[v].h });
    }
  });
  const k = blocks.length;
  const wanted = blocks.map((b) => b.wish / b.members.length);
  const sep = (i) => blocks[i - 1].height + gap(blocks[i - 1].members.at(-1)[0], blocks[i].members[0][0]);
  const fwd = new Float64Array(k);
  const bwd = new Float64Array(k);
  fwd[0] = wanted[0];
  for (let i = 1; i < k; i++) fwd[i] = Math.max(wanted[i], fwd[i - 1] + sep(i));
  bwd[k - 1] = wanted[k - 1];
  for (let i = k - 2; i >= 0; i--) bwd[i] = Math.min(wanted[i], bwd[i + 1] - sep(i + 1));
  blocks.forEach((b, i) => {
    const top = (fwd[i] + bwd[i]) / 2;
    for (const [v, offset] of b.members) cy[v] = top + offset;
  });
}
