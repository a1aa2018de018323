// A product's output ports: how to connect (snippets to copy), their schema, and sample rows.

import { badge, empty, fill, h, rowsTable, section } from "./dom.js";
import { plural } from "./format.js";

// connection snippets in the order shown: key in `connect` → label
const SNIPPETS = [
  ["psql", "psql (PostgreSQL wire)"],
  ["python_adbc", "Python — ADBC Flight SQL"],
  ["pandas", "pandas — REST, NDJSON"],
  ["curl", "curl — REST"],
  ["graphql", "GraphQL"],
];

export function portsSection(p) {
  const [el, body] = section("section-ports", "Ports",
    h("p", { class: "section-intro" }, "Every output port is a table ", h("code", {}, `${p.name}.<port>`), " in SQL."));
  const ports = p.ports || [];
  const list = ports.length
    ? h("ul", { class: "port-list" }, ports.map((port) =>
        h("li", { class: "port" },
          h("p", { class: "port-name" }, h("code", {}, `${p.name}.${port.name}`),
            h("span", { class: "muted" }, ` · ${plural((port.columns || []).length, "column")}`)),
          port.description ? h("p", {}, port.description) : null)))
    : empty("No output ports declared.");
  const connect = p.connect || {};
  const known = SNIPPETS.filter(([key]) => connect[key]);
  const extra = Object.keys(connect).filter((key) => !SNIPPETS.some(([k]) => k === key)).map((k) => [k, k]);
  const snippets = [...known, ...extra].map(([kind, label]) => snippet(kind, label, connect[kind]));
  fill(body, list,
    snippets.length
      ? h("div", { class: "connect" },
          h("h3", {}, "Connect"),
          h("p", { class: "hint" }, "Set ", h("code", {}, "DAAP_TOKEN"), " to your token first. The snippets read the first port."),
          snippets)
      : null);
  return { el, done: Promise.resolve() };
}

function snippet(kind, label, text) {
  const pre = h("pre", { class: "snippet", testid: "snippet", dataset: { kind }, tabindex: "0" }, h("code", {}, text));
  const status = h("span", { class: "copy-status", role: "status" });
  const button = h("button", { type: "button", class: "btn btn-small", "aria-label": `Copy the ${label} snippet` }, "Copy");
  button.addEventListener("click", () => copy(text, pre, status));
  return h("div", { class: "snippet-block" },
    h("div", { class: "snippet-head" }, h("span", { class: "snippet-label" }, label), status, button), pre);
}

/** Copy to the clipboard; where that is refused (plain http off localhost), select the text instead. */
async function copy(text, pre, status) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    fill(status, "Copied");
  } catch {
    const range = document.createRange();
    range.selectNodeContents(pre);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    fill(status, "Selected — press Ctrl+C to copy");
  }
  setTimeout(() => fill(status), 2500);
}

export function schemaSection(p) {
  const [el, body] = section("section-schema", "Schema");
  const ports = p.ports || [];
  const contracts = p.document?.contracts || {};
  fill(body, ports.length
    ? ports.map((port) => schemaTable(p.name, port, contracts[port.name]))
    : empty("No schema: no ports declared."));
  return { el, done: Promise.resolve() };
}

/** "contract orders-v1 version 1.0.0 · schema daap.p.port-value version 3 in the registry" */
function contractLine(contract) {
  if (!contract) return null;
  const registered = contract.schema_version != null
    ? [" · schema ", h("code", {}, contract.subject), ` version ${contract.schema_version} in the registry`]
    : [" · schema not registered yet"];
  return h("p", { class: "muted contract", testid: "contract" },
    "contract ", h("code", {}, contract.id), ` version ${contract.version}`, ...registered);
}

function schemaTable(product, port, contract) {
  const columns = port.columns || [];
  const classified = columns.filter((c) => c.classification).length;
  const rows = columns.map((c) =>
    h("tr", { class: c.classification ? "classified" : null, dataset: { column: c.name } },
      h("th", { scope: "row" }, h("code", {}, c.name)),
      h("td", {}, h("code", { class: "type" }, c.type || "?")),
      h("td", {}, c.description || h("span", { class: "muted" }, "no description")),
      h("td", {}, c.classification
        ? badge(c.classification, "class", "classified: masked or withheld unless your policies allow it")
        : h("span", { class: "muted" }, "—"))));
  return h("div", { class: "schema-port", dataset: { port: port.name } },
    h("h3", {}, h("code", {}, `${product}.${port.name}`),
      classified ? h("span", { class: "muted" }, ` · ${plural(classified, "classified column")}`) : null),
    contractLine(contract),
    h("div", { class: "table-wrap" }, h("table", { class: "data schema" },
      h("thead", {}, h("tr", {}, ["Column", "Type", "Description", "Classification"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))));
}

export function samplesSection(p) {
  const [el, body] = section("section-samples", "Samples",
    h("p", { class: "section-intro" }, "A few rows of each port, as you may see them (row filters and masks apply)."));
  const samples = p.samples || {};
  const names = Object.keys(samples);
  fill(body, names.length
    ? names.map((port) => h("div", { class: "sample", dataset: { port } }, h("h3", {}, h("code", {}, `${p.name}.${port}`)), sample(samples[port])))
    : empty("No samples."));
  return { el, done: Promise.resolve() };
}

/** {rows: [...]}, or a reason there are none: {rows: null, reason}, {error: {...}}, {withheld}. */
function sample(value) {
  if (value && Array.isArray(value.rows)) {
    return value.rows.length ? rowsTable(value.rows, { testid: "sample-rows" }) : empty("The port has no rows.");
  }
  const why = value?.withheld || value?.reason || value?.error?.message || (typeof value === "string" ? value : null);
  return h("p", { class: "notice" }, why || "No sample rows available.", value?.error?.hint ? ` — ${value.error.hint}` : "");
}
