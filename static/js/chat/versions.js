// Message actions: Regenerate on the last reply, Edit on the last question (edited
// in place), and the "‹ 2/3 ›" pager between the versions of a reply.

import { el } from "../lib/dom.js";

function button(label, className, text) {
  const node = el("button", `msg-action ${className}`, text ?? label);
  node.type = "button";
  if (text != null) node.setAttribute("aria-label", label);
  return node;
}

export class MessageActions {
  // handlers: regenerate(), edit(content) -> true when sent, switchTo(replyId).
  constructor(list, handlers) {
    this.list = list;
    this.handlers = handlers;
    this.data = new WeakMap(); // article -> message
    this.seen = new Map(); // reply id -> version ids, for replies the server sent without them
    this.busy = false;
    this.editing = null; // {article, form, text, save}
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
      const edit = button("Edit", "edit-button");
      edit.addEventListener("click", () => this.startEdit(article));
      row.append(edit);
    } else {
      if ((msg.versions || 1) > 1) row.append(this.pager(msg));
      const again = button("Regenerate", "regenerate-button");
      again.addEventListener("click", () => {
        if (!this.busy) this.handlers.regenerate();
      });
      row.append(again);
    }
    article.append(row);
    return article;
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

  // Only the last exchange can be regenerated, edited or switched, and not while a reply streams.
  update({ busy }) {
    this.busy = busy;
    const lastReply = this.lastOf("assistant");
    const lastQuestion = this.lastOf("user");
    const replyIsLast = lastReply && !lastReply.nextElementSibling;
    for (const row of this.list.querySelectorAll(".message-actions")) {
      const article = row.parentElement;
      const again = row.querySelector(".regenerate-button");
      if (again) {
        again.hidden = !(article === lastReply && replyIsLast);
        again.disabled = busy;
      }
      const edit = row.querySelector(".edit-button");
      if (edit) {
        edit.hidden = article !== lastQuestion || article === (this.editing && this.editing.article);
        edit.disabled = busy;
      }
      for (const step of row.querySelectorAll(".pager-prev, .pager-next")) {
        step.disabled = busy || article !== lastReply || !step.dataset.target;
      }
    }
    if (this.editing && !this.editing.sending) this.editing.save.disabled = busy;
  }

  // Put focus back on a pager button after the list was replaced.
  focusPager(label) {
    const reply = this.lastOf("assistant");
    if (!reply) return false;
    const wanted = reply.querySelector(`.pager button[aria-label="${label}"]`);
    const target = wanted && !wanted.disabled ? wanted : reply.querySelector(".pager button:enabled");
    if (!target) return false;
    target.focus();
    return true;
  }

  // ---------- editing the last question ----------

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
      if (this.handlers.edit(content)) {
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
