// The composer: the message box, Send and Stop, the error line under them, the attached
// images (with a warning when the chosen model cannot see them) and the structured output panel.

import { announce } from "../lib/dom.js";
import { lazy } from "../lib/lazy.js";
import { Attachments } from "./attachments.js";

const $ = (id) => document.getElementById(id);

const schemaPanel = lazy(() => import("./schema-panel.js"));

// The structured output panel (schema-panel.js), loaded when first opened: until then it is
// closed, and a message goes without a format.
class StructuredControl {
  constructor(parts, schemasUrl) {
    this.parts = parts;
    this.schemasUrl = schemasUrl;
    this.panel = parts.panel;
    this.loaded = null;
    // On the first click the panel opens once its module is there: the focus goes into it
    // only if it has not moved on meanwhile (to the message box, say).
    parts.toggle.addEventListener("click", () => {
      const focus = document.activeElement;
      this.use((panel) => panel.setOpen(!panel.open, document.activeElement === focus));
    });
  }

  use(run) {
    return schemaPanel(({ StructuredPanel }) => run((this.loaded ||= new StructuredPanel(this.parts, this.schemasUrl))));
  }

  get open() {
    return !!this.loaded && this.loaded.open;
  }

  format() {
    return this.loaded ? this.loaded.format() : { ok: true, format: undefined };
  }

  fold() {
    if (this.loaded) this.loaded.fold();
  }

  showError(text) {
    if (this.loaded) this.loaded.showError(text);
  }

  clearError() {
    if (this.loaded) this.loaded.clearError();
  }
}

export class Composer {
  // onSend() on Send or Enter, onStop() on Stop.
  constructor({ data, picker, onSend, onStop }) {
    this.picker = picker;
    this.input = $("message");
    this.sendButton = $("send");
    this.stopButton = $("stop");
    this.error = $("composer-error");
    this.visionWarning = $("vision-warning");
    this.visionText = $("vision-warning-text");
    this.visionSwitch = $("vision-switch");

    this.attachments = new Attachments($("composer-attachments"), {
      uploadUrl: data.upload_url,
      maxImages: data.max_images,
      maxBytes: data.max_image_bytes,
      onChange: () => this.checkVision(),
      onErrors: (errors) => {
        if (errors.length) this.showError(errors.join("\n"), "attachments");
        else if (this.error.dataset.source === "attachments") this.clearError();
      },
    });
    this.attachments.wire({
      button: $("attach"),
      input: $("image-input"),
      zone: $("composer-box"),
      dropArea: $("composer").closest("main"),
      pasteTarget: this.input,
    });
    this.note = $("composer-note");
    this.streaming = false;

    this.structured = new StructuredControl(
      {
        toggle: $("structured-toggle"),
        panel: $("structured-panel"),
        body: $("structured-body"),
        summary: $("structured-summary"),
        summaryText: $("structured-summary-text"),
        unfold: $("structured-unfold"),
        schema: $("schema-text"),
        jsonMode: $("json-mode"),
        example: $("schema-example"),
        saved: $("saved-schemas"),
        name: $("schema-name"),
        save: $("schema-save"),
        remove: $("schema-delete"),
        error: $("schema-error"),
      },
      data.schemas_url,
    );

    this.visionSwitch.addEventListener("click", () => {
      picker.choose(this.visionSwitch.dataset.model);
      announce(`Switched to ${this.visionSwitch.dataset.model}.`);
    });
    $("model").addEventListener("change", () => this.checkVision());

    this.autoSize = CSS.supports("field-sizing", "content")
      ? () => {}
      : () => {
          this.input.style.height = "auto";
          this.input.style.height = `${this.input.scrollHeight + 2}px`;
        };

    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      onSend();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
      event.preventDefault();
      onSend();
    });
    this.input.addEventListener("input", this.autoSize);
    this.stopButton.addEventListener("click", () => onStop());
  }

  // The images of a message on its way can no longer be taken back (locked). While a
  // reply streams Send stays focusable and says why it does nothing (showBusy).
  update({ sendDisabled, stopDisabled, locked, streaming }) {
    this.sendButton.disabled = sendDisabled;
    this.sendButton.setAttribute("aria-disabled", String(!!streaming));
    this.attachments.locked = locked;
    this.stopButton.disabled = stopDisabled;
    this.streaming = !!streaming;
    if (!streaming) this.note.hidden = true;
  }

  showBusy() {
    this.note.textContent = "A reply is still being written: wait for it, or stop it first.";
    this.note.hidden = false; // role="status": read out as it appears
  }

  focus() {
    this.input.focus();
  }

  // The message to send: {content, images, format}, or null when there is nothing to send
  // or it cannot go yet (the reason is shown).
  draft() {
    const content = this.input.value;
    if (!content.trim() || this.sendButton.disabled) return null;
    if (this.checkVision()) {
      announce(`${this.visionText.textContent} The message was not sent.`);
      return null;
    }
    if (this.attachments.uploading) {
      this.showError("Wait until the images have finished uploading.");
      return null;
    }
    const format = this.structured.format();
    if (!format.ok) return null;
    return { content, images: this.attachments.ids, format: format.format };
  }

  showError(text, source = "") {
    this.error.textContent = text;
    this.error.dataset.source = source;
    this.error.hidden = false;
    announce(text);
  }

  clearError() {
    this.error.hidden = true;
    this.error.textContent = "";
    this.error.dataset.source = "";
  }

  // Images attached for a model that cannot see them: say so and offer a model that can.
  checkVision() {
    const picker = this.picker;
    const model = picker.value;
    const blocked = this.attachments.count > 0 && picker.canSee(model) === false;
    if (blocked) {
      const [other] = picker.visionModels();
      this.visionText.textContent = other
        ? `${model} cannot see images.`
        : "No installed model can see images. Pull one, for example `ollama pull llava`.";
      this.visionSwitch.hidden = !other;
      if (other) {
        this.visionSwitch.textContent = `Switch to ${other}`;
        this.visionSwitch.dataset.model = other;
      }
    }
    if (this.visionWarning.hidden === blocked) {
      const hadFocus = this.visionWarning.contains(document.activeElement);
      this.visionWarning.hidden = !blocked;
      if (hadFocus && !blocked) this.input.focus();
    }
    return blocked;
  }

  // The message arrived: clear what it carried from the composer.
  clearSent(sent) {
    if (this.input.value === sent.content) {
      this.input.value = "";
      this.autoSize();
    }
    if (sent.images.length) this.attachments.forget(sent.images);
    if (sent.format !== undefined) this.structured.fold();
  }
}
