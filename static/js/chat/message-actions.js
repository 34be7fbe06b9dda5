// Each message's actions: copy, edit any question (in place; the edit starts a branch),
// delete a question with its replies, regenerate any reply (with the chosen model or
// another), continue a reply cut short, and the "‹ 2/3 ›" pager between versions.

import { copyText, el, toast } from "../lib/dom.js";
import { lazy } from "../lib/lazy.js";

const menuModule = lazy(() => import("../lib/menu.js"));

function button(label, className, text) {
  const node = el("button", `msg-action ${className}`, text ?? label);
  node.type = "button";
  if (text != null) node.setAttribute("aria-label", label);
  return node;
}

// A reply that ended before its end: stopped, interrupted, or at Ollama's length limit.
export function cutShort(msg) {
  if (!msg || msg.role !== "assistant" || !msg.content) return false;
  if (msg.status === "stopped" || msg.status === "interrupted") return true;
  return msg.status === "complete" && !!msg.stats && msg.stats.done_reason === "length";
}

export class MessageActions {
  // handlers: regenerate(replyId, model), edit(content, questionId) -> true when sent,
  // switchTo(replyId, label), continueReply(replyId), remove(messageId), models() -> [{name, label}].
  constructor(list, handlers, { modelMenu, deleteDialog }) {
    this.list = list;
    this.handlers = handlers;
    this.data = new WeakMap(); // article -> message
    this.seen = new Map(); // reply id -> version ids, for replies the server sent without them
    this.busy = false;
    this.editing = null; // {article, form, text, save}
    this.modelMenu = modelMenu;
    this.models = null; // the "Answer again with…" menu, made when first opened
    this.deleteDialog = deleteDialog;
    this.deleting = null; // the article whose deletion awaits confirmation
    deleteDialog.querySelector('[data-action="confirm"]').addEventListener("click", () => {
      const article = this.deleting;
      deleteDialog.close();
      if (article && article.isConnected && !this.busy) this.handlers.remove(article.dataset.id);
    });
    deleteDialog.addEventListener("close", () => {
      const article = this.deleting;
      this.deleting = null;
      const again = article && article.isConnected && article.querySelector(".delete-button");
      if (again) again.focus();
    });
  }

  // The reply frame that starts another version lists what it replaces.
  noteReplaces(msg, replaced) {
    if (Array.isArray(msg.version_ids) && msg.version_ids.length) return;
    const earlier = replaced.flatMap((id) => this.seen.get(id) || []);
    this.seen.set(msg.id, [...new Set([...earlier, msg.id])]);
  }

  versionIds(msg) {
    if (Array.isArray(msg.version_ids) && msg.version_ids.length) return msg.version_ids;
    return this.seen.get(msg.id) || [msg.id];
  }

  // Add the action row to a final article.
  decorate(article, msg) {
    this.data.set(article, msg);
    const row = el("div", "message-actions");
    if (msg.role === "user") {
      const copy = button("Copy message", "copy-message-button", "Copy");
      copy.addEventListener("click", () => this.copy(msg.content || "", "Message copied"));
      const edit = button("Edit", "edit-button");
      edit.addEventListener("click", () => this.startEdit(article));
      const remove = button("Delete message and its replies", "delete-button", "Delete");
      remove.addEventListener("click", () => this.confirmDelete(article));
      row.append(copy, edit, remove);
    } else {
      if ((msg.versions || 1) > 1) row.append(this.pager(msg));
      const copy = button("Copy reply", "copy-message-button", "Copy");
      copy.addEventListener("click", () => this.copy(msg.content || "", "Reply copied"));
      row.append(copy);
      if (cutShort(msg)) {
        const more = button("Continue", "continue-button");
        more.addEventListener("click", () => {
          if (!this.busy) this.handlers.continueReply(msg.id);
        });
        row.append(more);
      }
      const again = button("Regenerate", "regenerate-button");
      again.addEventListener("click", () => {
        if (!this.busy) this.handlers.regenerate(msg.id, null);
      });
      const other = button("Answer again with…", "model-menu-button", "▾");
      other.setAttribute("aria-haspopup", "menu");
      other.setAttribute("aria-expanded", "false");
      // As PopupMenu.attach: a click toggles the menu, the arrow keys open it.
      other.addEventListener("click", () => this.modelPopup((menu) => menu.toggle(other)));
      other.addEventListener("keydown", (event) => {
        if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
        event.preventDefault();
        this.modelPopup((menu) => menu.open(other, event.key === "ArrowUp"));
      });
      row.append(again, other);
    }
    article.append(row);
    return article;
  }

  async copy(text, done) {
    let said = done;
    try {
      await copyText(text);
    } catch {
      said = "Copy failed";
    }
    toast(said); // a role="status" region: read out too
  }

  // The last reply's Markdown, for the keyboard shortcut.
  copyLastReply() {
    const article = this.lastOf("assistant");
    const msg = article && this.data.get(article);
    if (msg) this.copy(msg.content || "", "Reply copied");
    return !!msg;
  }

  // The model menu, once lib/menu.js is loaded: use(menu).
  modelPopup(use) {
    return menuModule(({ PopupMenu }) => {
      this.models ||= new PopupMenu(this.modelMenu, {
        onOpen: () => this.fillModelMenu(),
        onSelect: (item, opener) => {
          const article = opener && opener.closest("article");
          if (article && !this.busy) this.handlers.regenerate(article.dataset.id, item.dataset.model);
        },
      });
      return use(this.models);
    });
  }

  fillModelMenu() {
    const items = this.handlers.models().map(({ name, label }) => {
      const item = el("button", null, label);
      item.type = "button";
      item.setAttribute("role", "menuitem");
      item.tabIndex = -1;
      item.dataset.model = name;
      return item;
    });
    if (!items.length) {
      const none = el("button", null, "No models loaded yet");
      none.type = "button";
      none.setAttribute("role", "menuitem");
      none.setAttribute("aria-disabled", "true");
      none.tabIndex = -1;
      items.push(none);
    }
    this.modelMenu.replaceChildren(...items);
  }

  confirmDelete(article) {
    if (this.busy) return;
    const msg = this.data.get(article);
    this.deleting = article;
    this.deleteDialog.querySelector(".delete-message-text").textContent = (msg && msg.content ? msg.content : "").slice(0, 200);
    this.deleteDialog.showModal();
  }

  pager(msg) {
    const ids = this.versionIds(msg);
    const index = ids.indexOf(msg.id);
    const box = el("span", "pager");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Reply versions");
    const prev = button("Previous version", "pager-prev", "‹");
    const next = button("Next version", "pager-next", "›");
    // Only ids the page knows can be asked for; an unknown sibling leaves its button disabled.
    prev.dataset.target = index > 0 ? ids[index - 1] : "";
    next.dataset.target = index >= 0 && index < ids.length - 1 ? ids[index + 1] : "";
    for (const node of [prev, next]) {
      node.addEventListener("click", () => {
        if (node.dataset.target && !this.busy) this.handlers.switchTo(node.dataset.target, node.getAttribute("aria-label"));
      });
    }
    box.append(prev, el("span", "version-count", `${msg.version}/${msg.versions}`), next);
    return box;
  }

  lastOf(role) {
    const articles = this.list.querySelectorAll(`article[data-role="${role}"]`);
    return articles[articles.length - 1] || null;
  }

  // Nothing can be changed while a reply streams; Continue is for the last reply only.
  update({ busy }) {
    this.busy = busy;
    const last = this.list.lastElementChild;
    for (const row of this.list.querySelectorAll(".message-actions")) {
      const article = row.parentElement;
      for (const action of row.querySelectorAll(".edit-button, .delete-button, .regenerate-button, .model-menu-button")) {
        action.disabled = busy;
      }
      const edit = row.querySelector(".edit-button");
      if (edit) edit.hidden = article === (this.editing && this.editing.article);
      const more = row.querySelector(".continue-button");
      if (more) {
        more.hidden = article !== last;
        more.disabled = busy;
      }
      for (const step of row.querySelectorAll(".pager-prev, .pager-next")) {
        step.disabled = busy || !step.dataset.target;
      }
    }
    if (this.editing && !this.editing.sending) this.editing.save.disabled = busy;
  }

  // Put focus back on a pager button after the list was replaced: refocus is {id, label},
  // the version switched to and the button used.
  focusPager(refocus) {
    const reply = (refocus.id && this.list.querySelector(`article[data-id="${CSS.escape(refocus.id)}"]`)) || this.lastOf("assistant");
    if (!reply) return false;
    const wanted = reply.querySelector(`.pager button[aria-label="${refocus.label}"]`);
    const target = wanted && !wanted.disabled ? wanted : reply.querySelector(".pager button:enabled");
    if (!target) return false;
    target.focus();
    return true;
  }

  // ---------- editing a question ----------

  // The last question, for the ↑ shortcut in an empty composer.
  editLast() {
    const article = this.lastOf("user");
    if (!article || this.busy) return false;
    this.startEdit(article);
    return true;
  }

  startEdit(article) {
    if (this.editing) this.cancelEdit(false);
    const msg = this.data.get(article);
    if (!msg) return;
    const form = el("form", "edit-form");
    const text = el("textarea", "edit-text");
    text.value = msg.content || "";
    text.rows = Math.min(10, Math.max(2, text.value.split("\n").length));
    text.setAttribute("aria-label", "Edit message");
    const buttons = el("div", "edit-buttons");
    const cancel = el("button", "button small", "Cancel");
    cancel.type = "button";
    const save = el("button", "button small primary", "Save and send");
    save.type = "submit";
    buttons.append(cancel, save);
    form.append(text, buttons);
    article.classList.add("editing");
    article.querySelector(".content").after(form);
    this.editing = { article, form, text, save, sending: false };
    this.update({ busy: this.busy });
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);

    cancel.addEventListener("click", () => this.cancelEdit(true));
    text.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.cancelEdit(true);
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const content = text.value;
      if (!content.trim() || this.busy || this.editing.sending) return;
      if (this.handlers.edit(content, msg.id)) {
        this.editing.sending = true;
        save.disabled = true;
        text.readOnly = true;
      }
    });
  }

  cancelEdit(focus) {
    const editing = this.editing;
    if (!editing) return;
    this.editing = null;
    editing.form.remove();
    editing.article.classList.remove("editing");
    this.update({ busy: this.busy });
    const edit = editing.article.querySelector(".edit-button");
    if (focus && edit && !edit.hidden) edit.focus();
  }

  // The server refused the edit: the text stays, ready to try again.
  editFailed() {
    if (!this.editing) return;
    this.editing.sending = false;
    this.editing.text.readOnly = false;
    this.editing.save.disabled = this.busy;
    this.editing.text.focus();
  }

  // The edited question arrived; the old one goes when the reply replaces it.
  editDone() {
    const editing = this.editing;
    this.editing = null;
    if (editing && editing.article.isConnected) {
      editing.form.remove();
      editing.article.classList.remove("editing");
    }
  }
}
