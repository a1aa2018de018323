// The observation port on a product's page: quality rules, monitors, SLOs, quarantine, run
// history, and the governance rules. Everything may be missing or null: say so, never fail.

import { isAbort } from "./api.js";
import { badge, empty, errorBox, fill, h, loading, section, timeEl } from "./dom.js";
import { number, percent, plural, showValue, words } from "./format.js";

/** A rule's severity: coloured only when the rule failed. */
const severity = (r) => badge(r.severity || "—", r.passed !== false ? "neutral" : r.severity === "error" ? "bad" : r.severity === "warning" ? "warn" : "neutral");
const passed = (value) => value === true ? badge("passed", "ok") : value === false ? badge("failed", "bad") : badge("not run");

/** Quality & SLOs from GET …/observation (a promise; 401/403 shows its message here). */
export function qualitySection(observation) {
  const [el, body] = section("section-quality", "Quality & SLOs");
  fill(body, loading());
  const done = observation.then(
    (obs) => fill(body, summary(obs), quarantine(obs?.quarantined), rules(obs?.latest), monitors(obs?.monitors),
      slos(obs?.slos), history(obs?.history)),
    (err) => isAbort(err) || fill(body, errorBox(err, "section-error")));
  return { el, done };
}

function summary(obs) {
  const latest = obs?.latest;
  if (!latest) return empty("No quality checks have run yet.");
  const failed = latest.failed || [];
  return h("div", { class: "summary-row" },
    h("span", {}, "Latest check ", passed(latest.passed)),
    h("span", { class: "muted" }, `${latest.kind || "run"} ${latest.run_id || ""}`),
    latest.version != null ? h("span", {}, `version ${latest.version}`) : null,
    h("span", {}, "checked ", timeEl(latest.checked_at)),
    obs.last_build ? h("span", {}, "last build ", badge(obs.last_build)) : null,
    failed.length ? h("span", { class: "failed-rules" }, "failed: ", failed.join(", ")) : null);
}

function quarantine(q) {
  if (!q) return null;
  const rows = Object.entries(q.rows || {}).map(([port, n]) => `${port}: ${number(n)} rows`).join(", ");
  return h("div", { class: "notice notice-warn", role: "note" },
    h("p", {}, h("strong", {}, "A build is quarantined"), ` — build ${q.build_id || "?"}, `, timeEl(q.quarantined_at),
      rows ? `; ${rows}` : ""),
    (q.reasons || []).length ? h("ul", {}, q.reasons.map((r) => h("li", {}, r))) : null,
    h("p", { class: "hint" }, "Its rows were not published: readers still see the previous version."));
}

function rules(latest) {
  const ports = Object.entries(latest?.ports || {});
  if (!ports.length) return null;
  return h("div", { class: "subsection" }, h("h3", {}, "Rules"), ports.map(([port, result]) => {
    const list = result?.rules || [];
    const rows = list.map((r) => h("tr", { class: r.passed === false ? "row-bad" : null },
      h("td", { class: "fit" }, passed(r.passed)),
      h("td", {}, h("code", {}, r.rule || "?")),
      h("td", {}, severity(r)),
      h("td", {}, r.dimension || "—"),
      h("td", {}, r.column ? h("code", {}, r.column) : "—"),
      h("td", {}, r.message || (r.error ? showValue(r.error) : "—"),
        r.description ? h("p", { class: "hint" }, r.description) : null)));
    return h("div", { class: "rule-port" },
      h("p", { class: "port-caption" }, h("code", {}, port), result?.rows != null ? h("span", { class: "muted" }, ` · ${plural(result.rows, "row")}`) : null),
      list.length ? h("div", { class: "table-wrap" }, h("table", { class: "data" },
        h("thead", {}, h("tr", {}, ["", "Rule", "Severity", "Dimension", "Column", "Result"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows))) : h("p", { class: "muted" }, "No rules on this port."));
  }));
}

function monitors(list) {
  if (!Array.isArray(list) || !list.length) return null;
  return h("div", { class: "subsection" }, h("h3", {}, "Monitors"),
    h("ul", { class: "monitor-list" }, list.map((m) => h("li", { class: "monitor" },
      badge(m.status || "unknown"),
      h("span", { class: "monitor-name" }, words(m.monitor || "?")),
      m.port ? h("code", { class: "muted" }, [m.port, m.column].filter(Boolean).join(".")) : null,
      h("span", { class: "monitor-message" }, m.message || "")))));
}

function slos(list) {
  if (!Array.isArray(list) || !list.length) return null;
  const rows = list.map((slo) => {
    const budget = slo.error_budget || {};
    const left = typeof budget.remaining_fraction === "number" ? Math.max(0, Math.min(1, budget.remaining_fraction)) : null;
    const bar = h("span", { class: "budget-fill" });
    if (left !== null) bar.style.width = `${(left * 100).toFixed(0)}%`;
    if (left !== null && left < 0.25) bar.classList.add("low");
    return h("tr", {},
      h("td", {}, words(slo.objective || "?")),
      h("td", {}, slo.port ? h("code", {}, slo.port) : "—"),
      h("td", { class: "num" }, percent(slo.target_percent)),
      h("td", { class: "num" }, slo.window_days != null ? `${slo.window_days} d` : "—"),
      h("td", { class: "num" }, `${percent(slo.pass_rate_percent)}`, h("span", { class: "muted" }, ` (${number(slo.passed)}/${number(slo.observations)})`)),
      h("td", {}, left === null ? "—" : h("span", { class: "budget", title: `${budget.used_failures ?? "?"} of ${budget.allowed_failures ?? "?"} allowed failures used` },
        h("span", { class: "budget-bar" }, bar), ` ${(left * 100).toFixed(0)}% left`)),
      h("td", {}, badge(slo.status || "unknown")));
  });
  return h("div", { class: "subsection" }, h("h3", {}, "Service-level objectives"),
    h("div", { class: "table-wrap" }, h("table", { class: "data" },
      h("thead", {}, h("tr", {}, ["Objective", "Port", "Target", "Window", "Pass rate", "Error budget", "Status"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))));
}

function history(list) {
  if (!Array.isArray(list) || list.length < 2) return null;
  return h("details", { class: "subsection" }, h("summary", {}, `Run history (${list.length})`),
    h("ol", { class: "run-list" }, list.map((run) => h("li", {},
      passed(run.passed), " ", timeEl(run.checked_at), ` · ${run.kind || "run"}`,
      run.version != null ? ` · v${run.version}` : "",
      (run.failed || []).length ? h("span", { class: "failed-rules" }, ` · failed: ${run.failed.join(", ")}`) : null))));
}

/** Governance: the product's counts, and the rules with their findings from the observation. */
export function governanceSection(p, observation) {
  const [el, body] = section("section-governance", "Governance",
    h("p", { class: "section-intro" }, "The mesh's global rules (ownership, objectives, classified data masked, compatibility)."));
  const counts = h("p", { class: "summary-row" },
    badge(plural(p.governance_errors ?? 0, "error"), p.governance_errors ? "bad" : "ok"),
    badge(plural(p.governance_warnings ?? 0, "warning"), p.governance_warnings ? "warn" : "ok"));
  fill(body, counts, loading());
  const done = observation.then(
    (obs) => fill(body, counts, governance(obs?.governance)),
    (err) => isAbort(err) || fill(body, counts, errorBox(err, "section-error")));
  return { el, done };
}

function governance(g) {
  if (!g) return empty("No governance report yet: it is written when the product is built.");
  const findings = Array.isArray(g.findings) ? g.findings : [];
  const rows = (g.rules || []).map((r) => {
    const mine = findings.filter((f) => f.rule === r.rule).concat(Array.isArray(r.findings) ? r.findings : []);
    return h("tr", { class: r.passed === false ? "row-bad" : null },
      h("td", { class: "fit" }, passed(r.passed)),
      h("td", {}, h("code", {}, r.rule || "?"), r.summary ? h("p", { class: "hint" }, r.summary) : null),
      h("td", {}, severity(r)),
      h("td", {}, mine.length ? h("ul", { class: "findings" }, mine.map(finding)) : h("span", { class: "muted" }, "—")));
  });
  return h("div", {},
    h("p", { class: "muted" }, g.version != null ? `Version ${g.version}, checked ` : "Checked ", timeEl(g.checked_at),
      g.sampled ? ` · values from ${g.sampled}` : ""),
    rows.length ? h("div", { class: "table-wrap" }, h("table", { class: "data" },
      h("thead", {}, h("tr", {}, ["", "Rule", "Severity", "Findings"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))) : empty("No rules were checked."));
}

function finding(f) {
  if (typeof f !== "object" || f === null) return h("li", {}, showValue(f));
  const where = [f.port, f.column].filter(Boolean).join(".");
  return h("li", {}, where ? h("code", {}, where) : null, where ? ": " : "", f.message || showValue(f),
    f.fix ? h("span", { class: "hint" }, ` — ${f.fix}`) : null);
}
