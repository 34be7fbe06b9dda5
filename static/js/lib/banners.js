// Banners: alerts at the top of the page, one per key, with an optional Retry button.

import { el } from "./dom.js";

function bannerHost() {
  return document.getElementById("banners");
}

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

// A banner whose way out is a link (e.g. to the sign-in page): {href, label}.
export function showLinkBanner(key, text, { href, label }) {
  showBanner(key, text);
  const box = bannerHost().querySelector(`[data-banner="${key}"]`);
  let link = box.querySelector("a.button");
  if (!link) {
    link = el("a", "button small", label);
    box.append(link);
  }
  link.href = href;
  link.textContent = label;
}

export function hideBanner(key) {
  const box = bannerHost().querySelector(`[data-banner="${key}"]`);
  if (!box) return false;
  const hadFocus = box.contains(document.activeElement);
  box.remove();
  return hadFocus;
}
