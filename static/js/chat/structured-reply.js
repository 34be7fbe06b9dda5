// Structured output, answered: a finished reply that asked for it, as a form and as JSON.

import { announce, copyText, el } from "../lib/dom.js";

// A finished reply that asked for structured output: a read-only form (the
// server's structured_html), its JSON, and the problems when it does not match.
export function renderStructured(msg) {
  const result = msg.structured;
  const section = el("section", "structured");
  section.setAttribute("aria-label", "Structured reply");
  if (!result.valid) {
    const box = el("div", "error-block structured-errors");
    box.setAttribute("role", "alert");
    box.append(el("p", null, "The reply does not match the requested format:"));
    const list = el("ul");
    // The server sends a checked shape; a damaged one still shows, as text.
    for (const problem of Array.isArray(result.errors) ? result.errors : []) {
      const item = el("li");
      item.append(el("code", null, String(problem?.path || "$")), `: ${String(problem?.message ?? "")}`);
      list.append(item);
    }
    box.append(list);
    section.append(box);
  }

  const hasData = result.data !== null && result.data !== undefined;
  const json = hasData ? JSON.stringify(result.data, null, 2) : msg.content || "";
  const pre = el("pre", "structured-json", json);
  pre.tabIndex = 0;
  pre.setAttribute("aria-label", hasData ? "JSON" : "Raw reply");
  const tools = el("div", "structured-tools");

  if (hasData && msg.structured_html) {
    const form = el("div", "structured-form");
    form.innerHTML = msg.structured_html;
    const showForm = result.valid;
    form.hidden = !showForm;
    pre.hidden = showForm;
    const toggle = el("button", "button small", showForm ? "Show JSON" : "Show form");
    toggle.type = "button";
    toggle.addEventListener("click", () => {
      const toForm = form.hidden;
      form.hidden = !toForm;
      pre.hidden = toForm;
      toggle.textContent = toForm ? "Show JSON" : "Show form";
    });
    tools.append(toggle);
    section.append(form);
  }
  section.append(pre);

  const copy = el("button", "button small", "Copy JSON");
  copy.type = "button";
  let timer = 0;
  copy.addEventListener("click", async () => {
    let label = "Copied";
    try {
      await copyText(json);
    } catch {
      label = "Copy failed";
    }
    copy.textContent = label;
    announce(label);
    clearTimeout(timer);
    timer = setTimeout(() => {
      copy.textContent = "Copy JSON";
    }, 1500);
  });
  const download = el("a", "button small", "Download .json");
  download.href = URL.createObjectURL(new Blob([`${json}\n`], { type: "application/json" }));
  download.download = "reply.json";
  tools.append(copy, download);
  section.append(tools);
  return section;
}
