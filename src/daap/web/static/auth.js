// Who you are: the header's whoami, the sign-in form, and the "#token=daap_…" sign-in link.
//
// The token lives in sessionStorage ("daap.token"), so it is gone when the tab closes and is
// never in the URL longer than it takes to read it.

import { api, getToken, setToken } from "./api.js";
import { clear, fill, h } from "./dom.js";

/** A link "http://host:8080/#token=daap_xxx" signs in: keep the token, drop it from the URL. */
export function captureToken() {
  const match = /^#token=([^&]+)(?:&(.*))?$/.exec(location.hash);
  if (!match) return false;
  setToken(decodeURIComponent(match[1]));
  const rest = match[2] ? `#${match[2]}` : "#/";
  history.replaceState(null, "", location.pathname + location.search + rest);
  return true;
}

/** Describe a principal in a few words: "priya · governance". */
function describe(me) {
  const roles = (me.roles || []).join(", ");
  const domain = me.domain && !(me.roles || []).includes(me.domain) ? `domain ${me.domain}` : null;
  const parts = [me.name, me.kind === "service" ? "service" : null, roles || null, domain];
  return parts.filter(Boolean).join(" · ");
}

export function initAuth(root, onChange) {
  const who = h("span", { class: "whoami", testid: "whoami", "aria-live": "polite" }, "…");
  const actions = h("span", { class: "auth-actions" });
  const notice = h("span", { class: "auth-notice", role: "status" });
  const panel = h("div", { class: "signin-panel", hidden: true });
  fill(root, who, notice, actions, panel);

  function button(text, onclick, cls = "btn-ghost") {
    return h("button", { type: "button", class: `btn ${cls}`, onclick }, text);
  }

  function openForm() {
    const input = h("input", {
      id: "signin-token", type: "password", testid: "signin-token", autocomplete: "off", spellcheck: "false",
      placeholder: "daap_…", required: true,
    });
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h("form", { class: "signin-form", testid: "signin-form", onsubmit: submit },
      h("label", { for: "signin-token" }, "Bearer token"),
      input,
      h("p", { class: "hint" }, "Create one with `daap token create NAME`. It is kept in this tab only."),
      error,
      h("div", { class: "form-buttons" },
        h("button", { type: "submit", class: "btn btn-primary" }, "Sign in"),
        button("Cancel", closeForm)));
    async function submit(event) {
      event.preventDefault();
      const previous = getToken();
      setToken(input.value.trim());
      try {
        await api("/api/whoami");
      } catch (err) {
        setToken(previous);
        fill(error, err.message, err.hint ? ` — ${err.hint}` : "");
        input.focus();
        return;
      }
      closeForm();
      await refresh();
      onChange();
    }
    form.addEventListener("keydown", (e) => e.key === "Escape" && closeForm());
    fill(panel, form);
    panel.hidden = false;
    input.focus();
  }

  function closeForm() {
    panel.hidden = true;
    clear(panel);
  }

  async function signOut() {
    setToken("");
    await refresh();
    onChange();
  }

  async function refresh() {
    clear(notice);
    let me = null;
    try {
      me = await api("/api/whoami");
    } catch (err) {
      if (err.status === 401 && getToken()) {
        setToken(""); // refused: every call would fail with it
        fill(notice, `Your token was refused: ${err.message}`);
      } else if (err.status !== 401) {
        fill(notice, err.message);
      }
    }
    if (me && me.authenticated) {
      fill(who, h("span", { class: "who-dot ok", "aria-hidden": "true" }), h("span", {}, h("span", { class: "wide-only" }, "Signed in as "), h("strong", {}, describe(me))));
      fill(actions, button("Sign out", signOut));
    } else if (me) {
      fill(who, h("span", { class: "who-dot", "aria-hidden": "true" }), h("span", {}, `${me.name} — this server does not ask who you are`));
      clear(actions);
    } else {
      fill(who, h("span", { class: "who-dot", "aria-hidden": "true" }), h("span", {}, "anonymous — public products only"));
      fill(actions, button("Sign in", openForm, "btn-primary"));
    }
    return me;
  }

  return { refresh, openForm };
}
