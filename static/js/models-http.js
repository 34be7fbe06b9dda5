// The Models page's JSON requests: call() throws an error with a message written for
// people, and a lost session goes to the sign-in page.

import { csrfToken, errorText } from "./ui.js";

class RequestFailed extends Error {}

// loginUrl: the sign-in page. Returns call(url, body) (a POST when body is given) and goToLogin().
export function jsonCaller(loginUrl) {
  function goToLogin() {
    location.assign(`${loginUrl}?next=${encodeURIComponent(location.pathname)}`);
  }

  // JSON in, JSON out; throws RequestFailed with a message written for people.
  async function call(url, body) {
    const init = { headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken();
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch {
      throw new RequestFailed("Cannot reach the server. Check your connection and try again.");
    }
    if (res.status === 401 || (res.redirected && new URL(res.url).pathname.startsWith(loginUrl))) {
      goToLogin();
      throw new RequestFailed("Sign in again.");
    }
    let payload = null;
    try {
      payload = await res.json();
    } catch {
      /* not JSON */
    }
    if (!res.ok || !payload) {
      const failed = new RequestFailed(errorText(payload, `The server answered HTTP ${res.status}.`));
      failed.code = payload && payload.error ? payload.error.code : ""; // e.g. "exists": the copy would replace a model
      throw failed;
    }
    return payload;
  }

  return { call, goToLogin };
}
