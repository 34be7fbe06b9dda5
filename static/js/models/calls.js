// The Models page's JSON requests: call() throws an error with a message written for
// people (a lost session is also shown by request() in a banner).

import { errorText, request } from "../lib/http.js";

class RequestFailed extends Error {}

// JSON in, JSON out (a POST when body is given); throws RequestFailed with a message written for people.
export async function call(url, body) {
  const { status, ok, body: payload, lost } = await request(url, body === undefined ? {} : { method: "POST", json: body });
  if (!status) throw new RequestFailed("Cannot reach the server. Check your connection and try again.");
  if (lost) throw new RequestFailed("Your session has ended: sign in again.");
  if (!ok || !payload) {
    const failed = new RequestFailed(errorText(payload, `The server answered HTTP ${status}.`));
    failed.code = payload && payload.error ? payload.error.code : ""; // e.g. "exists": the copy would replace a model
    throw failed;
  }
  return payload;
}
