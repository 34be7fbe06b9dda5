// Older messages: fetched 50 at a time when the reader scrolls near the top, and
// put above the others without moving what is on screen.

import { request } from "../lib/http.js";

const NEAR_TOP_PX = 300;

export class EarlierMessages {
  // render(msg) -> article; the list holds articles with data-id, oldest first.
  constructor({ scroller, list, row, render, onError }) {
    this.scroller = scroller;
    this.list = list;
    this.row = row;
    this.render = render;
    this.onError = onError;
    this.url = null;
    this.hasMore = false;
    this.loading = false;
    this.serial = 0;
    scroller.addEventListener("scroll", () => this.check(), { passive: true });
  }

  // url: the conversation's messages endpoint.
  reset(url, hasMore) {
    this.serial += 1;
    this.url = url;
    this.hasMore = !!url && hasMore;
    this.loading = false;
    this.row.hidden = true;
  }

  // After the server replaced the list with its latest page, saying whether there is more above.
  afterReset(hasMore) {
    this.reset(this.url, hasMore);
  }

  check() {
    if (!this.hasMore || this.loading || !this.url) return;
    const short = this.scroller.scrollHeight <= this.scroller.clientHeight + NEAR_TOP_PX;
    if (this.scroller.scrollTop < NEAR_TOP_PX || short) this.load();
  }

  // Keep the distance to the bottom: what the reader looks at stays put.
  keepPosition(change) {
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    change();
    this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
  }

  async load() {
    const oldest = this.list.querySelector("article[data-id]");
    if (!oldest) {
      this.hasMore = false;
      return;
    }
    this.loading = true;
    const serial = this.serial;
    this.keepPosition(() => {
      this.row.hidden = false;
    });
    const { status, body } = await request(`${this.url}?before=${encodeURIComponent(oldest.dataset.id)}`);
    if (serial !== this.serial) return;
    this.loading = false;
    if (status !== 200 || !body || !Array.isArray(body.messages)) {
      this.keepPosition(() => {
        this.row.hidden = true;
      });
      this.hasMore = false;
      this.onError(status ? `Could not load earlier messages (HTTP ${status}).` : "Could not load earlier messages.");
      return;
    }
    this.hasMore = !!body.has_more;
    this.keepPosition(() => {
      this.row.hidden = true;
      const nodes = body.messages
        .filter((msg) => !this.list.querySelector(`article[data-id="${CSS.escape(msg.id)}"]`))
        .map((msg) => this.render(msg));
      this.list.prepend(...nodes);
    });
    requestAnimationFrame(() => this.check());
  }
}
