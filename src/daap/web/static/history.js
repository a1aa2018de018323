// A product's history: its published versions as a timeline, and its recent change events.

import { isAbort } from "./api.js";
import { badge, empty, errorBox, fill, h, link, loading, section, timeEl } from "./dom.js";
import { number, plural, showValue } from "./format.js";
import { productHref } from "./router.js";

const OPS = { c: "insert", u: "update", d: "delete", r: "snapshot", read: "snapshot" };
const SHOWN_VALUES = 6;

/** A 404 means this server has no such endpoint yet: not an error, just not available. */
function failure(body, err, what) {
  if (isAbort(err)) return;
  if (err.status === 404 && err.type !== "NotFound") fill(body, empty(`${what} is not available on this server.`));
  else fill(body, errorBox(err, "section-error"));
}

export function versionsSection(request) {
  const [el, body] = section("section-versions", "Versions");
  fill(body, loading());
  const done = request.then((data) => {
    const items = data?.items || [];
    const more = data?.total > items.length ? h("p", { class: "muted" }, `The newest ${items.length} of ${number(data.total)} versions.`) : null;
    fill(body, items.length ? [h("ol", { class: "timeline" }, items.map(version)), more] : empty("Not published yet."));
  }, (err) => failure(body, err, "The version history"));
  return { el, done };
}

function version(v) {
  const changes = v.changes || {};
  const ports = [...new Set([...Object.keys(v.ports || {}), ...Object.keys(changes)])];
  const inputs = Object.entries(v.inputs || {});
  return h("li", { class: ["tl-item", v.expired ? "expired" : null], dataset: { version: String(v.version) } },
    h("span", { class: "tl-dot", "aria-hidden": "true" }),
    h("div", { class: "tl-body" },
      h("p", { class: "tl-head" }, h("strong", {}, `v${v.version}`), timeEl(v.published_at),
        v.expired ? badge("expired", "neutral", "its snapshots were expired: it can no longer be read") : null,
        v.build_id ? h("span", { class: "muted" }, `build ${v.build_id}`) : null),
      ports.map((port) => portLine(port, v.ports?.[port], changes[port])),
      inputs.length ? h("p", { class: "tl-inputs muted" }, "read ", inputs.map(([input, n], i) => {
        const product = input.split(".")[0];
        return [i ? ", " : "", input.startsWith("file:") ? input : link(productHref(product), input), ` v${n}`];
      })) : null));
}

/** "popularity  300 rows  +300 ~0 −0" */
function portLine(port, info, c) {
  return h("p", { class: "tl-line" }, h("code", {}, port),
    info ? h("span", {}, plural(info.rows ?? 0, "row")) : null,
    c ? h("span", { class: "tl-changes", title: "inserted, updated, deleted" },
      h("span", { class: "ins" }, `+${number(c.inserted ?? 0)}`), " ",
      h("span", { class: "upd" }, `~${number(c.updated ?? 0)}`), " ",
      h("span", { class: "del" }, `−${number(c.deleted ?? 0)}`)) : null);
}

export function changesSection(request) {
  const [el, body] = section("section-changes", "Recent changes",
    h("p", { class: "section-intro" }, "The last change events its ports put on the event backbone, newest first."));
  fill(body, loading());
  const done = request.then((data) => {
    const items = data?.items || [];
    const withheld = data?.withheld ? h("p", { class: "notice" }, data.withheld) : null;
    fill(body, withheld, items.length ? changesTable(items) : withheld ? null : empty("No change events."));
  }, (err) => failure(body, err, "The change feed"));
  return { el, done };
}

function changesTable(items) {
  const rows = items.map((e) => {
    const op = OPS[e.op] || e.op || "?";
    const when = e.timestamp ?? (e.timestamp_ms != null ? new Date(e.timestamp_ms).toISOString() : null);
    return h("tr", { dataset: { op } },
      h("td", { class: "nowrap" }, timeEl(when)),
      h("td", {}, h("code", {}, e.port || "?")),
      h("td", {}, badge(op)),
      h("td", { class: "num" }, e.version != null ? `v${e.version}` : "—"),
      h("td", {}, values(e.key)),
      h("td", {}, change(op, e.before, e.after)));
  });
  return h("div", { class: "table-wrap scroll" }, h("table", { class: "data changes" },
    h("thead", {}, h("tr", {}, ["When", "Port", "Op", "Version", "Key", "Change"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows)));
}

/** An update shows the columns that changed (before → after); an insert or delete the row. */
function change(op, before, after) {
  if (before && after) {
    const changed = Object.keys({ ...before, ...after }).filter((k) => showValue(before[k]) !== showValue(after[k]));
    if (!changed.length) return h("span", { class: "muted" }, "no column changed");
    return h("ul", { class: "diff" }, changed.map((k) => h("li", {}, h("code", {}, k), ": ",
      h("span", { class: "before" }, showValue(before[k])), " → ", h("span", { class: "after" }, showValue(after[k])))));
  }
  const row = after || before;
  return row ? values(row) : h("span", { class: "muted" }, op === "delete" ? "deleted" : "—");
}

function values(row) {
  if (row === null || row === undefined) return h("span", { class: "muted" }, "—");
  if (typeof row !== "object") return h("code", {}, showValue(row));
  const entries = Object.entries(row);
  const shown = entries.slice(0, SHOWN_VALUES).map(([k, v]) => h("span", { class: "kv" }, h("span", { class: "k" }, k), "=", showValue(v)));
  const rest = entries.length - SHOWN_VALUES;
  return h("span", { class: "kvs", title: JSON.stringify(row) }, shown, rest > 0 ? h("span", { class: "muted" }, ` +${rest} more`) : null);
}
