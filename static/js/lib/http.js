// The one way both pages ask the server for JSON: the CSRF token, the text of the one
// error shape, and the one test for a session that has ended (401, or a redirect to
// the sign-in page), with the one thing the page then does (sessionEnded).

import { showLinkBanner } from "./banners.js";

let signInUrl = "";
let ended = false;
const endedListeners = [];

// The page's sign-in URL, given once by the page's entry module.
export function useSignInPage(url) {
  signInUrl = url || "";
}

// The sign-in page, coming back here afterwards.
export function signInAgainUrl() {
  const next = location.pathname + location.search;
  return `${signInUrl}?next=${encodeURIComponent(next)}`;
}

// The session ended (signed out in another tab, deactivated): found by an HTTP answer
// or a socket closed with 4401. The page says so once and offers to sign in again,
// rather than going on or failing quietly; listeners stop what the page was doing.
export function sessionEnded() {
  if (ended) return;
  ended = true;
  showLinkBanner("session", "Your session has ended.", { href: signInAgainUrl(), label: "Sign in again" });
  for (const listener of endedListeners) listener();
}

export function onSessionEnded(listener) {
  endedListeners.push(listener);
}

export function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

// The people-readable text of a JSON error body: {"error": {"code": "...", "message": "..."}}
// (or {"error": "..."}).
export function errorText(body, fallback) {
  const err = body && body.error;
  if (typeof err === "string" && err) return err;
  if (err && typeof err.message === "string" && err.message) return err.message;
  return fallback;
}

// A form's answer {"errors": {field: message}}: the messages by field, or null.
export function fieldErrors(body) {
  const errors = body && body.errors;
  return errors && typeof errors === "object" && !Array.isArray(errors) ? errors : null;
}

function sessionLost(res) {
  if (res.status === 401) return true;
  if (!res.redirected || !signInUrl) return false;
  return new URL(res.url).pathname === new URL(signInUrl, location.href).pathname;
}

// fetch() for the page's JSON endpoints. Resolves to {status, ok, body, lost}: body is
// null when the answer is not JSON, lost is true when the session has ended, and status
// is 0 when the server cannot be reached.
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
    return { status: 0, ok: false, body: null, lost: false };
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    /* not JSON */
  }
  const lost = sessionLost(res);
  if (lost) sessionEnded();
  return { status: res.status, ok: res.ok, body: data, lost };
}
