// A product's page: why it exists and for whom first, then the facts, then one section per
// concern (ports, schema, versions, quality, governance, samples, changes, queries, lineage).
//
// Route: "#/product/NAME" or "#/product/NAME/SECTION" (scrolls to that section). Sections that need
// more requests (observation, versions, changes) fill themselves in; the view is ready when all are.

import { api, isAbort } from "./api.js";
import { badge, errorBox, fill, h, link, loading, section, timeEl } from "./dom.js";
import { governanceSection, qualitySection } from "./quality.js";
import { changesSection, versionsSection } from "./history.js";
import { portsSection, samplesSection, schemaSection } from "./ports.js";
import { queriesSection } from "./queries.js";
import { href, productHref } from "./router.js";
import { toneOfQuality } from "./search.js";

// the sections in page order: [id suffix, title in the section menu]
const SECTIONS = [
  ["ports", "Ports"], ["schema", "Schema"], ["versions", "Versions"], ["quality", "Quality & SLOs"],
  ["governance", "Governance"], ["samples", "Samples"], ["changes", "Recent changes"],
  ["queries", "Queries"], ["lineage", "Lineage"],
];

export function mount(root, route, ctx) {
  const name = route.parts[0];
  if (!name) {
    fill(root, h("div", { class: "page" }, errorBox({ message: "Which product?", hint: "Open one from the search." })));
    ctx.ready();
    return {};
  }
  document.title = `${name} — daap`;
  fill(root, h("div", { class: "page" }, loading(`Loading ${name}…`)));
  const state = { tab: route.parts[1] || route.params.get("tab"), loaded: false };
  load(root, name, state, ctx);
  return {
    update(next) {
      if (next.view !== "product" || next.parts[0] !== name) return false;
      state.tab = next.parts[1] || next.params.get("tab");
      if (state.loaded) {
        scrollTo(state.tab);
        ctx.ready();
      }
      return true;
    },
  };
}

async function load(root, name, state, ctx) {
  const path = `/api/products/${encodeURIComponent(name)}`;
  let product;
  try {
    product = await api(path, { signal: ctx.signal });
  } catch (err) {
    if (isAbort(err)) return;
    fill(root, h("div", { class: "page" },
      h("h1", { class: "page-title" }, name),
      errorBox(err, "page-error", h("p", {}, link("#/", "Back to the search")))));
    state.loaded = true;
    ctx.ready();
    return;
  }
  const get = (suffix, params) => api(path + suffix, { params, signal: ctx.signal });
  const observation = get("/observation");
  observation.catch(() => {}); // each section shows its own failure
  const parts = [
    portsSection(product),
    schemaSection(product),
    versionsSection(get("/versions", { limit: 50 })),
    qualitySection(observation),
    governanceSection(product, observation),
    samplesSection(product),
    changesSection(get("/changes", { limit: 20 })),
    queriesSection(product, get("/queries").catch(() => null), ctx.signal),
    lineageSection(product),
  ];
  fill(root, h("div", { class: "page product-view" },
    hero(product),
    facts(product),
    h("div", { class: "product-layout" },
      sectionNav(),
      h("div", { class: "product-sections" }, parts.map((p) => p.el)))));
  followSections(root, ctx.signal);
  await Promise.allSettled(parts.map((p) => p.done));
  if (ctx.signal.aborted) return;
  state.loaded = true;
  scrollTo(state.tab);
  ctx.ready();
}

function scrollTo(tab) {
  if (!tab) return;
  const target = document.getElementById(`section-${tab}`);
  if (!target) return;
  target.scrollIntoView({ block: "start" });
  target.querySelector("h2")?.focus?.({ preventScroll: true });
}

function hero(p) {
  const text = (label, value) => value ? h("div", { class: "story-item" }, h("h3", {}, label), h("p", {}, value)) : null;
  const personas = (p.personas || []).map((persona) =>
    h("li", { class: "persona" },
      h("p", { class: "persona-name" }, persona.name),
      persona.description ? h("p", { class: "persona-desc" }, persona.description) : null,
      (persona.skills || []).length
        ? h("p", { class: "persona-skills" }, h("span", { class: "sr-only" }, "Skills: "),
            persona.skills.map((skill) => h("span", { class: "chip" }, skill)))
        : null));
  return h("header", { class: "hero" },
    h("p", { class: "eyebrow" }, [p.domain, p.product_type].filter(Boolean).join(" · ") || "data product"),
    h("div", { class: "hero-title" },
      h("h1", { testid: "product-name" }, p.name),
      p.status ? badge(p.status) : null,
      p.quality_status ? badge(`quality ${p.quality_status}`, toneOfQuality(p.quality_status)) : null),
    h("p", { class: "objective", testid: "product-objective" },
      p.business_objective || h("span", { class: "muted" }, "No business objective stated.")),
    h("div", { class: "story" },
      text("Purpose", p.purpose),
      p.description && p.description !== p.purpose ? text("Description", p.description) : null,
      text("Usage", p.usage),
      text("Limitations", p.limitations)),
    personas.length
      ? h("div", { class: "personas" }, h("h2", {}, "Who it is for"), h("ul", { class: "persona-list" }, personas))
      : null);
}

function facts(p) {
  const searchBy = (param, value) => link(href("search", [], { [param]: value }), value);
  const row = (label, value, attrs = {}) => h("div", { class: "fact" }, h("dt", {}, label), h("dd", attrs, value ?? "—"));
  return h("dl", { class: "facts card" },
    row("Type", p.product_type),
    row("Domain", p.domain ? searchBy("domain", p.domain) : null),
    row("Owner team", p.owner ? searchBy("owner", p.owner) : null, { testid: "product-owner" }),
    row("Status", p.status ? badge(p.status) : null),
    row("Latest version", p.latest_version != null ? `v${p.latest_version}` : "not published"),
    row("Published", timeEl(p.published_at)),
    row("Updated", timeEl(p.updated_at)),
    row("Tags", (p.tags || []).length
      ? h("span", { class: "tags" }, p.tags.map((t) => h("a", { class: "tag", href: href("search", [], { tag: t }) }, t)))
      : null),
    row("Classifications", (p.classifications || []).length
      ? h("span", { class: "tags" }, p.classifications.map((c) => badge(c, "class")))
      : "none"));
}

function sectionNav() {
  return h("nav", { class: "section-nav", "aria-label": "Sections" },
    h("ul", {}, SECTIONS.map(([id, title]) =>
      h("li", {}, h("button", { type: "button", class: "btn-link", dataset: { section: id }, onclick: () => scrollTo(id) }, title)))));
}

/** Mark the section menu's entry of the section being read (the lowest one in the top 40%). */
function followSections(root, signal) {
  const buttons = new Map([...root.querySelectorAll(".section-nav button")].map((b) => [`section-${b.dataset.section}`, b]));
  const inView = new Set();
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) (e.isIntersecting ? inView.add(e.target.id) : inView.delete(e.target.id));
    const current = [...buttons.keys()].filter((id) => inView.has(id)).pop();
    if (current) for (const [id, button] of buttons) button.setAttribute("aria-current", String(id === current));
  }, { rootMargin: "-80px 0px -60% 0px" });
  for (const id of buttons.keys()) observer.observe(document.getElementById(id));
  signal.addEventListener("abort", () => observer.disconnect(), { once: true });
}

function lineageSection(p) {
  const [el, body] = section("section-lineage", "Lineage");
  const lineage = p.lineage || {};
  const list = (title, nodes, empty) => h("div", { class: "lineage-list" }, h("h3", {}, title),
    (nodes || []).length ? h("ul", {}, nodes.map(nodeLink)) : h("p", { class: "muted" }, empty));
  fill(body,
    h("div", { class: "lineage-lists" },
      list("Upstream — what it reads", lineage.upstream, "Nothing: a source product."),
      list("Downstream — who reads it", lineage.downstream, "No product reads it (that you may see).")),
    h("p", {}, h("a", { class: "btn", href: href("lineage", [], { node: p.name, depth: 2 }) }, "Open the lineage graph")));
  return { el, done: Promise.resolve() };
}

/** "titles.titles" → a link to titles (port titles); "file:…", "job:…" as plain labelled text. */
function nodeLink(node) {
  const kind = /^(file|job|dataset):/.exec(node)?.[1];
  if (kind) return h("li", {}, badge(kind, "kind"), " ", h("code", {}, node.slice(kind.length + 1)));
  const [product, ...rest] = node.split(".");
  return h("li", {}, link(productHref(product), product), rest.length ? h("span", { class: "muted" }, ` · ${rest.join(".")}`) : null);
}
