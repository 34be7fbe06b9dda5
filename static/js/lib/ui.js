// Small DOM helpers shared by the chat modules: element creation, the polite
// live region, banners, a passing notice, the clipboard, ids and JSON requests with the CSRF token.

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

export function announce(text) {
  const live = document.getElementById("live");
  if (live) live.textContent = text;
}

// A short notice at the bottom of the page ("Settings saved."), gone after a few seconds.
let toastTimer = 0;
export function toast(text) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = text;
  box.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.classList.remove("shown");
    box.textContent = "";
  }, 4000);
}

// 4096 -> "4,096": the page is in English whatever the browser's locale.
export function formatCount(value) {
  return Number(value).toLocaleString("en-US");
}

function bannerHost() {
  return document.getElementById("banners");
}

// A banner is an alert with a text and, optionally, a Retry button.
export function showBanner(key, text, onRetry) {
  const host = bannerHost();
  let box = host.querySelector(`[data-banner="${key}"]`);
  if (!box) {
    box = el("div", "banner");
    box.dataset.banner = key;
    box.setAttribute("role", "alert");
    box.append(el("p", "banner-text"));
    if (onRetry) {
      const button = el("button", "button small", "Retry");
      button.type = "button";
      button.addEventListener("click", () => onRetry());
      box.append(button);
    }
    host.append(box);
  }
  box.querySelector(".banner-text").textContent = text;
}

export function hideBanner(key) {
  const box = bannerHost().querySelector(`[data-banner="${key}"]`);
  if (!box) return false;
  const hadFocus = box.contains(document.activeElement);
  box.remove();
  return hadFocus;
}

// The people-readable text of a JSON error body: {"error": "..."} or
// {"error": {"code": "...", "message": "..."}}.
export function errorText(body, fallback) {
  const err = body && body.error;
  if (typeof err === "string" && err) return err;
  if (err && typeof err.message === "string" && err.message) return err.message;
  return fallback;
}

// Copy text to the clipboard, with a fallback for pages served over plain HTTP.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = el("textarea", "offscreen");
  area.value = text;
  area.setAttribute("readonly", "");
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy failed");
}

// A random id for a message the tab sends (echoed back by the server).
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

// fetch() for the page's JSON endpoints. Resolves to {status, body} (body is
// null when the answer is not JSON), or {status: 0} when the server is unreachable.
export async function request(url, { method = "GET", json, form } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body, credentials: "same-origin" });
  } catch {
    return { status: 0, body: null };
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: data, redirected: res.redirected };
}
