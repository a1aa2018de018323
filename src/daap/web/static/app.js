// The page: signs in from a "#token=" link, draws the header, and shows one view per route.
//
// A view module exports mount(root, route, ctx) → {update?(route): boolean, destroy?()}.
// `update` lets a view take a new route without being rebuilt (the search box keeps its focus
// while you type); ctx.signal aborts its requests when you leave; ctx.ready() tells tests the
// view's data is on the page (document.body.dataset.ready = view name).

import { captureToken, initAuth } from "./auth.js";
import { errorBox, fill, h, link } from "./dom.js";
import * as lineage from "./lineage.js";
import * as overview from "./overview.js";
import * as product from "./product.js";
import { current, start } from "./router.js";
import * as search from "./search.js";

const VIEWS = { search, product, lineage, overview };
const main = document.getElementById("main");
let active = null; // {view, controller, abort}

function notFound(root, route, ctx) {
  document.title = "Not found — daap";
  fill(root, h("div", { class: "page" },
    errorBox({ message: `There is no page "${route.name}".`, hint: "Try the search, the overview or the lineage graph." }),
    h("p", {}, link("#/", "Back to the search"))));
  ctx.ready();
}

function mark(view) {
  for (const a of document.querySelectorAll(".mainnav a")) {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function show(route, { force = false } = {}) {
  delete document.body.dataset.ready;
  mark(route.view);
  if (!force && active && active.view === route.view && active.controller.update?.(route)) return;
  const arriving = !active || active.view !== route.view;
  active?.abort.abort();
  active?.controller.destroy?.();
  const abort = new AbortController();
  const ctx = {
    signal: abort.signal,
    ready: () => {
      if (!abort.signal.aborted) document.body.dataset.ready = route.view === "notfound" ? "error" : route.view;
    },
  };
  fill(main);
  if (arriving) window.scrollTo(0, 0);
  const mount = VIEWS[route.view]?.mount || notFound;
  active = { view: route.view, abort, controller: {} };
  try {
    active.controller = mount(main, route, ctx) || {};
    // the link that was followed is gone: start screen readers and Tab at the new page
    if (arriving && (document.activeElement === document.body || !document.activeElement)) main.focus({ preventScroll: true });
  } catch (err) {
    console.error(err);
    fill(main, h("div", { class: "page" }, errorBox({ message: `The page failed: ${err.message}` })));
    ctx.ready();
  }
}

function boot() {
  captureToken();
  document.getElementById("skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    main.focus();
  });
  const auth = initAuth(document.getElementById("auth"), () => show(current(), { force: true }));
  document.addEventListener("daap:signin", () => auth.openForm()); // an error box's "Sign in"
  document.addEventListener("click", (e) => { // a followed link: the page is not ready until its view says so
    const a = e.target.closest?.('a[href^="#/"]');
    if (a && a.getAttribute("href") !== location.hash && !e.defaultPrevented) delete document.body.dataset.ready;
  }, true);
  auth.refresh();
  start((route) => {
    if (captureToken()) { // a "#token=" link opened in a page already loaded
      auth.refresh();
      show(current(), { force: true });
    } else show(route);
  });
}

boot();
