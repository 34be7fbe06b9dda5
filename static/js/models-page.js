// Models page: what Ollama has installed and loaded, details, load and unload,
// copy and delete for staff, and pulls followed live over the models socket.

import { connect } from "./socket.js";
import { announce, el, errorText, hideBanner, showBanner } from "./ui.js";

const data = JSON.parse(document.getElementById("page-data").textContent);
const urls = data.urls;
const staff = Boolean(data.is_staff);
const $ = (id) => document.getElementById(id);

const REFRESH_MS = 15000;
const NEVER_MS = 365 * 24 * 3600 * 1000; // a negative keep_alive expires in centuries

const state = {
  installed: [],
  running: [],
  details: new Map(), // name -> details, fetched on first open
  open: new Set(), // names whose details row is open
  pulls: new Map(), // model -> {data, node}
  socket: null,
};

// ---------- formatting ----------

// Decimal units with one decimal, as the ollama command prints them: "2.0 GB".
export function humanSize(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1000) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB", "PB"];
  let value = bytes / 1000;
  let index = 0;
  while (value >= 999.95 && index < units.length - 1) {
    value /= 1000;
    index += 1;
  }
  return `${value.toFixed(1)} ${units[index]}`;
}

const relativeFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

// "in 4 minutes"; "now" once past; "never" for models kept loaded forever.
export function relativeTime(iso, now = Date.now()) {
  const when = Date.parse(iso);
  if (!Number.isFinite(when)) return "";
  const ms = when - now;
  if (ms > NEVER_MS) return "never";
  if (ms <= 0) return "now";
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return relativeFormat.format(seconds, "second");
  if (seconds < 3600) return relativeFormat.format(Math.round(seconds / 60), "minute");
  if (seconds < 86400) return relativeFormat.format(Math.round(seconds / 3600), "hour");
  return relativeFormat.format(Math.round(seconds / 86400), "day");
}

function shortDate(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  return when.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

// ---------- HTTP ----------

function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

function goToLogin() {
  location.assign(`${urls.login}?next=${encodeURIComponent(location.pathname)}`);
}

class RequestFailed extends Error {}

// JSON in, JSON out; throws RequestFailed with a message written for people.
async function call(url, body) {
  const init = { headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRFToken"] = csrfToken();
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch {
    throw new RequestFailed("Cannot reach the server. Check your connection and try again.");
  }
  if (res.status === 401 || (res.redirected && new URL(res.url).pathname.startsWith(urls.login))) {
    goToLogin();
    throw new RequestFailed("Sign in again.");
  }
  let payload = null;
  try {
    payload = await res.json();
  } catch {
    /* not JSON */
  }
  if (!res.ok || !payload) throw new RequestFailed(errorText(payload, `The server answered HTTP ${res.status}.`));
  return payload;
}

function button(text, hidden, className = "button small") {
  const node = el("button", className, text);
  node.type = "button";
  if (hidden) node.append(el("span", "visually-hidden", ` ${hidden}`));
  return node;
}

// ---------- Ollama's status ----------

async function loadStatus() {
  const status = $("ollama-status");
  try {
    const info = await call(urls.status);
    status.classList.toggle("down", !info.reachable);
    status.textContent = info.reachable
      ? `Ollama ${info.version || "(unknown version)"} at ${info.host} is running.`
      : `Cannot reach Ollama at ${info.host}. Is it running? Start it with “ollama serve”.`;
  } catch (err) {
    status.classList.add("down");
    status.textContent = err.message;
  }
}

// ---------- installed models ----------

async function loadInstalled() {
  try {
    const payload = await call(urls.installed);
    state.installed = Array.isArray(payload.models) ? payload.models : [];
    hideBanner("installed");
  } catch (err) {
    showBanner("installed", `Could not list the installed models: ${err.message}`, () => loadInstalled());
    return;
  }
  renderInstalled();
}

function renderInstalled() {
  const rows = [];
  const reopen = [];
  state.installed.forEach((model, index) => {
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
    toggle.addEventListener("click", () => toggleDetails(model.name, toggle, detailsRow));
    const load = button("Load", model.name);
    load.addEventListener("click", () => loadModel(model.name, load));
    actions.append(toggle, load);
    if (staff) {
      const copy = button("Copy", model.name);
      copy.addEventListener("click", () => openCopy(model.name));
      const remove = button("Delete", model.name, "button small danger");
      remove.addEventListener("click", () => openDelete(model.name));
      actions.append(copy, remove);
    }
    const cell = el("td", "actions");
    cell.append(actions);
    row.append(cell);

    rows.push(row, detailsRow);
    if (state.open.has(model.name)) reopen.push(() => toggleDetails(model.name, toggle, detailsRow));
  });
  $("installed-rows").replaceChildren(...rows);
  $("installed-table").hidden = state.installed.length === 0;
  $("installed-empty").hidden = state.installed.length !== 0;
  state.open.clear();
  for (const open of reopen) open();
}

async function toggleDetails(name, toggle, row) {
  if (!row.hidden) {
    row.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    state.open.delete(name);
    return;
  }
  state.open.add(name);
  toggle.setAttribute("aria-expanded", "true");
  row.hidden = false;
  const cell = row.firstChild;
  let info = state.details.get(name);
  if (!info) {
    cell.replaceChildren(el("p", "empty-note", "Loading details…"));
    try {
      info = await call(`${urls.details}?model=${encodeURIComponent(name)}`);
    } catch (err) {
      cell.replaceChildren(el("p", "field-error", err.message));
      return;
    }
    state.details.set(name, info);
  }
  cell.replaceChildren(renderDetails(info));
}

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

// ---------- loaded models ----------

async function loadRunning() {
  try {
    const payload = await call(urls.running);
    state.running = Array.isArray(payload.models) ? payload.models : [];
    hideBanner("running");
  } catch (err) {
    showBanner("running", `Could not list the loaded models: ${err.message}`, () => loadRunning());
    return false;
  }
  renderRunning();
  return true;
}

function renderRunning() {
  const rows = state.running.map((model) => {
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
    unload.addEventListener("click", () => unloadModel(model.name, unload));
    const cell = el("td", "actions");
    const actions = el("div", "row-actions");
    actions.append(unload);
    cell.append(actions);
    row.append(cell);
    return row;
  });
  $("running-rows").replaceChildren(...rows);
  $("running-table").hidden = rows.length === 0;
  $("running-empty").hidden = rows.length !== 0;
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

async function loadModel(name, node) {
  await busy(node, "Loading…", async () => {
    try {
      const payload = await call(urls.load, { model: name });
      state.running = payload.running || [];
      renderRunning();
      hideBanner("action");
      announce(`${name} is loaded.`);
    } catch (err) {
      showBanner("action", `Could not load ${name}: ${err.message}`);
    }
  });
}

async function unloadModel(name, node) {
  await busy(node, "Unloading…", async () => {
    try {
      const payload = await call(urls.unload, { model: name });
      state.running = payload.running || [];
      renderRunning();
      hideBanner("action");
      announce(`${name} is unloaded.`);
    } catch (err) {
      showBanner("action", `Could not unload ${name}: ${err.message}`);
    }
  });
}

// ---------- copy and delete (staff) ----------

let dialogModel = "";

function showError(id, text) {
  const node = $(id);
  node.textContent = text;
  node.hidden = !text;
}

function openCopy(name) {
  dialogModel = name;
  $("copy-source").textContent = name;
  const base = name.replace(/:latest$/, "");
  $("copy-name").value = `${base.replace(/:/g, "-")}-copy`;
  showError("copy-error", "");
  $("copy-dialog").showModal();
  $("copy-name").select();
}

function openDelete(name) {
  dialogModel = name;
  $("delete-name").textContent = name;
  showError("delete-error", "");
  $("delete-dialog").showModal();
  $("delete-cancel").focus();
}

async function submitCopy(event) {
  event.preventDefault();
  const destination = $("copy-name").value.trim();
  if (!destination) {
    showError("copy-error", "Give the copy a name.");
    return;
  }
  const confirm = $("copy-confirm");
  confirm.disabled = true;
  try {
    await call(urls.copy, { source: dialogModel, destination });
  } catch (err) {
    showError("copy-error", err.message);
    return;
  } finally {
    confirm.disabled = false;
  }
  $("copy-dialog").close();
  announce(`${dialogModel} was copied to ${destination}.`);
  await loadInstalled();
}

async function submitDelete(event) {
  event.preventDefault();
  const confirm = $("delete-confirm");
  confirm.disabled = true;
  const name = dialogModel;
  try {
    await call(urls.delete, { model: name });
  } catch (err) {
    showError("delete-error", err.message);
    return;
  } finally {
    confirm.disabled = false;
  }
  $("delete-dialog").close();
  state.details.delete(name);
  announce(`${name} was deleted.`);
  await Promise.all([loadInstalled(), loadRunning()]);
}

if (staff) {
  $("copy-form").addEventListener("submit", submitCopy);
  $("delete-form").addEventListener("submit", submitDelete);
  $("copy-cancel").addEventListener("click", () => $("copy-dialog").close());
  $("delete-cancel").addEventListener("click", () => $("delete-dialog").close());
}

// ---------- pulls ----------

const STATE_TEXT = { success: "Pulled", error: "Failed", cancelled: "Cancelled" };

function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

function bytesText(completed, total, percent) {
  return total ? `${humanSize(completed)} of ${humanSize(total)} · ${percent}%` : "";
}

function progressBar(label) {
  const bar = el("div", "bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-label", label);
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.append(el("span", "bar-fill"));
  return bar;
}

function setBar(bar, percent, text) {
  bar.setAttribute("aria-valuenow", String(percent));
  if (text) bar.setAttribute("aria-valuetext", text);
  else bar.removeAttribute("aria-valuetext");
  // The CSSOM is allowed under the page's style-src 'self'; a style attribute is not.
  bar.firstChild.style.width = `${percent}%`;
}

function pullNode(model) {
  const node = el("li", "pull");
  node.dataset.model = model;
  const top = el("div", "pull-top");
  top.append(el("h3", "pull-name", model), el("span", "pull-status"));
  if (staff) {
    const cancel = button("Cancel", `pull of ${model}`, "button small pull-cancel");
    cancel.addEventListener("click", () => cancelPull(model, cancel));
    top.append(cancel);
  }
  const error = el("p", "pull-error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  node.append(top, progressBar(`Pull of ${model}`), error, el("ul", "layers"));
  return node;
}

function percentOf(completed, total) {
  return total ? Math.min(100, Math.floor((completed * 100) / total)) : 0;
}

function renderPull(pull) {
  const known = state.pulls.get(pull.model);
  // Events carry the whole state; an older one than shown (same pull) is a repeat.
  if (known && known.data.id === pull.id && known.data.seq >= pull.seq) return;
  const node = known ? known.node : pullNode(pull.model);
  state.pulls.set(pull.model, { data: pull, node });
  if (!known) $("pulls").prepend(node);

  node.dataset.state = pull.state;
  const running = pull.state === "running";
  const label = running ? capitalise(pull.status) : STATE_TEXT[pull.state] || pull.state;
  const bytes = bytesText(pull.completed, pull.total, pull.percent);
  node.querySelector(".pull-status").textContent = [label, bytes].filter(Boolean).join(" · ");
  setBar(node.querySelector(":scope > .bar"), pull.percent, bytes || label);
  const cancel = node.querySelector(".pull-cancel");
  if (cancel) cancel.hidden = !running;
  const error = node.querySelector(".pull-error");
  error.textContent = pull.error || "";
  error.hidden = !pull.error;

  const layers = (pull.layers || []).map((layer) => {
    const short = layer.digest.replace(/^sha256:/, "").slice(0, 12);
    const percent = percentOf(layer.completed, layer.total);
    const item = el("li");
    const text = bytesText(layer.completed, layer.total, percent);
    item.append(el("span", "layer-text", [short, text].filter(Boolean).join(" · ")));
    const bar = progressBar(`Layer ${short}`);
    setBar(bar, percent, text);
    item.append(bar);
    return item;
  });
  node.querySelector(".layers").replaceChildren(...layers);
}

function finishPull(pull) {
  const known = state.pulls.get(pull.model);
  const fresh = !known || known.data.id !== pull.id || known.data.state === "running";
  renderPull(pull);
  if (!fresh) return;
  if (pull.state === "success") {
    announce(`${pull.model} is pulled.`);
    state.details.delete(pull.model);
    loadInstalled();
  } else if (pull.state === "error") {
    announce(`The pull of ${pull.model} failed.`);
  } else {
    announce(`The pull of ${pull.model} was cancelled.`);
  }
}

function cancelPull(model, node) {
  node.disabled = true;
  if (!state.socket.send({ type: "cancel", model })) {
    node.disabled = false;
    showBanner("socket", "Not connected to the server; try again in a moment.");
    return;
  }
  setTimeout(() => {
    node.disabled = false;
  }, 1000);
}

let lastPull = "";

function submitPull(event) {
  event.preventDefault();
  const input = $("pull-name");
  const model = input.value.trim();
  if (!model) {
    showError("pull-error", "Type the name of a model, for example llama3.2.");
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  if (!state.socket.send({ type: "pull", model })) {
    showError("pull-error", "Not connected to the server; try again in a moment.");
    return;
  }
  lastPull = model;
  showError("pull-error", "");
  input.removeAttribute("aria-invalid");
  input.value = "";
}

function onFrame(frame) {
  switch (frame.type) {
    case "pulls": {
      const seen = new Set((frame.pulls || []).map((pull) => pull.model));
      for (const [model, known] of state.pulls) {
        if (!seen.has(model)) {
          known.node.remove();
          state.pulls.delete(model);
        }
      }
      for (const pull of frame.pulls || []) {
        const known = state.pulls.get(pull.model);
        if (known && known.data.state === "running" && pull.state !== "running") finishPull(pull);
        else renderPull(pull);
      }
      break;
    }
    case "progress":
      renderPull(frame.pull);
      break;
    case "done":
      finishPull(frame.pull);
      break;
    case "error":
      // Only a pull frame gets these two codes from this page.
      if (staff && (frame.code === "invalid" || frame.code === "forbidden")) {
        showError("pull-error", frame.message);
        if (!$("pull-name").value) $("pull-name").value = lastPull;
      } else {
        showBanner("socket", frame.message);
      }
      break;
    default:
      break;
  }
}

// ---------- start ----------

if (staff) $("pull-form").addEventListener("submit", submitPull);

state.socket = connect(data.ws_path, {
  open() {
    hideBanner("socket");
  },
  frame: onFrame,
  drop() {
    showBanner("socket", "Lost the connection to the server; reconnecting…");
  },
  fatal(code) {
    if (code === 4401) goToLogin();
  },
});

loadStatus();
loadInstalled();
loadRunning();
setInterval(async () => {
  if (!(await loadRunning())) loadStatus();
}, REFRESH_MS);
