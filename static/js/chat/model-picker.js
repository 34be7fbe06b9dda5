// Model picker: fills the <select> from the server's list of installed Ollama
// models that can chat, marks what each can do, and remembers the last model used.

import { errorText, request } from "../lib/http.js";

const KEY = "lastModel";

export function lastModel() {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function rememberModel(name) {
  try {
    localStorage.setItem(KEY, name);
  } catch {
    /* storage may be unavailable */
  }
}

function describe(model) {
  return [model.parameter_size, model.quantization, model.family].filter(Boolean).join(" · ");
}

// What the picker names, in this order: "qwen3:8b · thinking, tools".
const MARKS = ["vision", "thinking", "tools"];

function label(model) {
  const caps = Array.isArray(model.capabilities) ? model.capabilities : [];
  const marks = MARKS.filter((mark) => caps.includes(mark));
  return marks.length ? `${model.name} · ${marks.join(", ")}` : model.name;
}

// Embedding models answer /api/chat with 400 "does not support chat".
function embeddingOnly(model) {
  const caps = model.capabilities;
  return Array.isArray(caps) && caps.includes("embedding") && !caps.includes("completion");
}

export class ModelPicker {
  constructor(select, url, conversationModel) {
    this.select = select;
    this.url = url;
    this.conversationModel = conversationModel || null;
    this.touched = false;
    this.capabilities = new Map(); // model name -> capabilities, once loaded
    select.addEventListener("change", () => {
      this.touched = true;
    });
    const initial = this.conversationModel || lastModel();
    if (initial) this.fill([{ name: initial }], initial);
  }

  get value() {
    return this.select.value;
  }

  // true or false once the models are loaded; null when unknown.
  canSee(name) {
    const caps = this.capabilities.get(name);
    return Array.isArray(caps) ? caps.includes("vision") : null;
  }

  visionModels() {
    return [...this.capabilities.keys()].filter((name) => this.canSee(name));
  }

  // The models to answer with, named as the picker names them: [{name, label}].
  choices() {
    return [...this.select.options].map((option) => ({ name: option.value, label: option.textContent }));
  }

  choose(name) {
    this.select.value = name;
    this.select.dispatchEvent(new Event("change"));
  }

  fill(models, choice) {
    const options = models.map((m) => {
      const option = new Option(label(m), m.name);
      const info = describe(m);
      if (info) option.title = info;
      return option;
    });
    this.select.replaceChildren(...options);
    if (choice) this.select.value = choice;
  }

  // Resolves to {ok: true}, {empty: true}, {login: true} or {error, code}.
  async load() {
    const { status, ok, body: data, lost } = await request(this.url);
    if (!status) return { error: "Cannot reach the server. Check your connection and try again." };
    if (lost) return { login: true };
    if (!ok || !data || !Array.isArray(data.models)) {
      const code = data && data.error && data.error.code;
      return { error: errorText(data, `Could not load the models (HTTP ${status}).`), code };
    }
    const installed = data.models.filter((m) => m && typeof m.name === "string");
    this.capabilities = new Map(installed.map((m) => [m.name, m.capabilities]));
    const chat = installed.filter((m) => !embeddingOnly(m));
    const models = [...chat];
    const names = new Set(models.map((m) => m.name));
    const current = this.touched ? this.select.value : "";
    // A conversation's model that Ollama no longer lists stays choosable; one that cannot chat does not.
    if (this.conversationModel && !this.capabilities.has(this.conversationModel)) {
      models.push({ name: this.conversationModel });
      names.add(this.conversationModel);
    }
    models.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const stored = lastModel();
    const choice = [current, this.conversationModel, stored].find((n) => n && names.has(n));
    this.fill(models, choice || (models[0] && models[0].name));
    return chat.length ? { ok: true } : { empty: true };
  }
}
