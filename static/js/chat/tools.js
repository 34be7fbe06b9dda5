// Tools: the "Used name" blocks of a reply's tool calls (with Allow / Deny for calls that
// ask first), and the composer's Tools control that switches tools on per conversation.
// Tool arguments and results are untrusted text: they are only ever set as textContent.

import { announce, el } from "../lib/dom.js";
import { request } from "../lib/http.js";

// How much of a result shows until the block is expanded to show it whole.
const PREVIEW_CHARS = 300;
const STATUS_TEXT = {
  asked: "waiting for your approval",
  running: "running…",
  ok: "",
  error: "failed",
  denied: "denied",
  cancelled: "cancelled",
};

// Set by the chat page: sends an approve or deny frame for a call.
let answerCall = () => {};

export function onAnswer(send) {
  answerCall = send;
}

function resultText(call) {
  if (call.status === "error") return call.error || "The call failed.";
  if (call.status === "cancelled") return "The call was cancelled.";
  return call.result || "";
}

function callBlock(call) {
  const block = el("details", `tool-call tool-${call.status}`);
  block.dataset.callId = call.id;
  const summary = el("summary");
  summary.append("Used ", el("code", null, call.name));
  const status = STATUS_TEXT[call.status];
  if (status) summary.append(el("span", "tool-status", ` · ${status}`));
  if (call.source && call.source !== "built-in") summary.append(el("span", "tool-source", ` (${call.source})`));
  block.append(summary);
  block.append(el("div", "tool-label", "Arguments"), el("pre", "tool-arguments", JSON.stringify(call.arguments ?? {}, null, 2)));
  const text = resultText(call);
  if (text) {
    const result = el("pre", "tool-result");
    const cut = text.length > PREVIEW_CHARS;
    result.textContent = cut ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
    block.append(el("div", "tool-label", call.status === "ok" || call.status === "denied" ? "Result" : "Error"), result);
    if (cut) {
      const more = el("button", "button small tool-more", `Show all ${text.length.toLocaleString()} characters`);
      more.type = "button";
      more.addEventListener("click", () => {
        result.textContent = text;
        more.remove();
      });
      block.append(more);
    }
  }
  if (call.status === "asked") {
    block.open = true;
    const buttons = el("div", "tool-approval");
    for (const [label, allow] of [
      ["Allow", true],
      ["Deny", false],
    ]) {
      const button = el("button", `button small${allow ? " primary" : ""}`, label);
      button.type = "button";
      button.addEventListener("click", () => {
        for (const b of buttons.querySelectorAll("button")) b.disabled = true;
        answerCall(call.id, allow);
      });
      buttons.append(button);
    }
    block.append(buttons);
  }
  return block;
}

// The calls and notes of one reply, shown above its text; each call replaced by id.
export class ToolCallList {
  constructor(calls = [], notes = []) {
    this.element = el("div", "tool-calls");
    for (const text of notes) this.addNote(text);
    for (const call of calls) this.update(call);
  }

  update(call) {
    if (!call || typeof call.id !== "string") return;
    const existing = this.element.querySelector(`.tool-call[data-call-id="${CSS.escape(call.id)}"]`);
    const block = callBlock(call);
    if (existing) {
      block.open = call.status === "asked" || existing.open;
      existing.replaceWith(block);
    } else {
      this.element.append(block);
      if (call.status === "asked") announce(`The model asks to use ${call.name}. Allow or deny it.`);
    }
  }

  addNote(text) {
    this.element.append(el("p", "tool-note", text));
  }
}

export function hasTools(msg) {
  return (Array.isArray(msg.tool_calls) && msg.tool_calls.length) || (Array.isArray(msg.tool_notes) && msg.tool_notes.length);
}

// The composer's Tools control: a button and a panel of checkboxes, grouped by source.
export class ToolPicker {
  constructor({ button, panel, picker, toolsUrl, choiceUrl }) {
    this.button = button;
    this.panel = panel;
    this.picker = picker;
    this.toolsUrl = toolsUrl;
    this.choiceUrl = choiceUrl; // () => "/c/<id>/tools/", or null before the first message
    this.chosen = new Set();
    this.offer = null;
    button.addEventListener("click", () => this.toggle());
    picker.select.addEventListener("change", () => this.refresh());
  }

  // null when unknown (models not loaded yet).
  canUseTools() {
    const caps = this.picker.capabilities.get(this.picker.value);
    return Array.isArray(caps) ? caps.includes("tools") : null;
  }

  reason() {
    if (this.canUseTools() === false) return `${this.picker.value} cannot use tools.`;
    return "";
  }

  // The tools chosen before the chat began: the new conversation is created with them.
  newChatChoice() {
    return this.choiceUrl() ? undefined : [...this.chosen];
  }

  refresh() {
    const reason = this.reason();
    this.button.disabled = !!reason;
    this.button.title = reason;
    this.button.textContent = this.chosen.size ? `Tools (${this.chosen.size})` : "Tools";
    if (reason && !this.panel.hidden) this.close();
  }

  async load() {
    const url = this.choiceUrl();
    const [offer, saved] = await Promise.all([request(this.toolsUrl), url ? request(url) : null]);
    if (offer.status === 200 && offer.body) this.offer = offer.body;
    if (url) this.chosen = new Set(saved.status === 200 && Array.isArray(saved.body?.tools) ? saved.body.tools : []);
    this.refresh();
  }

  // Another conversation is on screen (or the first message created this one).
  reset() {
    this.offer = null;
    this.close();
    if (this.choiceUrl()) this.load();
    else this.chosen = new Set(); // a new chat starts with none
    this.refresh();
  }

  toggle() {
    if (this.panel.hidden) this.open();
    else this.close();
  }

  close() {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  async open() {
    if (!this.offer) await this.load();
    this.render();
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    const first = this.panel.querySelector("input");
    if (first) first.focus();
  }

  render() {
    const offer = this.offer || { tools: [], down: [] };
    const groups = new Map();
    for (const tool of offer.tools) {
      if (!groups.has(tool.source)) groups.set(tool.source, []);
      groups.get(tool.source).push(tool);
    }
    const parts = [];
    for (const [source, tools] of groups) {
      const group = el("fieldset", "tool-group");
      group.append(el("legend", null, source === "built-in" ? "Built-in" : source));
      for (const tool of tools) {
        const row = el("label", "tool-option");
        const box = el("input");
        box.type = "checkbox";
        box.value = tool.key;
        box.checked = this.chosen.has(tool.key);
        box.addEventListener("change", () => this.save(tool.key, box.checked, box));
        const name = el("span", "tool-name", tool.name + (tool.ask_first ? " (asks first)" : ""));
        row.append(box, name, el("span", "tool-description", tool.description));
        group.append(row);
      }
      parts.push(group);
    }
    for (const name of offer.down) parts.push(el("p", "tool-note", `${name} is down; its tools are left out.`));
    if (!parts.length) parts.push(el("p", "tool-note", "No tools are available."));
    this.panel.replaceChildren(...parts);
  }

  async save(key, on, box) {
    if (on) this.chosen.add(key);
    else this.chosen.delete(key);
    if (!this.choiceUrl()) {
      this.refresh(); // kept here until the first message creates the conversation
      return;
    }
    const result = await request(this.choiceUrl(), { method: "POST", json: { tools: [...this.chosen] } });
    if (result.status !== 200) {
      if (on) this.chosen.delete(key);
      else this.chosen.add(key);
      box.checked = !on;
      announce("The tools could not be saved.");
    }
    this.refresh();
  }
}
