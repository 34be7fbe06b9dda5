// Message articles: final rendering of stored messages (with their images or
// structured reply), live replies that grow as deltas arrive, and code copy buttons.

import { announce, copyText, el } from "../lib/dom.js";
import { lazy } from "../lib/lazy.js";
import { LiveText } from "./live-text.js";
import { ReplyStatus } from "./reply-status.js";
import { hasTools, ToolCallList } from "./tools.js";

// A structured reply's form and JSON: loaded when the first one is shown.
const structuredReply = lazy(() => import("./structured-reply.js"));

const BADGES = { stopped: "Stopped", interrupted: "Interrupted" };

// When a message was sent, shown on hover and when one of its controls has the focus:
// the time today, the date too on other days; the full date and time as its title.
function timeStamp(iso) {
  const when = new Date(iso);
  if (!iso || Number.isNaN(when.getTime())) return null;
  const today = when.toDateString() === new Date().toDateString();
  const short = today
    ? when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : when.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const node = el("time", "msg-time", short);
  node.dateTime = iso;
  node.title = when.toLocaleString();
  return node;
}

function shell(msg) {
  const article = el("article", `message from-${msg.role === "user" ? "user" : "assistant"}`);
  article.dataset.id = msg.id;
  article.dataset.role = msg.role;
  article.dataset.status = msg.status;
  article.setAttribute("aria-label", msg.role === "user" ? "You" : "Assistant");
  const meta = el("header", "meta");
  if (msg.role !== "user") meta.append(el("span", "who", msg.model || "Assistant"));
  const stamp = timeStamp(msg.created);
  if (stamp) meta.append(stamp);
  article.append(meta);
  return article;
}

function thinkingBlock(text, open) {
  const details = el("details", "thinking");
  details.open = open;
  const body = el("div", "thinking-text");
  const node = document.createTextNode(text);
  body.append(node);
  details.append(el("summary", null, "Thinking"), body);
  return { details, node };
}

function formatStats(stats) {
  if (!stats || typeof stats.eval_count !== "number") return "";
  let text = `${stats.eval_count} tokens`;
  if (typeof stats.tokens_per_second === "number") text += ` · ${stats.tokens_per_second.toFixed(1)} tok/s`;
  return text;
}

function localUrl(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : "";
}

function attachments(images) {
  const box = el("div", "attachments");
  for (const [index, image] of images.entries()) {
    const href = localUrl(image.url);
    const src = localUrl(image.thumbnail_url) || href;
    if (!src) continue;
    const img = el("img");
    img.src = src;
    img.alt = `Attached image ${index + 1}`;
    img.loading = "lazy";
    const link = el("a");
    link.href = href || src;
    link.target = "_blank";
    link.rel = "noopener";
    link.append(img);
    box.append(link);
  }
  return box;
}

// A structured reply's section goes into `content` once its module is there (onGrow() then);
// if it cannot be loaded, the reply shows as text.
function fillStructured(content, msg, onGrow) {
  structuredReply(({ renderStructured }) => renderStructured(msg)).then((section) => {
    if (section) {
      content.append(section);
    } else {
      content.classList.replace("structured-content", "plain");
      content.textContent = msg.content || "";
    }
    onGrow();
  });
}

// An article for a message that is no longer streaming (or a user message). onGrow() runs
// when a part that comes later (a structured reply's) has been added.
export function renderFinal(msg, onGrow = () => {}) {
  const article = shell(msg);
  if (msg.role !== "user" && msg.thinking) article.append(thinkingBlock(msg.thinking, false).details);
  const content = el("div", "content");
  if (msg.role !== "user" && msg.structured && typeof msg.structured === "object") {
    content.classList.add("structured-content");
    fillStructured(content, msg, onGrow);
  } else if (msg.role !== "user" && msg.html) {
    content.classList.add("rendered");
    content.innerHTML = msg.html;
    addCopyButtons(content);
  } else {
    content.classList.add("plain");
    content.textContent = msg.content || "";
  }
  if (msg.role === "user" && Array.isArray(msg.images) && msg.images.length) article.append(attachments(msg.images));
  if (msg.role !== "user" && hasTools(msg)) article.append(new ToolCallList(msg.tool_calls, msg.tool_notes).element);
  article.append(content);
  const badge = BADGES[msg.status];
  if (badge && msg.role !== "user") article.querySelector(".meta").append(el("span", `badge badge-${msg.status}`, badge));
  if (msg.status === "error") {
    const box = el("div", "error-block", msg.error || "The reply failed.");
    box.setAttribute("role", "alert");
    article.append(box);
  }
  const stats = msg.role === "user" ? "" : formatStats(msg.stats);
  if (stats) article.append(el("p", "stats", stats));
  return article;
}

// A reply that is streaming: its text grows as Markdown (live-text.js), its thinking as text.
export class LiveReply {
  constructor(msg, seq) {
    this.id = msg.id;
    this.seq = seq;
    this.article = shell({ ...msg, status: "streaming" });
    this.details = null;
    this.thinking = null;
    this.content = el("div", "content plain");
    this.text = new LiveText(this.content, msg.content || "", addCopyButtons);
    this.loading = null;
    this.tools = null; // the calls and notes, shown above the text once there are any
    this.status = new ReplyStatus(this.article);
    this.article.append(this.content, this.status.node);
    for (const call of msg.tool_calls || []) this.toolList().update(call);
    for (const text of msg.tool_notes || []) this.toolList().addNote(text);
    if (msg.thinking) this.addThinking(msg.thinking, !msg.content);
    if (!msg.content && !msg.thinking && !this.tools) {
      this.loading = el("span", "loading", "Loading model…");
      this.content.append(this.loading);
    }
  }

  get empty() {
    return !this.text.length && !this.thinking;
  }

  clearLoading() {
    if (this.loading) {
      this.loading.remove();
      this.loading = null;
    }
  }

  addThinking(text, open) {
    const block = thinkingBlock(text, open);
    this.details = block.details;
    this.thinking = block.node;
    this.content.before(this.details);
  }

  toolList() {
    if (!this.tools) {
      this.tools = new ToolCallList();
      this.content.before(this.tools.element);
    }
    return this.tools;
  }

  updateTool(call) {
    this.clearLoading();
    this.toolList().update(call);
  }

  addNote(text) {
    this.toolList().addNote(text);
  }

  appendContent(delta) {
    if (!delta) return;
    this.clearLoading();
    if (!this.text.length && this.details) this.details.open = false;
    this.text.appendData(delta);
    this.status.text(delta);
  }

  appendThinking(delta) {
    if (!delta) return;
    this.clearLoading();
    if (this.thinking) this.thinking.appendData(delta);
    else this.addThinking(delta, !this.text.length);
    this.status.thought();
  }
}

export function addCopyButtons(root) {
  for (const pre of root.querySelectorAll("pre")) {
    const wrap = el("div", "code-block");
    pre.replaceWith(wrap);
    const button = el("button", "copy-button", "Copy");
    button.type = "button";
    button.setAttribute("aria-label", "Copy code");
    let timer = 0;
    button.addEventListener("click", async () => {
      let label = "Copied";
      try {
        await copyText(pre.textContent);
      } catch {
        label = "Copy failed";
      }
      button.focus();
      button.textContent = label;
      announce(label);
      clearTimeout(timer);
      timer = setTimeout(() => {
        button.textContent = "Copy";
      }, 1500);
    });
    wrap.append(pre, button);
  }
}
