// What the Models page's parts share on screen: sizes and times written as the ollama
// command prints them, row buttons that name their model, and a form's error line.

import { el } from "../lib/dom.js";

const NEVER_MS = 365 * 24 * 3600 * 1000; // a negative keep_alive expires in centuries

// Decimal units with one decimal, as the ollama command prints them: "2.0 GB".
export function humanSize(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1000) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB", "PB"];
  let value = bytes / 1000;
  let index = 0;
  while (value >= 999.95 && index < units.length - 1) {
    value /= 1000;
    index += 1;
  }
  return `${value.toFixed(1)} ${units[index]}`;
}

const relativeFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

// "in 4 minutes"; "now" once past; "never" for models kept loaded forever.
export function relativeTime(iso, now = Date.now()) {
  const when = Date.parse(iso);
  if (!Number.isFinite(when)) return "";
  const ms = when - now;
  if (ms > NEVER_MS) return "never";
  if (ms <= 0) return "now";
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return relativeFormat.format(seconds, "second");
  if (seconds < 3600) return relativeFormat.format(Math.round(seconds / 60), "minute");
  if (seconds < 86400) return relativeFormat.format(Math.round(seconds / 3600), "hour");
  return relativeFormat.format(Math.round(seconds / 86400), "day");
}

export function shortDate(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  return when.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

// hidden: text for screen readers after the visible one ("Load" + " llama3.2").
export function button(text, hidden, className = "button small") {
  const node = el("button", className, text);
  node.type = "button";
  if (hidden) node.append(el("span", "visually-hidden", ` ${hidden}`));
  return node;
}

// The error line of a form: shown with text, hidden without.
export function showError(id, text) {
  const node = document.getElementById(id);
  node.textContent = text;
  node.hidden = !text;
}
