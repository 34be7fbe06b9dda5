// The settings dialog: a conversation's system prompt, model and Ollama options, with the
// server's validation shown next to each field. On a chat not created yet it sets that
// chat's own (sent when it is created: nothing is made before the first message), and
// either can be saved as the user's defaults for new chats.

import { el, toast } from "../lib/dom.js";
import { errorText, fieldErrors, request } from "../lib/http.js";

const NUMBERS = [
  { name: "temperature", label: "Temperature", min: 0, max: 2, step: "0.05" },
  { name: "top_p", label: "Top P", min: 0, max: 1, step: "0.01" },
  { name: "top_k", label: "Top K", min: 1, max: 1000, step: "1" },
  { name: "min_p", label: "Min P", min: 0, max: 1, step: "0.01" },
  { name: "num_ctx", label: "Context length (num_ctx)", min: 256, max: 1048576, step: "1" },
  { name: "num_predict", label: "Max tokens (num_predict)", min: -2, max: 1000000, step: "1", help: "−1: no limit, −2: fill the context" },
  { name: "seed", label: "Seed", min: -1, max: 2147483647, step: "1", help: "−1: random" },
  { name: "repeat_penalty", label: "Repeat penalty", min: 0, max: 2, step: "0.05" },
];
const DEFAULT = "Model default";
const NOT_SET = "Not set: the model picked in the chat";

function range(spec) {
  const show = (n) => (n < 0 ? `−${-n}` : n.toLocaleString("en-US"));
  return `${show(spec.min)} to ${show(spec.max)}${spec.help ? `; ${spec.help}` : ""}`;
}

export class SettingsDialog {
  // models() -> model names for the select; onSaved(settings, isDefaults) after a save that closes.
  // The page opens it with open().
  constructor({ dialog, defaultsUrl, models, onSaved }) {
    this.dialog = dialog;
    this.form = dialog.querySelector("form");
    this.body = dialog.querySelector(".settings-body");
    this.heading = dialog.querySelector("h2");
    this.general = dialog.querySelector(".dialog-error");
    this.note = dialog.querySelector(".dialog-note");
    this.saveButton = dialog.querySelector('[data-action="save"]');
    this.defaultsButton = dialog.querySelector('[data-action="defaults"]');
    this.defaultsUrl = defaultsUrl;
    this.models = models;
    this.onSaved = onSaved;
    this.url = null; // the conversation's settings, or null on the new-chat page
    this.newChat = null; // the settings of the chat not created yet, once set
    this.fields = new Map(); // name -> {input, error}
    this.serial = 0;

    dialog.querySelector('[data-action="cancel"]').addEventListener("click", () => dialog.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.url) this.save(this.url, true);
      else this.keepForNewChat();
    });
    this.defaultsButton.addEventListener("click", () => this.save(this.defaultsUrl, !this.url));
    // Fields exist only while the dialog is open: the composer's picker stays the page's one "Model" control.
    dialog.addEventListener("close", () => {
      this.serial += 1;
      this.body.replaceChildren();
      this.fields.clear();
    });
  }

  setConversation(url) {
    this.url = url;
    if (url) this.newChat = null; // created with them
  }

  // What a chat not created yet is to be created with, if its settings were set.
  newChatSettings() {
    if (!this.newChat) return null;
    const { system_prompt, options, keep_alive } = this.newChat;
    return { system_prompt, options, keep_alive };
  }

  async open() {
    const serial = ++this.serial;
    const defaults = !this.url;
    this.heading.textContent = defaults ? "Settings for this new chat" : "Conversation settings";
    this.setBusy(true);
    this.showGeneral("");
    this.note.textContent = "";
    this.body.replaceChildren(el("p", "settings-loading", "Loading…"));
    this.dialog.showModal();
    if (defaults && this.newChat) {
      this.build(this.newChat, true);
      this.setBusy(false);
      this.fields.get("system_prompt").input.focus();
      return;
    }
    const { status, body } = await request(this.url || this.defaultsUrl);
    if (serial !== this.serial || !this.dialog.open) return;
    if (status !== 200 || !body) {
      this.body.replaceChildren();
      this.showGeneral(errorText(body, "Could not load the settings."));
      return;
    }
    this.build(body, defaults);
    this.setBusy(false);
    this.fields.get("system_prompt").input.focus();
  }

  setBusy(busy) {
    this.saveButton.disabled = busy;
    this.defaultsButton.disabled = busy;
  }

  showGeneral(text) {
    this.general.textContent = text;
    this.general.hidden = !text;
  }

  // ---------- the form ----------

  field(name, label, input, hint) {
    const id = `setting-${name}`;
    input.id = id;
    input.name = name;
    const box = el("div", `setting setting-${name}`);
    const caption = el("label", null, label);
    caption.htmlFor = id;
    box.append(caption, input);
    const described = [];
    if (hint) {
      const help = el("p", "setting-hint", hint);
      help.id = `${id}-hint`;
      described.push(help.id);
      box.append(help);
    }
    const error = el("p", "setting-error");
    error.id = `${id}-error`;
    error.hidden = true;
    box.append(error);
    if (described.length) input.setAttribute("aria-describedby", described.join(" "));
    this.fields.set(name, { input, error, hint: described.join(" ") });
    return box;
  }

  build(settings, defaults) {
    this.fields.clear();
    const options = settings.options || {};

    const prompt = el("textarea", "setting-prompt");
    prompt.rows = 4;
    prompt.value = settings.system_prompt || "";
    prompt.placeholder = "None";

    const model = el("select");
    const names = [...new Set([...this.models(), settings.model].filter(Boolean))];
    // The defaults' model can always be cleared; a conversation keeps its model once it has one.
    if (defaults || !settings.model) model.append(new Option(NOT_SET, ""));
    for (const name of names) model.append(new Option(name, name));
    model.value = settings.model || "";

    const grid = el("div", "settings-grid");
    for (const spec of NUMBERS) {
      const input = el("input");
      input.type = "number";
      input.inputMode = spec.step === "1" ? "numeric" : "decimal";
      input.min = String(spec.min);
      input.max = String(spec.max);
      input.step = spec.step;
      input.placeholder = DEFAULT;
      if (options[spec.name] != null) input.value = String(options[spec.name]);
      grid.append(this.field(spec.name, spec.label, input, range(spec)));
    }

    const stop = el("textarea", "setting-stop");
    stop.rows = 3;
    stop.placeholder = DEFAULT;
    stop.value = Array.isArray(options.stop) ? options.stop.join("\n") : "";

    const keep = el("input");
    keep.type = "text";
    keep.placeholder = DEFAULT;
    keep.autocomplete = "off";
    keep.spellcheck = false;
    keep.value = settings.keep_alive || "";

    const fieldset = el("fieldset", "settings-options");
    fieldset.append(el("legend", null, "Ollama options"), grid);
    fieldset.append(
      this.field("stop", "Stop sequences", stop, "One per line, up to 8."),
      this.field("keep_alive", "Keep alive", keep, "How long the model stays loaded: 300 (seconds), 5m, 1h, 0."),
    );
    this.body.replaceChildren(
      this.field("system_prompt", "System prompt", prompt),
      this.field("model", "Model", model),
      fieldset,
    );
  }

  values() {
    const get = (name) => this.fields.get(name).input.value;
    const options = {};
    const problems = {};
    for (const spec of NUMBERS) {
      const input = this.fields.get(spec.name).input;
      if (input.validity.badInput) problems[spec.name] = "Must be a number.";
      else if (input.value.trim() !== "") options[spec.name] = Number(input.value);
    }
    const stop = get("stop").split("\n").filter((line) => line !== "");
    if (stop.length) options.stop = stop;
    return {
      settings: { model: get("model"), system_prompt: get("system_prompt"), options, keep_alive: get("keep_alive").trim() },
      problems,
    };
  }

  showErrors(errors) {
    let first = null;
    for (const [name, { input, error, hint }] of this.fields) {
      const text = errors[name] || "";
      error.textContent = text;
      error.hidden = !text;
      if (text) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", [hint, error.id].filter(Boolean).join(" "));
        first = first || input;
      } else {
        input.removeAttribute("aria-invalid");
        if (hint) input.setAttribute("aria-describedby", hint);
        else input.removeAttribute("aria-describedby");
      }
    }
    const other = Object.entries(errors)
      .filter(([name]) => !this.fields.has(name))
      .map(([, text]) => text);
    this.showGeneral(other.join(" "));
    if (first) first.focus();
    else if (other.length) this.general.focus();
  }

  // The new chat's own settings: checked here as far as the page can, and by the server
  // when the chat is created with its first message.
  keepForNewChat() {
    if (!this.fields.size) return;
    const { settings, problems } = this.values();
    if (Object.keys(problems).length) {
      this.showErrors(problems);
      return;
    }
    this.newChat = settings;
    this.dialog.close();
    toast("Settings saved for this chat.");
    this.onSaved(settings, false);
  }

  async save(url, closes) {
    if (!this.fields.size) return;
    this.note.textContent = "";
    const { settings, problems } = this.values();
    if (Object.keys(problems).length) {
      this.showErrors(problems);
      return;
    }
    const serial = this.serial;
    this.setBusy(true);
    const { status, body } = await request(url, { method: "POST", json: settings });
    if (serial !== this.serial) return;
    this.setBusy(false);
    if (status === 400 && fieldErrors(body)) {
      this.showErrors(fieldErrors(body));
      return;
    }
    if (status !== 200 || !body) {
      this.showErrors({ __all__: errorText(body, status ? `Could not save the settings (HTTP ${status}).` : "Could not reach the server.") });
      return;
    }
    this.showErrors({});
    const isDefaults = url === this.defaultsUrl;
    if (isDefaults && !this.url) this.newChat = null; // the new chat follows the defaults again
    if (closes) {
      this.dialog.close();
      toast("Settings saved.");
      this.onSaved(body, isDefaults);
    } else {
      this.note.textContent = "Saved as your defaults for new chats.";
    }
  }
}
