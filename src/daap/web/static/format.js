// Turning values into words: times ("3 minutes ago"), numbers, cells of a result table.

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const ABSOLUTE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });
const NUMBER = new Intl.NumberFormat();

// biggest unit first: 90 seconds reads "2 minutes ago", 36 hours "yesterday"
const UNITS = [
  ["year", 365 * 86400], ["month", 30 * 86400], ["week", 7 * 86400],
  ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1],
];

export function relativeTime(when, now = Date.now()) {
  const seconds = (when.getTime() - now) / 1000;
  if (Math.abs(seconds) < 10) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") return RELATIVE.format(Math.round(seconds / size), unit);
  }
  return "";
}

export function absoluteTime(when) {
  return `${ABSOLUTE.format(when)} (${when.toISOString()})`;
}

export function number(n) {
  return typeof n === "number" ? NUMBER.format(n) : n === null || n === undefined ? "—" : String(n);
}

export function plural(n, one, many = `${one}s`) {
  return `${number(n)} ${n === 1 ? one : many}`;
}

/** A cell's text: null shows as "null", objects as compact JSON. */
export function showValue(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  return String(value);
}

/** "business_objective" → "business objective". */
export function words(key) {
  return String(key).replace(/_/g, " ");
}

export function percent(value, digits = 1) {
  return typeof value === "number" ? `${value.toFixed(digits)}%` : "—";
}
