// Sidebar: conversations grouped by date and loaded a page at a time, the server-side
// search and the drawer on narrow screens.

import { announce, el } from "../lib/dom.js";
import { errorText, request } from "../lib/http.js";
import { conversationItem, groupNode, menuLabel, mergeGroups } from "./sidebar-items.js";

const SEARCH_DELAY_MS = 250;
// The next page is fetched once the list is scrolled this close to its end.
const NEAR_END_PX = 200;
const LOAD_ERRORS = ["Could not load the conversations.", "Could not load older conversations."];

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
    this.groupCount = host.querySelectorAll(".conv-group").length;

    // Paging: `next` is the server's cursor for the page after the shown ones
    // (the template writes it for the page it rendered), `query` the search they answer.
    this.scroller = host.parentElement;
    this.query = "";
    this.next = host.dataset.next || null;
    this.loading = false;
    this.pressed = false;
    this.failed = false; // no automatic retries after an error: the button retries
    this.more = el("button", "button small", "Show older conversations");
    this.more.type = "button";
    host.after(this.more);
    this.showMore();
    this.more.addEventListener("click", () => this.loadMore(true));
    this.scroller.addEventListener("scroll", () => this.check(), { passive: true });

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

  newGroup(label) {
    this.groupCount += 1;
    return groupNode(label, `conv-group-${this.groupCount}`);
  }

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
    item.querySelector("a").title = title || "New chat";
    item.querySelector(".conv-menu-button").setAttribute("aria-label", menuLabel(title));
  }

  // A conversation started in this tab: shown at once under "Today".
  add(entry) {
    if (this.item(entry.id)) return;
    let group = this.host.querySelector('.conv-group[data-label="Today"]');
    if (!group) {
      group = this.newGroup("Today");
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

  count() {
    return this.host.querySelectorAll("li[data-id]").length;
  }

  pageUrl(query, after) {
    const params = new URLSearchParams();
    if (query) params.set("q", query);
    if (after) params.set("after", after);
    const search = params.toString();
    return search ? `${this.searchUrl}?${search}` : this.searchUrl;
  }

  refreshSoon(delay = 300) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), delay);
  }

  // Load the list again from the top. The same search keeps as many conversations
  // as are shown, so the pages the reader scrolled to do not vanish.
  async refresh() {
    clearTimeout(this.timer);
    if (this.isBusy()) {
      this.deferred = true;
      return;
    }
    this.deferred = false;
    const serial = ++this.serial;
    this.loading = true;
    const query = this.search.value.trim();
    const keep = query === this.query ? this.count() : 0;
    const groups = [];
    const seen = new Set();
    let next = null;
    do {
      const { status, body } = await request(this.pageUrl(query, next));
      if (serial !== this.serial) return; // a newer search is on its way
      if (status !== 200 || !body || !Array.isArray(body.groups)) {
        this.loading = false;
        this.showError(errorText(body, "Could not load the conversations."));
        return;
      }
      mergeGroups(groups, body.groups, seen);
      next = body.next || null;
    } while (next && seen.size < keep);
    this.loading = false;
    if (this.isBusy()) {
      this.deferred = true;
      return;
    }
    this.query = query;
    this.next = next;
    this.failed = false;
    this.pressed = false;
    if (LOAD_ERRORS.includes(this.error.textContent)) this.showError("");
    this.render(groups);
    this.showMore();
    if (query && document.activeElement === this.search) {
      const found = this.count();
      const count = `${next ? "More than " : ""}${found} conversation${found === 1 ? "" : "s"}`;
      announce(found ? `${count} found.` : "No conversations match.");
    }
  }

  // The page after the shown ones, appended: a group whose label is already last
  // on screen goes on in it instead of repeating its heading.
  async loadMore(fromButton) {
    if (fromButton && this.loading) this.pressed = true; // moves focus once the page is in
    if (!this.next || this.loading) return;
    this.pressed = fromButton;
    const serial = this.serial;
    this.loading = true;
    this.more.textContent = "Loading older conversations…";
    const { status, body } = await request(this.pageUrl(this.query, this.next));
    if (serial !== this.serial) return; // the list was loaded again meanwhile
    this.loading = false;
    if (status !== 200 || !body || !Array.isArray(body.groups)) {
      this.failed = true;
      this.pressed = false;
      this.showMore();
      this.showError(LOAD_ERRORS[1]);
      return;
    }
    this.failed = false;
    if (LOAD_ERRORS.includes(this.error.textContent)) this.showError("");
    this.next = body.next || null;
    const added = this.append(body.groups);
    this.showMore();
    if (this.pressed) {
      this.pressed = false;
      // The button moved below the new conversations (or is gone): go on from the first of them.
      const target = added.length ? added[0].querySelector("a") : this.more.hidden ? this.lastLink() : null;
      if (target) target.focus();
      const count = added.length;
      announce(count ? `${count} older conversation${count === 1 ? "" : "s"} shown.` : "No older conversations.");
    }
    requestAnimationFrame(() => this.check());
  }

  // Near the end of the list: fetch the next page. Not while the button has the
  // focus: a keyboard user is about to press it, and the focus follows the press.
  check() {
    if (!this.next || this.loading || this.failed || document.activeElement === this.more) return;
    const box = this.scroller;
    if (box.clientHeight && box.scrollTop + box.clientHeight >= box.scrollHeight - NEAR_END_PX) this.loadMore(false);
  }

  showMore() {
    this.more.hidden = !this.next;
    this.more.textContent = "Show older conversations";
  }

  // The new items, in order.
  append(groups) {
    const added = [];
    for (const group of groups) {
      let box = this.host.lastElementChild;
      if (!box || box.dataset.label !== group.label) box = this.newGroup(group.label);
      const list = box.querySelector("ul");
      for (const entry of group.conversations || []) {
        if (this.item(entry.id)) continue; // moved between pages (unpinned, say): shown once
        const item = conversationItem(entry, this.currentId);
        list.append(item);
        added.push(item);
      }
      if (!box.isConnected && list.firstChild) this.host.append(box);
    }
    this.showEmpty();
    return added;
  }

  lastLink() {
    const links = this.host.querySelectorAll("li[data-id] > a");
    return links[links.length - 1] || null;
  }

  // Run a refresh that was put off while an item was being renamed.
  resume() {
    if (this.deferred) this.refresh();
  }

  render(groups) {
    const focus = this.focusedItem();
    const nodes = [];
    for (const group of groups) {
      const box = this.newGroup(group.label);
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
