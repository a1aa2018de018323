// The HTTP API, same origin only: JSON in, ApiError out, the bearer token on every call.
//
// Errors come as {"error": {"type", "message", "hint"}}; a network failure becomes an ApiError too,
// so every view shows one kind of error box.

const TOKEN_KEY = "daap.token";

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return ""; // storage refused (privacy mode): signed out
  }
}

export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* nothing to keep it in */
  }
}

export class ApiError extends Error {
  constructor(message, { status = 0, type = "NetworkError", hint = null } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.hint = hint;
  }
}

/** "?a=1&tag=x&tag=y": arrays repeat the parameter; empty values are left out. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== null && one !== undefined && one !== "") search.append(key, String(one));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Keep a server-given URL on this origin: `next` links name the host the server saw. */
export function sameOrigin(url) {
  const parsed = new URL(url, location.href);
  return parsed.pathname + parsed.search;
}

/** GET (or send) JSON; throws ApiError with the server's message and hint. */
export async function api(path, { params, signal, method = "GET", body } = {}) {
  const headers = { accept: "application/json" };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(path + query(params), {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin", cache: "no-store",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError("The daap server did not answer.", {
      hint: "Is `daap up` still running? Reload the page when it is back.",
    });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const detail = data?.error || {};
    const plain = typeof data?.detail === "string" ? `${response.status} ${data.detail}` : null;
    throw new ApiError(detail.message || plain || `${response.status} ${response.statusText}`.trim(), {
      status: response.status, type: detail.type || "HttpError", hint: detail.hint || null,
    });
  }
  return data;
}

/**
 * Follow `next` links until every page of `key` items is loaded, or `cap` items.
 * Returns {first, items, truncated}; `first` is the first page (its other fields).
 */
export async function allPages(path, { params, signal, key = "items", cap = 5000 } = {}) {
  const first = await api(path, { params, signal });
  const items = [...(first?.[key] || [])];
  let next = first?.next;
  while (next && items.length < cap) {
    const page = await api(sameOrigin(next), { signal });
    items.push(...(page?.[key] || []));
    next = page?.next;
  }
  return { first, items: items.slice(0, cap), truncated: Boolean(next) || items.length > cap };
}

export const isAbort = (err) => err?.name === "AbortError";
