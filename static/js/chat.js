// Chat page entry: wires the composer (with its images and structured output
// panel), the conversation socket, the message list, the model picker and the sidebar.

import { Attachments } from "./attachments.js";
import { LiveReply, renderFinal } from "./messages.js";
import { ModelPicker, rememberModel } from "./models.js";
import { connect } from "./socket.js";
import { StructuredPanel } from "./structured.js";
import { announce, csrfToken, el, errorText, hideBanner, showBanner } from "./ui.js";

const data = JSON.parse(document.getElementById("page-data").textContent);
const $ = (id) => document.getElementById(id);

const app = $("app");
const list = $("messages");
const scroller = $("scroller");
const form = $("composer");
const input = $("message");
const sendButton = $("send");
const stopButton = $("stop");
const composerError = $("composer-error");
const connNotice = $("conn-notice");
const emptyState = $("empty-state");
const convList = $("conversation-list");
const titleEl = $("chat-title");
const toggle = $("sidebar-toggle");
const backdrop = $("backdrop");
const mainEl = document.querySelector(".main");

const state = {
  conversationId: data.conversation_id,
  wsPath: data.ws_path,
  socket: null,
  synced: false,
  syncPending: false,
  pending: null, // {clientId, content, model, images, format, sent}
  unconfirmed: null, // a sent chat whose echo was lost with the connection
  creating: false,
  stopping: false,
  dead: false,
};
const replies = new Map(); // message id -> LiveReply

const picker = new ModelPicker($("model"), data.models_url, data.model);
const visionWarning = $("vision-warning");
const visionSwitch = $("vision-switch");

const attachments = new Attachments($("composer-attachments"), {
  uploadUrl: data.upload_url,
  maxImages: data.max_images,
  maxBytes: data.max_image_bytes,
  onChange: () => checkVision(),
  onErrors: (errors) => {
    if (errors.length) showComposerError(errors.join("\n"), "attachments");
    else if (composerError.dataset.source === "attachments") clearComposerError();
  },
});
attachments.wire({ button: $("attach"), input: $("image-input"), zone: $("composer-box"), pasteTarget: input });

const structured = new StructuredPanel(
  {
    toggle: $("structured-toggle"),
    panel: $("structured-panel"),
    schema: $("schema-text"),
    jsonMode: $("json-mode"),
    example: $("schema-example"),
    saved: $("saved-schemas"),
    name: $("schema-name"),
    save: $("schema-save"),
    remove: $("schema-delete"),
    error: $("schema-error"),
  },
  data.schemas_url,
);

// ---------- helpers ----------

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function goToLogin() {
  const next = location.pathname + location.search;
  location.assign(`${data.login_url}?next=${encodeURIComponent(next)}`);
}

function find(id) {
  return list.querySelector(`article[data-id="${CSS.escape(id)}"]`);
}

function place(id, node) {
  const existing = find(id);
  if (existing) existing.replaceWith(node);
  else list.append(node);
}

function newestFinalId() {
  const articles = list.querySelectorAll("article[data-id]");
  for (let i = articles.length - 1; i >= 0; i--) {
    if (articles[i].dataset.status !== "streaming") return articles[i].dataset.id;
  }
  return null;
}

// ---------- scrolling ----------

let stick = true;
scroller.addEventListener(
  "scroll",
  () => {
    stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 40;
  },
  { passive: true },
);

function follow() {
  if (stick) scroller.scrollTop = scroller.scrollHeight;
}

function scrollToBottom() {
  stick = true;
  scroller.scrollTop = scroller.scrollHeight;
}

// ---------- composer state ----------

function refresh() {
  const streaming = !!list.querySelector('article[data-status="streaming"]');
  sendButton.disabled = streaming || !!state.pending || state.creating || state.dead;
  stopButton.disabled = !streaming || state.stopping || state.dead;
  emptyState.hidden = !!list.firstElementChild || state.dead;
}

function showComposerError(text, source = "") {
  composerError.textContent = text;
  composerError.dataset.source = source;
  composerError.hidden = false;
  announce(text);
}

function clearComposerError() {
  composerError.hidden = true;
  composerError.textContent = "";
  composerError.dataset.source = "";
}

// Images attached for a model that cannot see them: say so and offer a model that can.
function checkVision() {
  const model = picker.value;
  const blocked = attachments.count > 0 && picker.canSee(model) === false;
  if (blocked) {
    const [other] = picker.visionModels();
    $("vision-warning-text").textContent = other
      ? `${model} cannot see images.`
      : "No installed model can see images. Pull one, for example `ollama pull llava`.";
    visionSwitch.hidden = !other;
    if (other) {
      visionSwitch.textContent = `Switch to ${other}`;
      visionSwitch.dataset.model = other;
    }
  }
  if (visionWarning.hidden === blocked) {
    const hadFocus = visionWarning.contains(document.activeElement);
    visionWarning.hidden = !blocked;
    if (hadFocus && !blocked) input.focus();
  }
  return blocked;
}

visionSwitch.addEventListener("click", () => {
  picker.choose(visionSwitch.dataset.model);
  announce(`Switched to ${visionSwitch.dataset.model}.`);
});
$("model").addEventListener("change", () => checkVision());

const autoSize = CSS.supports("field-sizing", "content")
  ? () => {}
  : () => {
      input.style.height = "auto";
      input.style.height = `${input.scrollHeight + 2}px`;
    };

function clearInputIf(content) {
  if (input.value === content) {
    input.value = "";
    autoSize();
  }
}

// The message arrived: clear what it carried from the composer.
function clearSent(sent) {
  clearInputIf(sent.content);
  if (sent.images.length) attachments.forget(sent.images);
}

// ---------- sidebar ----------

function conversationLink(id) {
  return id ? convList.querySelector(`a[data-id="${CSS.escape(id)}"]`) : null;
}

function addConversation(id, url) {
  const placeholder = convList.querySelector(".empty-list");
  if (placeholder) placeholder.remove();
  for (const a of convList.querySelectorAll("[aria-current]")) a.removeAttribute("aria-current");
  const link = el("a", null, "New chat");
  link.href = url;
  link.dataset.id = id;
  link.setAttribute("aria-current", "page");
  const item = el("li");
  item.append(link);
  convList.prepend(item);
}

function setTitle(title) {
  const link = conversationLink(state.conversationId);
  if (link) {
    link.textContent = title || "New chat";
    convList.prepend(link.parentElement);
  }
  titleEl.textContent = title || "New chat";
  document.title = title || "Chat";
}

function setSidebar(open, focusToggle) {
  app.classList.toggle("sidebar-open", open);
  mainEl.inert = open;
  toggle.setAttribute("aria-expanded", String(open));
  backdrop.hidden = !open;
  if (open) {
    const target = convList.querySelector("[aria-current]") || convList.querySelector("a") || $("sidebar").querySelector("button");
    if (target) target.focus();
  } else if (focusToggle) {
    toggle.focus();
  }
}

matchMedia("(max-width: 720px)").addEventListener("change", () => setSidebar(false));
toggle.addEventListener("click", () => setSidebar(toggle.getAttribute("aria-expanded") !== "true"));
backdrop.addEventListener("click", () => setSidebar(false, true));
$("sidebar-close").addEventListener("click", () => setSidebar(false, true));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && app.classList.contains("sidebar-open")) setSidebar(false, true);
});

$("new-chat").addEventListener("click", () => location.assign("/"));

// ---------- models ----------

let modelsLoading = null;

function loadModels() {
  if (modelsLoading) return modelsLoading;
  modelsLoading = refreshModels().finally(() => {
    modelsLoading = null;
  });
  return modelsLoading;
}

async function refreshModels() {
  const result = await picker.load();
  if (result.login) {
    goToLogin();
  } else if (result.error) {
    showBanner("ollama", result.error, loadModels);
  } else if (result.empty) {
    showBanner("ollama", "No models installed. Pull one with `ollama pull llama3.2`.", loadModels);
  } else if (hideBanner("ollama")) {
    input.focus();
  }
  checkVision();
}

// ---------- socket frames ----------

function sendSync() {
  if (!state.socket) return;
  state.syncPending = state.socket.send({ type: "sync", after: newestFinalId() });
}

function resync() {
  if (!state.syncPending) sendSync();
}

function put(msg) {
  if (msg.role === "assistant" && msg.status === "streaming") {
    const reply = new LiveReply(msg, null);
    replies.set(msg.id, reply);
    place(msg.id, reply.article);
  } else {
    replies.delete(msg.id);
    place(msg.id, renderFinal(msg));
  }
}

function onHistory(frame) {
  state.syncPending = false;
  const following = stick;
  if (frame.reset) {
    list.replaceChildren();
    replies.clear();
  }
  for (const msg of frame.messages || []) {
    // A streaming reply already on screen is refreshed by the snapshot that follows.
    if (msg.status === "streaming" && replies.has(msg.id)) continue;
    const known = !!find(msg.id);
    put(msg);
    const lost = state.unconfirmed;
    if (lost && !known && msg.role === "user" && msg.content === lost.content) {
      clearSent(lost);
      state.unconfirmed = null;
    }
  }
  state.unconfirmed = null;
  state.synced = true;
  refresh();
  flushPending();
  if (following) scrollToBottom();
}

function onMessage(frame) {
  const msg = frame.message;
  put(msg);
  if ("title" in frame) setTitle(frame.title || "");
  else {
    const link = conversationLink(state.conversationId);
    if (link) convList.prepend(link.parentElement);
  }
  const pending = state.pending;
  if (pending && frame.client_id === pending.clientId) {
    clearSent(pending);
    state.pending = null;
    clearComposerError();
    structured.clearError();
    scrollToBottom();
  } else {
    follow();
  }
  refresh();
}

function onReply(frame) {
  const msg = frame.message;
  const reply = new LiveReply(msg, typeof frame.seq === "number" ? frame.seq : 0);
  replies.set(msg.id, reply);
  place(msg.id, reply.article);
  announce(reply.empty ? "Loading model…" : "Replying…");
  refresh();
  follow();
}

function onDelta(frame) {
  const reply = replies.get(frame.message_id);
  if (!reply || reply.seq === null) {
    resync();
    return;
  }
  if (frame.seq <= reply.seq) return;
  if (frame.seq !== reply.seq + 1) {
    resync();
    return;
  }
  reply.seq = frame.seq;
  const wasEmpty = reply.empty;
  if (frame.type === "token") reply.appendContent(frame.content);
  else reply.appendThinking(frame.content);
  if (wasEmpty && !reply.empty) announce("Replying…");
  follow();
}

const DONE_TEXT = {
  complete: "Reply finished",
  stopped: "Reply stopped",
  interrupted: "Reply interrupted",
};

function onDone(frame) {
  const msg = frame.message;
  const article = find(msg.id);
  const hadFocus = article && article.contains(document.activeElement);
  replies.delete(msg.id);
  place(msg.id, renderFinal(msg));
  state.stopping = false;
  if (msg.status === "error") announce(msg.error || "The reply failed.");
  else if (DONE_TEXT[msg.status]) announce(DONE_TEXT[msg.status]);
  if (hadFocus) input.focus();
  refresh();
  follow();
}

function onError(frame) {
  const text = frame.message || "Something went wrong.";
  if (frame.message_id) {
    announce(text);
    if (frame.code === "unreachable") showBanner("ollama", text, loadModels);
    return;
  }
  if (frame.code === "not_streaming") {
    state.stopping = false;
    announce(text);
    refresh();
    return;
  }
  state.pending = null;
  if (frame.code === "invalid_schema" && structured.open) {
    structured.showError(text); // an alert inside the panel
  } else {
    showComposerError(text);
  }
  refresh();
}

const HANDLERS = {
  history: onHistory,
  message: onMessage,
  reply: onReply,
  token: onDelta,
  thinking: onDelta,
  done: onDone,
  error: onError,
};

function openSocket() {
  state.socket = connect(state.wsPath, {
    open() {
      connNotice.hidden = true;
      state.synced = false;
      if (state.pending && state.pending.sent) {
        state.unconfirmed = state.pending;
        state.pending = null;
      }
      state.stopping = false;
      sendSync();
      refresh();
    },
    frame(frame) {
      const handler = HANDLERS[frame.type];
      if (handler) handler(frame);
    },
    drop() {
      state.synced = false;
      state.syncPending = false;
      if (connNotice.hidden) announce("Connection lost. Trying to reconnect.");
      connNotice.hidden = false;
    },
    fatal(code) {
      connNotice.hidden = true;
      state.dead = true;
      state.pending = null;
      refresh();
      if (code === 4401) {
        // Guard against a redirect loop when the page loads but the socket is refused.
        let last = 0;
        try {
          last = Number(sessionStorage.getItem("authRedirect")) || 0;
          sessionStorage.setItem("authRedirect", String(Date.now()));
        } catch {
          /* storage may be unavailable */
        }
        if (Date.now() - last > 15000) goToLogin();
        else showBanner("gone", "Your session has ended. Sign out and sign in again to continue.");
        return;
      }
      showBanner("gone", "This conversation does not exist.");
    },
  });
}

window.addEventListener("online", () => state.socket && state.socket.nudge());
window.addEventListener("pagehide", () => state.socket && state.socket.close());
window.addEventListener("pageshow", (event) => {
  if (event.persisted && state.socket) state.socket.resume();
});

// ---------- sending ----------

async function createConversation(model) {
  state.creating = true;
  refresh();
  try {
    const res = await fetch(data.new_url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ model }),
    });
    if (res.redirected || res.status === 401) {
      goToLogin();
      return false;
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    if (!res.ok || !body || !body.id || !body.ws_path) {
      showComposerError(errorText(body, `Could not start a new chat (HTTP ${res.status}).`));
      return false;
    }
    state.conversationId = body.id;
    state.wsPath = body.ws_path;
    picker.conversationModel = model;
    history.replaceState(null, "", body.url);
    addConversation(body.id, body.url);
    openSocket();
    return true;
  } catch {
    showComposerError("Could not reach the server. Your message has not been sent.");
    return false;
  } finally {
    state.creating = false;
    refresh();
  }
}

function flushPending() {
  const pending = state.pending;
  if (!pending || pending.sent || !state.synced || !state.socket) return;
  const frame = { type: "chat", content: pending.content, client_id: pending.clientId };
  if (pending.model) frame.model = pending.model;
  if (pending.images.length) frame.images = pending.images;
  if (pending.format !== undefined) frame.format = pending.format;
  pending.sent = state.socket.send(frame);
}

async function send() {
  const content = input.value;
  if (!content.trim() || sendButton.disabled) return;
  if (checkVision()) {
    announce(`${$("vision-warning-text").textContent} The message was not sent.`);
    return;
  }
  if (attachments.uploading) {
    showComposerError("Wait until the images have finished uploading.");
    return;
  }
  const format = structured.format();
  if (!format.ok) return;
  clearComposerError();
  const pending = { clientId: uuid(), content, model: "", images: attachments.ids, format: format.format, sent: false };
  state.pending = pending;
  refresh();
  if (!structured.panel.contains(document.activeElement)) input.focus();
  if (!picker.value && modelsLoading) await modelsLoading;
  pending.model = picker.value;
  if (!pending.model) {
    state.pending = null;
    refresh();
    showComposerError("Choose a model first.");
    return;
  }
  rememberModel(pending.model);
  if (!state.conversationId) {
    if (!(await createConversation(pending.model))) {
      state.pending = null;
      refresh();
      return;
    }
  } else {
    picker.conversationModel = pending.model;
  }
  flushPending();
  scrollToBottom();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});

input.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
  event.preventDefault();
  send();
});

input.addEventListener("input", autoSize);

stopButton.addEventListener("click", () => {
  if (state.socket && state.socket.send({ type: "stop" })) {
    state.stopping = true;
    refresh();
    input.focus();
  }
});

// ---------- start ----------

for (const msg of data.messages || []) put(msg);
refresh();
scrollToBottom();
input.focus();
loadModels();
if (state.conversationId && state.wsPath) openSocket();
