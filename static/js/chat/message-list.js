// The conversation on screen: message articles found and replaced by id, the live
// replies among them, and keeping the view at the bottom while the reader is there.

import { LiveReply, renderFinal } from "./messages.js";

export class MessageList {
  // decorate(article, msg) -> the article with its actions (Regenerate, Edit, versions).
  constructor({ list, scroller, decorate }) {
    this.list = list;
    this.scroller = scroller;
    this.decorate = decorate;
    this.replies = new Map(); // message id -> LiveReply
    this.stick = true; // the reader is at the bottom: stay there as the list grows
    scroller.addEventListener(
      "scroll",
      () => {
        this.stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 40;
      },
      { passive: true },
    );
  }

  get empty() {
    return !this.list.firstElementChild;
  }

  get streaming() {
    return !!this.list.querySelector('article[data-status="streaming"]');
  }

  render(msg) {
    return this.decorate(renderFinal(msg, () => this.follow()), msg);
  }

  find(id) {
    return this.list.querySelector(`article[data-id="${CSS.escape(id)}"]`);
  }

  place(id, node) {
    const existing = this.find(id);
    if (existing) existing.replaceWith(node);
    else this.list.append(node);
  }

  newestFinalId() {
    const articles = this.list.querySelectorAll("article[data-id]");
    for (let i = articles.length - 1; i >= 0; i--) {
      if (articles[i].dataset.status !== "streaming") return articles[i].dataset.id;
    }
    return null;
  }

  // A stored message, or a streaming reply whose deltas wait for its snapshot.
  put(msg) {
    if (msg.role === "assistant" && msg.status === "streaming") {
      const reply = new LiveReply(msg, null);
      this.replies.set(msg.id, reply);
      this.place(msg.id, reply.article);
    } else {
      this.replies.delete(msg.id);
      this.place(msg.id, this.render(msg));
    }
  }

  // A reply that started, or a snapshot of one: seq is the last delta it includes.
  startReply(msg, seq) {
    const reply = new LiveReply(msg, seq);
    this.replies.set(msg.id, reply);
    this.place(msg.id, reply.article);
    return reply;
  }

  reply(id) {
    return this.replies.get(id);
  }

  isLive(id) {
    return this.replies.has(id);
  }

  // The reply ended: its final rendering takes the live one's place.
  finish(msg) {
    this.replies.delete(msg.id);
    this.place(msg.id, this.render(msg));
  }

  // Regenerating or editing: the messages the new version takes the place of go.
  // True when one of them held the focus.
  removeReplaced(ids) {
    let hadFocus = false;
    for (const id of ids) {
      const article = this.find(id);
      if (article) {
        hadFocus = hadFocus || article.contains(document.activeElement);
        article.remove();
      }
      this.replies.delete(id);
    }
    return hadFocus;
  }

  clear() {
    this.list.replaceChildren();
    this.replies.clear();
  }

  follow() {
    if (this.stick) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  scrollToBottom() {
    this.stick = true;
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
