// The one way both pages ask the server for JSON: the CSRF token, the text of the one
// error shape, and the one test for a session that has ended (401, or a redirect to
// the sign-in page), with the way back to that page.

let signInUrl = "";

// The page's sign-in URL, given once by the page's entry module.
export function useSignInPage(url) {
  signInUrl = url || "";
}

// To the sign-in page, coming back here afterwards.
export function goToSignIn() {
  const next = location.pathname + location.search;
  location.assign(`${signInUrl}?next=${encodeURIComponent(next)}`);
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
  return { status: res.status, ok: res.ok, body: data, lost: sessionLost(res) };
}
