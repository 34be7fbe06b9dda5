// The context meter: how much of the model's context the last prompt and its reply use
// (the next prompt carries both), and a warning once Ollama has to drop the oldest messages.

import { formatCount } from "../lib/dom.js";
import { request } from "../lib/http.js";

const SOURCES = {
  num_ctx: "the context length set in Settings",
  loaded: "the context the loaded model runs with",
  model: "the model's largest context",
};

export class ContextMeter {
  constructor({ box, meter, text, warning }) {
    this.box = box;
    this.meter = meter;
    this.text = text;
    this.warning = warning;
    this.url = null;
    this.serial = 0;
  }

  // url: the conversation's context endpoint, or null when there is none.
  setUrl(url) {
    this.url = url;
    if (!url) this.hide();
  }

  hide() {
    this.serial += 1;
    this.box.hidden = true;
    this.warning.textContent = "";
  }

  async update() {
    if (!this.url) return;
    const serial = ++this.serial;
    const { status, body } = await request(this.url);
    if (serial !== this.serial) return;
    const used = body && body.used_tokens;
    const length = body && body.context_length;
    if (status !== 200 || !(used > 0) || !(length > 0)) {
      this.box.hidden = true;
      this.warning.textContent = "";
      return;
    }
    this.meter.max = length;
    this.meter.low = Math.round(length * 0.75);
    this.meter.high = Math.round(length * 0.9);
    this.meter.optimum = 0;
    this.meter.value = Math.min(used, length);
    this.text.textContent = `${formatCount(used)} / ${formatCount(length)} tokens`;
    this.box.title = `The last prompt and its reply use ${formatCount(used)} tokens of ${SOURCES[body.source] || "the context"}.`;
    this.box.classList.toggle("full", !!body.full);
    this.box.hidden = false;
    const warning = body.full
      ? `This conversation no longer fits the model's context (${formatCount(length)} tokens); Ollama is dropping the oldest messages. Raise the context length in Settings or start a new chat.`
      : "";
    if (this.warning.textContent !== warning) this.warning.textContent = warning;
  }
}
