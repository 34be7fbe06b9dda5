// Per-conversation actions in the sidebar: the Rename / Pin / Delete menu, renaming
// in place and the delete confirmation dialog.

import { announce, el } from "../lib/dom.js";
import { errorText, request } from "../lib/http.js";
import { PopupMenu } from "../lib/menu.js";

export class ConversationActions {
  // onRenamed(id, title), onDeleted(id) after the server agreed.
  constructor(sidebar, { menu, dialog, onRenamed, onDeleted }) {
    this.sidebar = sidebar;
    this.dialog = dialog;
    this.onRenamed = onRenamed;
    this.onDeleted = onDeleted;
    this.renaming = null; // {id, input, link}
    this.deleting = null; // the item being deleted
    sidebar.isBusy = () => !!this.renaming || this.popup.isOpen;

    this.popup = new PopupMenu(menu, {
      onOpen: (button) => {
        const pinned = button.closest("li").dataset.pinned === "true";
        menu.querySelector('[data-action="pin"]').textContent = pinned ? "Unpin" : "Pin";
      },
      onSelect: (item, button) => this.run(item.dataset.action, button.closest("li")),
    });
    menu.addEventListener("toggle", (event) => {
      if (event.newState === "closed") setTimeout(() => sidebar.resume());
    });
    sidebar.host.addEventListener("click", (event) => {
      const button = event.target.closest(".conv-menu-button");
      if (button) this.popup.toggle(button);
    });
    sidebar.host.addEventListener("keydown", (event) => {
      const button = event.target.closest(".conv-menu-button");
      if (button && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
        event.preventDefault();
        this.popup.open(button, event.key === "ArrowUp");
      }
    });

    dialog.querySelector('[data-action="confirm"]').addEventListener("click", (event) => {
      event.preventDefault();
      this.confirmDelete();
    });
    dialog.addEventListener("close", () => {
      const item = this.deleting;
      this.deleting = null;
      if (item && item.isConnected) item.querySelector(".conv-menu-button").focus();
    });
  }

  run(action, item) {
    if (!item) return;
    if (action === "rename") this.startRename(item);
    else if (action === "pin") this.togglePin(item);
    else if (action === "delete") this.askDelete(item);
  }

  // ---------- rename ----------

  startRename(item) {
    if (this.renaming) this.finishRename(false);
    const link = item.querySelector("a");
    const input = el("input", "rename-field");
    input.type = "text";
    input.maxLength = 200;
    input.value = link.textContent;
    input.setAttribute("aria-label", "Conversation title");
    input.setAttribute("aria-describedby", this.sidebar.error.id);
    const state = { id: item.dataset.id, url: item.dataset.url, input, link, original: link.textContent, saving: false };
    this.renaming = state;
    link.hidden = true;
    item.querySelector(".conv-menu-button").hidden = true;
    link.after(input);
    input.focus();
    input.select();
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        this.saveRename(state, true);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.finishRename(true);
      }
    });
    input.addEventListener("blur", () => {
      if (this.renaming === state && !state.saving) this.saveRename(state, false);
    });
  }

  async saveRename(state, keepOpenOnError) {
    const title = state.input.value.trim();
    if (!title || title === state.original) {
      this.finishRename(document.activeElement === state.input);
      return;
    }
    state.saving = true;
    const { status, body } = await request(`${state.url}rename/`, { method: "POST", json: { title } });
    state.saving = false;
    if (this.renaming !== state) return;
    if (status !== 200 || !body) {
      const text = errorText(body, status ? `Could not rename the conversation (HTTP ${status}).` : "Could not reach the server.");
      this.sidebar.showError(text);
      if (keepOpenOnError && document.activeElement === state.input) {
        state.input.setAttribute("aria-invalid", "true");
        return;
      }
      this.finishRename(false);
      return;
    }
    this.sidebar.showError("");
    this.finishRename(document.activeElement === state.input);
    this.sidebar.setTitle(state.id, body.title);
    this.onRenamed(state.id, body.title);
    announce("Conversation renamed.");
  }

  finishRename(focusLink) {
    const state = this.renaming;
    if (!state) return;
    this.renaming = null;
    state.input.remove();
    state.link.hidden = false;
    const item = state.link.closest("li");
    if (item) item.querySelector(".conv-menu-button").hidden = false;
    if (focusLink) state.link.focus();
    this.sidebar.resume();
  }

  // ---------- pin ----------

  async togglePin(item) {
    const pinned = item.dataset.pinned !== "true";
    const { status, body } = await request(`${item.dataset.url}pin/`, { method: "POST", json: { pinned } });
    if (status !== 200) {
      this.sidebar.showError(errorText(body, "Could not change the pin."));
      return;
    }
    this.sidebar.showError("");
    item.querySelector(".conv-menu-button").focus();
    await this.sidebar.refresh();
    announce(pinned ? "Pinned." : "Unpinned.");
  }

  // ---------- delete ----------

  askDelete(item) {
    this.deleting = item;
    this.dialog.querySelector(".delete-title").textContent = item.querySelector("a").textContent;
    const error = this.dialog.querySelector(".dialog-error");
    error.hidden = true;
    error.textContent = "";
    this.dialog.showModal();
  }

  async confirmDelete() {
    const item = this.deleting;
    if (!item) return;
    const confirm = this.dialog.querySelector('[data-action="confirm"]');
    confirm.disabled = true;
    const { status, body } = await request(`${item.dataset.url}delete/`, { method: "POST" });
    confirm.disabled = false;
    if (status !== 204 && status !== 404) {
      const error = this.dialog.querySelector(".dialog-error");
      error.textContent = errorText(body, status ? `Could not delete the conversation (HTTP ${status}).` : "Could not reach the server.");
      error.hidden = false;
      return;
    }
    const id = item.dataset.id;
    const next = this.neighbour(item);
    this.deleting = null;
    this.dialog.close();
    this.sidebar.remove(id);
    announce("Conversation deleted.");
    if (next) next.focus();
    else this.sidebar.search.focus();
    this.onDeleted(id);
  }

  neighbour(item) {
    const links = [...this.sidebar.host.querySelectorAll("li[data-id] > a")];
    const index = links.indexOf(item.querySelector("a"));
    return links[index + 1] || links[index - 1] || null;
  }
}
