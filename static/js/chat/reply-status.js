// The line under a streaming reply: what the model is doing in a pause (thinking, or still
// working after a stall) and, while text flows, a live rate from the frames' text and the
// page's clock. The final statistics line takes its place when the reply ends.

import { el } from "../lib/dom.js";

const STALL_MS = 3000; // no new text for this long: say the model is still working
const TICK_MS = 1000; // the rate's refresh

// A rough token count: words and punctuation marks, about what a tokenizer makes of text.
function countTokens(text) {
  const found = text.match(/[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s]/gu);
  return found ? found.length : 0;
}

export class ReplyStatus {
  // now(): the page clock in ms (performance.now by default).
  constructor(article, now = () => performance.now()) {
    this.article = article;
    this.now = now;
    this.node = el("p", "stats reply-status");
    this.node.hidden = true;
    this.tokens = 0;
    this.firstAt = null; // when the first answer text came
    this.lastAt = now(); // when anything last came
    this.thinking = false;
    this.timer = setInterval(() => this.show(), TICK_MS);
    this.stall = 0;
  }

  // Something came: the stall is counted from now.
  arrived() {
    this.lastAt = this.now();
    clearTimeout(this.stall);
    this.stall = setTimeout(() => this.show(), STALL_MS);
  }

  text(delta) {
    this.arrived();
    if (this.firstAt === null) this.firstAt = this.lastAt;
    else this.tokens += countTokens(delta); // the first frame starts the clock
    this.thinking = false;
    this.show();
  }

  thought() {
    this.arrived();
    if (this.firstAt === null) this.thinking = true;
    this.show();
  }

  show() {
    if (!this.article.isConnected) {
      clearInterval(this.timer); // the reply ended: its article was replaced
      clearTimeout(this.stall);
      return;
    }
    const at = this.now();
    let label = "";
    let working = false;
    if (at - this.lastAt >= STALL_MS - 50 && (this.firstAt !== null || this.thinking)) {
      label = "Still working…";
      working = true;
    } else if (this.thinking) {
      label = "Thinking…";
      working = true;
    } else if (this.firstAt !== null) {
      const seconds = (at - this.firstAt) / 1000;
      const rate = this.tokens / seconds;
      label = seconds >= 1 && this.tokens ? `≈ ${rate < 10 ? rate.toFixed(1) : Math.round(rate)} tok/s` : "";
    }
    this.node.hidden = !label;
    this.node.textContent = label;
    this.node.classList.toggle("working", working);
  }
}
