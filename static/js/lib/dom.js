// DOM helpers both pages share: element creation, the polite live region, a passing
// notice, numbers as the page writes them, the clipboard and ids.

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
