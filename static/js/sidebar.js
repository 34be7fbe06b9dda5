// Sidebar: conversations grouped by date, the server-side search, the time zone
// cookie and the drawer on narrow screens.

import { announce, el, errorText, request } from "./ui.js";

const SEARCH_DELAY_MS = 250;
const ZONE = /^[A-Za-z0-9_+\-/]{1,63}$/;

// Tell the server the browser's time zone; true when it did not know it yet.
export function storeTimeZone() {
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return false;
  }
  if (!ZONE.test(zone)) return false;
  const stored = document.cookie
    .split(";")
    .map((part) => part.trim())
    .find((part) => part.startsWith("tz="));
  document.cookie = `tz=${zone}; path=/; max-age=31536000; SameSite=Lax`;
  return !stored || stored.slice(3) !== zone;
}

function menuLabel(title) {
  return `Actions for ${title || "New chat"}`;
}

// One conversation: its link and the button of its action menu (same markup as chat.html).
export function conversationItem(entry, currentId) {
  const item = el("li", "conv-item");
  item.dataset.id = entry.id;
  item.dataset.pinned = String(!!entry.pinned);
  item.dataset.url = entry.url;
  const link = el("a", "conv-link", entry.title || "New chat");
  link.href = entry.url;
  link.dataset.id = entry.id;
  if (entry.id === currentId) link.setAttribute("aria-current", "page");
  const button = el("button", "conv-menu-button");
  button.type = "button";
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-label", menuLabel(entry.title));
  button.append(el("span", "dots"));
  button.lastChild.setAttribute("aria-hidden", "true");
  item.append(link, button);
  return item;
}

let groupCount = 0;

function groupNode(label) {
  groupCount += 1;
  const box = el("div", "conv-group");
  box.dataset.label = label;
  const heading = el("h2", "group-label", label);
  heading.id = `conv-group-${groupCount}`;
  const list = el("ul");
  list.setAttribute("aria-labelledby", heading.id);
  box.append(heading, list);
  return box;
}

export class Sidebar {
  constructor({ app, host, empty, search, error, toggle, backdrop, close, main, searchUrl, currentId }) {
    this.app = app;
    this.host = host;
    this.empty = empty;
    this.search = search;
    this.error = error;
    this.toggleButton = toggle;
    this.backdrop = backdrop;
    this.main = main;
    this.searchUrl = searchUrl;
    this.currentId = currentId;
    this.timer = 0;
    this.serial = 0;
    this.deferred = false;
    this.isBusy = () => false; // set by the actions: no refresh while renaming
    // Labels of the server-rendered groups get ids the JS-rendered ones cannot reuse.
    groupCount = host.querySelectorAll(".conv-group").length;

    search.addEventListener("input", () => this.refreshSoon(SEARCH_DELAY_MS));
    search.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !search.value) return;
      event.preventDefault();
      event.stopPropagation();
      search.value = "";
      this.refresh();
    });

    matchMedia("(max-width: 720px)").addEventListener("change", () => this.setOpen(false));
    toggle.addEventListener("click", () => this.setOpen(toggle.getAttribute("aria-expanded") !== "true"));
    backdrop.addEventListener("click", () => this.setOpen(false, true));
    close.addEventListener("click", () => this.setOpen(false, true));
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.defaultPrevented || document.querySelector("dialog[open]")) return;
      if (app.classList.contains("sidebar-open")) {
        this.setOpen(false, true);
      }
    });
  }

  // ---------- the drawer (narrow screens) ----------

  setOpen(open, focusToggle) {
    this.app.classList.toggle("sidebar-open", open);
    this.main.inert = open;
    this.toggleButton.setAttribute("aria-expanded", String(open));
    this.backdrop.hidden = !open;
    if (open) {
      const target = this.host.querySelector("[aria-current]") || this.search;
      target.focus();
    } else if (focusToggle) {
      this.toggleButton.focus();
    }
  }

  // ---------- items ----------

  item(id) {
    return id ? this.host.querySelector(`li[data-id="${CSS.escape(id)}"]`) : null;
  }

  setCurrent(id) {
    this.currentId = id;
    for (const link of this.host.querySelectorAll("[aria-current]")) link.removeAttribute("aria-current");
    const item = this.item(id);
    if (item) item.querySelector("a").setAttribute("aria-current", "page");
  }

  setTitle(id, title) {
    const item = this.item(id);
    if (!item) return;
    item.querySelector("a").textContent = title || "New chat";
    item.querySelector(".conv-menu-button").setAttribute("aria-label", menuLabel(title));
  }

  // A conversation started in this tab: shown at once under "Today".
  add(entry) {
    if (this.item(entry.id)) return;
    let group = this.host.querySelector('.conv-group[data-label="Today"]');
    if (!group) {
      group = groupNode("Today");
      const pinned = this.host.querySelector('.conv-group[data-label="Pinned"]');
      if (pinned) pinned.after(group);
      else this.host.prepend(group);
    }
    group.querySelector("ul").prepend(conversationItem(entry, this.currentId));
    this.setCurrent(entry.id);
    this.empty.hidden = true;
  }

  remove(id) {
    const item = this.item(id);
    if (!item) return;
    const group = item.closest(".conv-group");
    item.remove();
    if (group && !group.querySelector("li")) group.remove();
    this.showEmpty();
  }

  showEmpty() {
    const none = !this.host.querySelector("li");
    this.empty.textContent = this.search.value.trim() ? "No conversations match." : "No conversations yet.";
    this.empty.hidden = !none;
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  // ---------- loading from the server ----------

  refreshSoon(delay = 300) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), delay);
  }

  async refresh() {
    clearTimeout(this.timer);
    if (this.isBusy()) {
      this.deferred = true;
      return;
    }
    this.deferred = false;
    const serial = ++this.serial;
    const query = this.search.value.trim();
    const url = query ? `${this.searchUrl}?q=${encodeURIComponent(query)}` : this.searchUrl;
    const { status, body } = await request(url);
    if (serial !== this.serial) return; // a newer search is on its way
    if (status !== 200 || !body || !Array.isArray(body.groups)) {
      this.showError(errorText(body, "Could not load the conversations."));
      return;
    }
    if (this.isBusy()) {
      this.deferred = true;
      return;
    }
    if (this.error.textContent === "Could not load the conversations.") this.showError("");
    this.render(body.groups);
    if (query && document.activeElement === this.search) {
      const found = this.host.querySelectorAll("li[data-id]").length;
      announce(found ? `${found} conversation${found === 1 ? "" : "s"} found.` : "No conversations match.");
    }
  }

  // Run a refresh that was put off while an item was being renamed.
  resume() {
    if (this.deferred) this.refresh();
  }

  render(groups) {
    const focus = this.focusedItem();
    const nodes = [];
    for (const group of groups) {
      const box = groupNode(group.label);
      const list = box.querySelector("ul");
      for (const entry of group.conversations || []) list.append(conversationItem(entry, this.currentId));
      nodes.push(box);
    }
    this.host.replaceChildren(...nodes);
    this.showEmpty();
    if (focus) this.restoreFocus(focus);
  }

  focusedItem() {
    const active = document.activeElement;
    const item = active && this.host.contains(active) ? active.closest("li[data-id]") : null;
    return item ? { id: item.dataset.id, menu: active.classList.contains("conv-menu-button") } : null;
  }

  restoreFocus({ id, menu }) {
    const item = this.item(id);
    if (item) item.querySelector(menu ? ".conv-menu-button" : "a").focus();
    else this.search.focus();
  }
}
