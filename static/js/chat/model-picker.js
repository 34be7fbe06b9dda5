// Model picker: fills the <select> from the server's list of installed Ollama
// models that can chat, marks what each can do, narrows the list to a filter's
// matches, and remembers the last model used. The <select> holds the choice.

import { errorText, request } from "../lib/http.js";
import { lazy } from "../lib/lazy.js";

const KEY = "lastModel";

const filterModule = lazy(() => import("./model-filter.js"));

// The keys the filter box takes from the composer: Enter, ↓, and Escape with text to clear.
function filterKey(event, box) {
  return event.key === "Enter" || event.key === "ArrowDown" || (event.key === "Escape" && box.value);
}

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

// What the picker names, in this order, then the size: "qwen3:8b · thinking, tools · 8.2B".
const MARKS = ["vision", "thinking", "tools", "embedding"];

function label(model) {
  const caps = Array.isArray(model.capabilities) ? model.capabilities : [];
  const marks = MARKS.filter((mark) => caps.includes(mark));
  return [model.name, marks.join(", "), model.parameter_size].filter(Boolean).join(" · ");
}

// Every word of the query appears in the option's text or the model's family.
function matches(entry, query) {
  const text = `${entry.label} ${entry.family}`.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .every((word) => text.includes(word));
}

// Embedding models answer /api/chat with 400 "does not support chat".
function embeddingOnly(model) {
  const caps = model.capabilities;
  return Array.isArray(caps) && caps.includes("embedding") && !caps.includes("completion");
}

export class ModelPicker {
  constructor(select, url, conversationModel, { filter, filterStatus } = {}) {
    this.select = select;
    this.url = url;
    this.conversationModel = conversationModel || null;
    this.touched = false;
    this.capabilities = new Map(); // model name -> capabilities, once loaded
    this.entries = []; // every model choosable, whatever the filter: {name, label, title, family}
    this.query = "";
    this.filter = null; // model-filter.js, loaded when the filter box is first used
    if (filter) this.wireFilter(filter, filterStatus);
    select.addEventListener("change", () => {
      this.touched = true;
    });
    const initial = this.conversationModel || lastModel();
    if (initial) this.fill([{ name: initial }], initial);
  }

  // Until its module is there the box loads it, then applies what was typed meanwhile;
  // its keys are kept from the composer at once and acted on when it has loaded.
  wireFilter(box, status) {
    const ready = () =>
      filterModule(({ ModelFilter }) => {
        if (!this.filter) {
          this.filter = new ModelFilter(box, status, this);
          if (box.value) this.filter.apply();
        }
        return this.filter;
      });
    box.addEventListener("focus", () => ready(), { once: true });
    box.addEventListener("input", () => {
      if (!this.filter) ready();
    });
    box.addEventListener("keydown", (event) => {
      if (this.filter || !filterKey(event, box)) return;
      event.preventDefault();
      event.stopPropagation();
      ready().then((filter) => filter && filter.onKey(event));
    });
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
    return this.entries.map(({ name, label }) => ({ name, label }));
  }

  names() {
    return this.entries.map((entry) => entry.name);
  }

  choose(name) {
    if (this.filter && !this.shown(name)) this.filter.clear();
    this.select.value = name;
    this.select.dispatchEvent(new Event("change"));
  }

  shown(name) {
    return [...this.select.options].some((option) => option.value === name);
  }

  fill(models, choice) {
    this.entries = models.map((m) => ({ name: m.name, label: label(m), title: describe(m), family: m.family || "" }));
    this.show(choice);
  }

  // Shows only the models matching `query`; returns how many match. When the choice
  // is not among them the first match becomes the choice; with none, the choice stays.
  narrow(query) {
    this.query = query.trim();
    const before = this.select.value;
    const found = this.show(before);
    if (this.select.value !== before) this.select.dispatchEvent(new Event("change"));
    return found;
  }

  show(choice) {
    const found = this.entries.filter((entry) => matches(entry, this.query));
    const kept = found.length ? found : this.entries.filter((entry) => entry.name === choice);
    const options = kept.map((entry) => {
      const option = new Option(entry.label, entry.name);
      if (entry.title) option.title = entry.title;
      return option;
    });
    this.select.replaceChildren(...options);
    if (choice && kept.some((entry) => entry.name === choice)) this.select.value = choice;
    return found.length;
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
