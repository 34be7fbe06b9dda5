// Structured output, asked for: the composer's JSON Schema panel and the saved schemas. After
// a message goes with it, the panel folds to one line and stays on, keeping the schema.

import { announce } from "../lib/dom.js";
import { errorText, request } from "../lib/http.js";

const EXAMPLES = {
  Person: {
    type: "object",
    properties: {
      name: { type: "string", title: "Name" },
      age: { type: "integer", title: "Age", minimum: 0 },
      email: { type: "string", title: "Email", format: "email" },
    },
    required: ["name", "age"],
  },
  "Task list": {
    type: "object",
    properties: {
      tasks: {
        type: "array",
        title: "Tasks",
        items: {
          type: "object",
          properties: {
            title: { type: "string", title: "Title" },
            priority: { type: "string", title: "Priority", enum: ["low", "medium", "high"] },
            done: { type: "boolean", title: "Done" },
          },
          required: ["title", "priority", "done"],
        },
      },
    },
    required: ["tasks"],
  },
  "Product review": {
    type: "object",
    properties: {
      rating: { type: "integer", title: "Rating", minimum: 1, maximum: 5 },
      pros: { type: "array", title: "Pros", items: { type: "string" } },
      cons: { type: "array", title: "Cons", items: { type: "string" } },
    },
    required: ["rating", "pros", "cons"],
  },
};

// The offset of the first character that makes `text` invalid JSON (JSON.parse
// does not say where in every browser).
function errorOffset(text) {
  let i = 0;
  const fail = () => {
    throw i;
  };
  const space = () => {
    while (" \t\n\r".includes(text[i] || "x")) i++;
  };
  const string = () => {
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined || c < " ") fail();
      i++;
      if (c === '"') return;
      if (c === "\\") {
        if (!/^(["\\/bfnrt]|u[0-9a-fA-F]{4})/.test(text.slice(i, i + 5))) fail();
        i += text[i] === "u" ? 5 : 1;
      }
    }
  };
  const value = () => {
    space();
    const open = text[i];
    if (open === "{" || open === "[") {
      const close = open === "{" ? "}" : "]";
      i++;
      space();
      if (text[i] === close) return void i++;
      for (;;) {
        if (open === "{") {
          space();
          if (text[i] !== '"') fail();
          string();
          space();
          if (text[i] !== ":") fail();
          i++;
        }
        value();
        space();
        if (text[i] === close) return void i++;
        if (text[i] !== ",") fail();
        i++;
      }
    }
    if (open === '"') return string();
    const atom = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!atom) fail();
    i += atom[0].length;
  };
  try {
    value();
    space();
    if (i < text.length) fail();
  } catch (at) {
    return typeof at === "number" ? at : null;
  }
  return null;
}

// A JSON.parse error as "line L, column C: what is wrong", and its offset.
function describeParseError(text, error) {
  const what = String(error.message || "Unexpected input")
    .replace(/^JSON\.parse: /, "")
    .replace(/ at line \d+ column \d+ of the JSON data$/, "")
    .replace(/ at position \d+.*$/s, "")
    .replace(/ in JSON$/, "")
    .replace(/, .*is not valid JSON$/s, "");
  const position = errorOffset(text);
  if (position === null) return { text: `The schema is not valid JSON: ${what}.` };
  const lines = text.slice(0, position).split("\n");
  const where = `line ${lines.length}, column ${lines[lines.length - 1].length + 1}`;
  return { text: `The schema is not valid JSON at ${where}: ${what}.`, position };
}

// The composer opens and closes it with setOpen() (its toggle is wired by the composer).
export class StructuredPanel {
  constructor({ toggle, panel, body, summary, summaryText, unfold, schema, jsonMode, example, saved, name, save, remove, error }, schemasUrl) {
    Object.assign(this, { toggle, panel, body, summary, summaryText, unfold, schema, jsonMode, example, saved, name, save, remove, error });
    unfold.addEventListener("click", () => {
      this.setFolded(false);
      (this.jsonMode.checked ? this.jsonMode : this.schema).focus();
    });
    this.url = schemasUrl;
    this.entries = [];
    this.loaded = false;
    for (const title of Object.keys(EXAMPLES)) example.append(new Option(title, title));
    schema.addEventListener("input", () => this.clearError());
    jsonMode.addEventListener("change", () => {
      schema.disabled = jsonMode.checked;
      this.clearError();
    });
    example.addEventListener("change", () => {
      if (EXAMPLES[example.value]) this.fill(EXAMPLES[example.value]);
      example.value = "";
    });
    saved.addEventListener("change", () => {
      const entry = this.entries.find((e) => String(e.id) === saved.value);
      remove.disabled = !entry;
      if (!entry) return;
      this.fill(entry.schema);
      name.value = entry.name;
    });
    save.addEventListener("click", () => this.saveSchema());
    name.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing) return;
      event.preventDefault(); // not the composer's submit
      this.saveSchema();
    });
    remove.addEventListener("click", () => this.deleteSchema());
  }

  get open() {
    return !this.panel.hidden;
  }

  setOpen(open, focus = true) {
    this.panel.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    this.setFolded(false);
    if (open) {
      if (!this.loaded) this.loadSaved();
      if (focus) (this.jsonMode.checked ? this.jsonMode : this.schema).focus();
    }
  }

  // Folded: one line says what the replies follow, the schema stays and still applies.
  setFolded(folded) {
    this.body.hidden = folded;
    this.summary.hidden = !folded;
    this.unfold.setAttribute("aria-expanded", String(!folded));
    if (folded) {
      this.summaryText.textContent = this.jsonMode.checked
        ? "JSON mode is on: replies are JSON."
        : "Replies follow your JSON Schema.";
    }
  }

  // A message went with structured output: make room for the conversation.
  fold() {
    if (this.open && !this.panel.contains(document.activeElement)) this.setFolded(true);
  }

  fill(schema) {
    this.jsonMode.checked = false;
    this.schema.disabled = false;
    this.schema.value = JSON.stringify(schema, null, 2);
    this.clearError();
  }

  showError(text, position) {
    this.error.textContent = text;
    this.error.hidden = false;
    if (!this.jsonMode.checked) this.schema.setAttribute("aria-invalid", "true");
    if (typeof position === "number") {
      this.schema.focus();
      this.schema.setSelectionRange(position, position + 1);
    }
  }

  clearError() {
    this.error.hidden = true;
    this.error.textContent = "";
    this.schema.removeAttribute("aria-invalid");
  }

  // The schema typed in the panel: {ok, schema} with schema null when empty.
  parse() {
    const text = this.schema.value;
    if (!text.trim()) return { ok: true, schema: null };
    let schema;
    try {
      schema = JSON.parse(text);
    } catch (error) {
      const problem = describeParseError(text, error);
      this.showError(problem.text, problem.position);
      return { ok: false };
    }
    if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
      this.showError("The schema must be a JSON object, like {\"type\": \"object\"}.");
      return { ok: false };
    }
    return { ok: true, schema };
  }

  // What the next chat frame's `format` is: {ok, format} with format undefined for none.
  format() {
    if (!this.open) return { ok: true, format: undefined };
    if (this.jsonMode.checked) return { ok: true, format: "json" };
    const parsed = this.parse();
    if (!parsed.ok) return parsed;
    return { ok: true, format: parsed.schema || undefined };
  }

  async loadSaved(selectId) {
    const { status, body } = await request(this.url);
    if (status !== 200 || !body || !Array.isArray(body.schemas)) {
      this.showError(errorText(body, "Could not load the saved schemas."));
      return;
    }
    this.loaded = true;
    this.entries = body.schemas;
    const options = this.entries.map((e) => new Option(e.name, String(e.id)));
    this.saved.replaceChildren(new Option("Choose…", ""), ...options);
    this.saved.value = selectId != null && this.entries.some((e) => e.id === selectId) ? String(selectId) : "";
    this.remove.disabled = !this.saved.value;
  }

  async saveSchema() {
    const name = this.name.value.trim();
    if (!name) {
      this.showError("Give the schema a name first.");
      this.name.focus();
      return;
    }
    if (this.jsonMode.checked) {
      this.showError("JSON mode has no schema to save; clear it and write a schema.");
      return;
    }
    const parsed = this.parse();
    if (!parsed.ok) return;
    if (!parsed.schema) {
      this.showError("Write a schema to save.");
      this.schema.focus();
      return;
    }
    const { status, body } = await request(this.url, { method: "POST", json: { name, schema: parsed.schema } });
    if ((status !== 200 && status !== 201) || !body) {
      this.showError(errorText(body, status ? `Could not save the schema (HTTP ${status}).` : "Could not reach the server."));
      return;
    }
    this.clearError();
    await this.loadSaved(body.id);
    announce(`Schema “${body.name}” saved.`);
  }

  async deleteSchema() {
    const entry = this.entries.find((e) => String(e.id) === this.saved.value);
    if (!entry) return;
    const { status, body } = await request(`${this.url}${entry.id}/delete/`, { method: "POST" });
    if (status !== 204 && status !== 404) {
      this.showError(errorText(body, status ? `Could not delete the schema (HTTP ${status}).` : "Could not reach the server."));
      return;
    }
    this.clearError();
    if (this.name.value.trim() === entry.name) this.name.value = "";
    await this.loadSaved();
    announce(`Schema “${entry.name}” deleted.`);
    this.saved.focus();
  }
}
