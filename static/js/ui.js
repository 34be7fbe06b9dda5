// Small DOM helpers shared by the chat modules: element creation, the polite
// live region, and dismissible banners.

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
