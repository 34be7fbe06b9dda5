// The Models page's two tables: installed models (with their details, Load, and Copy and
// Delete for staff) and models loaded in memory (with Unload).

import { hideBanner, showBanner } from "../lib/banners.js";
import { announce, el } from "../lib/dom.js";
import { labelCells } from "./cell-labels.js";
import { button, humanSize, relativeTime, shortDate } from "./view.js";

const $ = (id) => document.getElementById(id);

function renderDetails(info) {
  const wrap = el("div");
  const facts = el("dl", "model-facts");
  const fact = (term, value) => {
    if (value === "" || value == null) return;
    const dd = el("dd");
    if (value instanceof Node) dd.append(value);
    else dd.textContent = value;
    facts.append(el("dt", null, term), dd);
  };
  fact("Context length", info.context_length ? `${info.context_length.toLocaleString("en")} tokens` : "");
  fact("Capabilities", (info.capabilities || []).join(", "));
  fact("Format", info.details && info.details.format);
  if (info.parameters) fact("Parameters", el("pre", null, info.parameters));
  if (info.system) fact("System prompt", el("pre", null, info.system));
  if (info.template) fact("Template", el("pre", null, info.template));
  wrap.append(facts);
  if (info.license) {
    const license = el("details", "license");
    license.append(el("summary", null, "License"), el("pre", null, info.license));
    wrap.append(license);
  }
  return wrap;
}

async function busy(node, label, work) {
  const original = [...node.childNodes].map((child) => child.cloneNode(true));
  node.disabled = true;
  node.firstChild.textContent = label;
  try {
    await work();
  } finally {
    if (node.isConnected) {
      node.replaceChildren(...original);
      node.disabled = false;
    }
  }
}

export class ModelTables {
  // call(url, body) from models-http.js; onCopy(name) and onDelete(name) open the staff's dialogs.
  constructor({ urls, staff, call, onCopy, onDelete }) {
    this.urls = urls;
    this.staff = staff;
    this.call = call;
    this.onCopy = onCopy;
    this.onDelete = onDelete;
    this.installed = [];
    this.running = [];
    this.details = new Map(); // name -> details, fetched on first open
    this.open = new Set(); // names whose details row is open
  }

  // The model changed (pulled again, deleted): fetch its details again when next opened.
  forget(name) {
    this.details.delete(name);
  }

  // ---------- installed models ----------

  async loadInstalled() {
    try {
      const payload = await this.call(this.urls.installed);
      this.installed = Array.isArray(payload.models) ? payload.models : [];
      hideBanner("installed");
    } catch (err) {
      showBanner("installed", `Could not list the installed models: ${err.message}`, () => this.loadInstalled());
      return;
    }
    this.renderInstalled();
  }

  renderInstalled() {
    const rows = [];
    const reopen = [];
    this.installed.forEach((model, index) => {
      const detailsRow = el("tr", "details-row");
      detailsRow.id = `details-${index}`;
      detailsRow.hidden = true;
      const detailsCell = el("td");
      detailsCell.colSpan = 8;
      detailsRow.append(detailsCell);
      const row = el("tr");
      row.dataset.model = model.name;
      row.append(
        el("td", "name", model.name),
        el("td", "number", humanSize(model.size)),
        el("td", null, model.family),
        el("td", null, model.parameter_size),
        el("td", null, model.quantization),
      );
      const modified = el("td", "number");
      if (model.modified_at) {
        const time = el("time", null, shortDate(model.modified_at));
        time.dateTime = model.modified_at;
        modified.append(time);
      }
      row.append(modified);
      const caps = el("ul", "badges");
      caps.setAttribute("aria-label", `What ${model.name} can do`);
      for (const cap of model.capabilities || []) caps.append(el("li", `badge cap-${cap}`, cap));
      const capsCell = el("td");
      capsCell.append(caps);
      row.append(capsCell);

      const actions = el("div", "row-actions");
      const toggle = button("Details", model.name);
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-controls", detailsRow.id);
      toggle.addEventListener("click", () => this.toggleDetails(model.name, toggle, detailsRow));
      const load = button("Load", model.name);
      load.classList.add("load-button"); // not offered while the model is loaded: see showLoad()
      load.addEventListener("click", () => this.loadModel(model.name, load));
      actions.append(toggle, load);
      if (this.staff) {
        const copy = button("Copy", model.name);
        copy.addEventListener("click", () => this.onCopy(model.name));
        const remove = button("Delete", model.name, "button small danger");
        remove.addEventListener("click", () => this.onDelete(model.name));
        actions.append(copy, remove);
      }
      const cell = el("td", "actions");
      cell.append(actions);
      row.append(cell);

      rows.push(row, detailsRow);
      if (this.open.has(model.name)) reopen.push(() => this.toggleDetails(model.name, toggle, detailsRow));
    });
    $("installed-rows").replaceChildren(...rows);
    labelCells($("installed-table"));
    $("installed-table").hidden = this.installed.length === 0;
    $("installed-empty").hidden = this.installed.length !== 0;
    this.open.clear();
    for (const open of reopen) open();
    this.showLoad();
  }

  showLoad() {
    const loaded = new Set(this.running.map((model) => model.name));
    for (const row of $("installed-rows").querySelectorAll("tr[data-model]")) {
      const load = row.querySelector(".load-button");
      if (load) load.hidden = loaded.has(row.dataset.model);
    }
  }

  async toggleDetails(name, toggle, row) {
    if (!row.hidden) {
      row.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      this.open.delete(name);
      return;
    }
    this.open.add(name);
    toggle.setAttribute("aria-expanded", "true");
    row.hidden = false;
    const cell = row.firstChild;
    let info = this.details.get(name);
    if (!info) {
      cell.replaceChildren(el("p", "empty-note", "Loading details…"));
      try {
        info = await this.call(`${this.urls.details}?model=${encodeURIComponent(name)}`);
      } catch (err) {
        cell.replaceChildren(el("p", "field-error", err.message));
        return;
      }
      this.details.set(name, info);
    }
    cell.replaceChildren(renderDetails(info));
  }

  // ---------- loaded models ----------

  // True when the list was fetched.
  async loadRunning() {
    try {
      const payload = await this.call(this.urls.running);
      this.running = Array.isArray(payload.models) ? payload.models : [];
      hideBanner("running");
    } catch (err) {
      showBanner("running", `Could not list the loaded models: ${err.message}`, () => this.loadRunning());
      return false;
    }
    this.renderRunning();
    return true;
  }

  renderRunning() {
    const rows = this.running.map((model) => {
      const row = el("tr");
      row.dataset.model = model.name;
      const vram = model.size_vram ? humanSize(model.size_vram) : "None (CPU)";
      const unloads = el("td", "number");
      const time = el("time", null, relativeTime(model.expires_at));
      time.dateTime = model.expires_at;
      time.title = new Date(model.expires_at).toLocaleString();
      unloads.append(time);
      row.append(el("td", "name", model.name), el("td", "number", humanSize(model.size)), el("td", "number", vram), unloads);
      const unload = button("Unload", model.name);
      unload.addEventListener("click", () => this.unloadModel(model.name, unload));
      const cell = el("td", "actions");
      const actions = el("div", "row-actions");
      actions.append(unload);
      cell.append(actions);
      row.append(cell);
      return row;
    });
    $("running-rows").replaceChildren(...rows);
    labelCells($("running-table"));
    $("running-table").hidden = rows.length === 0;
    $("running-empty").hidden = rows.length !== 0;
    this.showLoad();
  }

  async loadModel(name, node) {
    const focused = node === document.activeElement;
    await busy(node, "Loading…", async () => {
      try {
        const payload = await this.call(this.urls.load, { model: name });
        this.running = payload.running || [];
        this.renderRunning();
        hideBanner("action");
        announce(`${name} is loaded.`);
        // Its Load button is gone: the keyboard goes on from its Unload button.
        const unload = $("running-rows").querySelector(`tr[data-model="${CSS.escape(name)}"] button`);
        if (unload && focused) unload.focus();
      } catch (err) {
        showBanner("action", `Could not load ${name}: ${err.message}`);
      }
    });
  }

  async unloadModel(name, node) {
    await busy(node, "Unloading…", async () => {
      try {
        const payload = await this.call(this.urls.unload, { model: name });
        this.running = payload.running || [];
        this.renderRunning();
        hideBanner("action");
        announce(`${name} is unloaded.`);
      } catch (err) {
        showBanner("action", `Could not unload ${name}: ${err.message}`);
      }
    });
  }
}
