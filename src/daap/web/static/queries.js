// The query catalog: each named query with its SQL and a form to run it, results inline.

import { api, isAbort } from "./api.js";
import { empty, errorBox, fill, h, loading, rowsTable, section } from "./dom.js";
import { plural } from "./format.js";

// a parameter's logical type → how the form asks for it (extend with a row, not an if)
const INPUTS = {
  integer: { type: "number", step: "1" }, int: { type: "number", step: "1" }, long: { type: "number", step: "1" },
  bigint: { type: "number", step: "1" }, smallint: { type: "number", step: "1" },
  number: { type: "number", step: "any" }, decimal: { type: "number", step: "any" },
  double: { type: "number", step: "any" }, float: { type: "number", step: "any" }, numeric: { type: "number", step: "any" },
  date: { type: "date" },
  timestamp: { type: "text", placeholder: "2025-01-31T12:00:00Z" },
  string: { type: "text" },
};

/** `rich`: a promise of GET …/queries (parameters with descriptions, defaults, examples), or null. */
export function queriesSection(p, rich, signal) {
  const [el, body] = section("section-queries", "Queries",
    h("p", { class: "section-intro" }, "Named queries the owners document and keep working. Run one with your own arguments."));
  fill(body, loading());
  const done = rich.then((found) => {
    const queries = Array.isArray(found) && found.length ? found : p.queries || [];
    fill(body, queries.length
      ? queries.map((q) => queryCard(p.name, q, signal))
      : empty("This product offers no named queries (or you may not read it)."));
  });
  return { el, done };
}

function queryCard(product, q, signal) {
  const example = (q.examples || [])[0] || {};
  const fields = (q.parameters || []).map((param) => field(q.name, param, example[param.name]));
  const output = h("div", { class: "query-output", "aria-live": "polite" });
  const run = h("button", { type: "submit", class: "btn btn-primary", testid: "query-run" }, "Run");
  const form = h("form", { class: "query-form", testid: "query-form", dataset: { query: q.name } },
    fields.length ? h("div", { class: "query-fields" }, fields.map((f) => f.el)) : h("p", { class: "muted" }, "No parameters."),
    h("div", { class: "form-buttons" }, run));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const params = {};
    for (const f of fields) {
      const value = f.value();
      // Empty and without a default: not given (the server names a missing required one). A field
      // that held a default and was emptied is sent as typed: running with the default the user
      // just deleted would answer a question they did not ask; the server says what is wrong.
      if (value !== "" || f.hasDefault) params[f.name] = value;
    }
    run.disabled = true;
    fill(output, loading("Running…"));
    try {
      const path = `/api/products/${encodeURIComponent(product)}/queries/${encodeURIComponent(q.name)}`;
      const result = await api(path, { params, signal });
      fill(output, resultView(result));
    } catch (err) {
      if (!isAbort(err)) fill(output, errorBox(err, "query-error"));
    } finally {
      run.disabled = false;
    }
  });
  return h("article", { class: "query", id: `query-${q.name}` },
    h("h3", {}, h("code", {}, q.name)),
    q.description ? h("p", {}, q.description) : null,
    h("details", { class: "query-sql" }, h("summary", {}, "SQL"), h("pre", {}, h("code", {}, q.sql || ""))),
    form, output);
}

function resultView(data) {
  const rows = data?.rows || [];
  const versions = Object.entries(data?.versions || {}).map(([name, v]) => `${name} v${v}`).join(", ");
  const info = h("p", { class: "query-info muted" }, plural(rows.length, "row"),
    versions ? ` · read ${versions}` : "", data?.next ? " · more rows exist: narrow the query" : "");
  if (!rows.length) return h("div", {}, info, h("div", { class: "empty", testid: "query-result" }, "No rows."));
  return h("div", {}, info, rowsTable(rows, { testid: "query-result" }));
}

function field(queryName, param, example) {
  const type = String(param.type || "string").toLowerCase();
  const id = `q-${queryName}-${param.name}`.replace(/[^\w-]/g, "_");
  const initial = param.default ?? example ?? "";
  let input;
  if (type === "boolean" || type === "bool") {
    input = h("select", { id, name: param.name },
      h("option", { value: "" }, "—"), h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
    input.value = initial === "" ? "" : String(initial);
  } else {
    const how = INPUTS[type] || INPUTS.string;
    input = h("input", { id, name: param.name, ...how, value: String(initial), autocomplete: "off" });
  }
  input.dataset.type = type;
  const label = h("label", { for: id },
    h("span", { class: "param-name" }, param.name),
    h("span", { class: "param-type" }, type),
    param.required ? h("span", { class: "param-required" }, "required") : null);
  const el = h("div", { class: "query-field" }, label, input,
    param.description ? h("p", { class: "hint" }, param.description) : null);
  return { el, name: param.name, hasDefault: param.default != null, value: () => input.value.trim() };
}
