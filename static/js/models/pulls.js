// Pulls on the Models page: each pull's progress, and its layers', as the models socket
// reports it; the staff's pull form and Cancel.

import { showBanner } from "../lib/banners.js";
import { announce, el } from "../lib/dom.js";
import { button, humanSize, showError } from "./view.js";

const $ = (id) => document.getElementById(id);

const STATE_TEXT = { success: "Pulled", error: "Failed", cancelled: "Cancelled" };

// The ids of the pulls dismissed in this tab's session.
const DISMISSED_KEY = "dismissedPulls";

function dismissedPulls() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem(DISMISSED_KEY) || "[]"));
  } catch {
    return new Set();
  }
}

function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

function bytesText(completed, total, percent) {
  return total ? `${humanSize(completed)} of ${humanSize(total)} · ${percent}%` : "";
}

function percentOf(completed, total) {
  return total ? Math.min(100, Math.floor((completed * 100) / total)) : 0;
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

export class Pulls {
  // send(frame) -> false when the socket is not connected; onPulled(model) after a pull succeeded.
  constructor({ staff, send, onPulled }) {
    this.staff = staff;
    this.send = send;
    this.onPulled = onPulled;
    this.pulls = new Map(); // model -> {data, node}
    this.lastPull = "";
    this.dismissed = dismissedPulls();
    if (staff) $("pull-form").addEventListener("submit", (event) => this.submit(event));
  }

  // A finished pull leaves this page (and stays away after a reload); the server forgets it later.
  dismiss(model) {
    const known = this.pulls.get(model);
    if (!known) return;
    this.dismissed.add(known.data.id);
    try {
      sessionStorage.setItem(DISMISSED_KEY, JSON.stringify([...this.dismissed].slice(-100)));
    } catch {
      /* storage may be unavailable: dismissed until the next reload */
    }
    known.node.remove();
    this.pulls.delete(model);
    announce(`The pull of ${model} is dismissed.`);
    if ($("pull-name")) $("pull-name").focus();
  }

  retry(model, node) {
    node.disabled = true;
    if (!this.send({ type: "pull", model })) {
      node.disabled = false;
      showBanner("socket", "Not connected to the server; try again in a moment.");
    }
  }

  node(model) {
    const node = el("li", "pull");
    node.dataset.model = model;
    const top = el("div", "pull-top");
    top.append(el("h3", "pull-name", model), el("span", "pull-status"));
    if (this.staff) {
      const cancel = button("Cancel", `pull of ${model}`, "button small pull-cancel");
      cancel.addEventListener("click", () => this.cancel(model, cancel));
      const retry = button("Retry", `pull of ${model}`, "button small pull-retry");
      retry.addEventListener("click", () => this.retry(model, retry));
      top.append(cancel, retry);
    }
    const dismiss = button("Dismiss", `pull of ${model}`, "button small pull-dismiss");
    dismiss.addEventListener("click", () => this.dismiss(model));
    top.append(dismiss);
    const error = el("p", "pull-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    node.append(top, progressBar(`Pull of ${model}`), error, el("ul", "layers"));
    return node;
  }

  render(pull) {
    const known = this.pulls.get(pull.model);
    // Events carry the whole state; an older one than shown (same pull) is a repeat.
    if (known && known.data.id === pull.id && known.data.seq >= pull.seq) return;
    if (this.dismissed.has(pull.id)) return;
    const node = known ? known.node : this.node(pull.model);
    this.pulls.set(pull.model, { data: pull, node });
    if (!known) $("pulls").prepend(node);

    node.dataset.state = pull.state;
    const running = pull.state === "running";
    const label = running ? capitalise(pull.status) : STATE_TEXT[pull.state] || pull.state;
    const bytes = bytesText(pull.completed, pull.total, pull.percent);
    node.querySelector(".pull-status").textContent = [label, bytes].filter(Boolean).join(" · ");
    setBar(node.querySelector(":scope > .bar"), pull.percent, bytes || label);
    const cancel = node.querySelector(".pull-cancel");
    if (cancel) cancel.hidden = !running;
    const retry = node.querySelector(".pull-retry");
    if (retry) {
      retry.hidden = pull.state !== "error";
      retry.disabled = false;
    }
    node.querySelector(".pull-dismiss").hidden = running;
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

  finish(pull) {
    const known = this.pulls.get(pull.model);
    const fresh = !known || known.data.id !== pull.id || known.data.state === "running";
    this.render(pull);
    if (!fresh) return;
    if (pull.state === "success") {
      announce(`${pull.model} is pulled.`);
      this.onPulled(pull.model);
    } else if (pull.state === "error") {
      announce(`The pull of ${pull.model} failed.`);
    } else {
      announce(`The pull of ${pull.model} was cancelled.`);
    }
  }

  cancel(model, node) {
    node.disabled = true;
    if (!this.send({ type: "cancel", model })) {
      node.disabled = false;
      showBanner("socket", "Not connected to the server; try again in a moment.");
      return;
    }
    setTimeout(() => {
      node.disabled = false;
    }, 1000);
  }

  submit(event) {
    event.preventDefault();
    const input = $("pull-name");
    const model = input.value.trim();
    if (!model) {
      showError("pull-error", "Type the name of a model, for example llama3.2.");
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    if (!this.send({ type: "pull", model })) {
      showError("pull-error", "Not connected to the server; try again in a moment.");
      return;
    }
    this.lastPull = model;
    showError("pull-error", "");
    input.removeAttribute("aria-invalid");
    input.value = "";
  }

  // A frame from the models socket.
  frame(frame) {
    switch (frame.type) {
      case "pulls": {
        const seen = new Set((frame.pulls || []).map((pull) => pull.model));
        for (const [model, known] of this.pulls) {
          if (!seen.has(model)) {
            known.node.remove();
            this.pulls.delete(model);
          }
        }
        for (const pull of frame.pulls || []) {
          const known = this.pulls.get(pull.model);
          if (known && known.data.state === "running" && pull.state !== "running") this.finish(pull);
          else this.render(pull);
        }
        break;
      }
      case "progress":
        this.render(frame.pull);
        break;
      case "done":
        this.finish(frame.pull);
        break;
      case "error":
        // Only a pull frame gets these two codes from this page.
        if (this.staff && (frame.code === "invalid" || frame.code === "forbidden")) {
          showError("pull-error", frame.message);
          if (!$("pull-name").value) $("pull-name").value = this.lastPull;
        } else {
          showBanner("socket", frame.message);
        }
        break;
      default:
        break;
    }
  }
}
