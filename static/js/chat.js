// Chat page entry: wires the composer (images, structured output), the conversation
// socket and message list, and the sidebar, settings, downloads, versions and context meter.

import { Attachments } from "./attachments.js";
import { EarlierMessages } from "./earlier.js";
import { LiveReply, renderFinal } from "./messages.js";
import { ModelPicker, rememberModel } from "./models.js";
import { setupTools } from "./page-tools.js";
import { storeTimeZone } from "./sidebar.js";
import { connect } from "./socket.js";
import { StructuredPanel } from "./structured.js";
import { announce, csrfToken, errorText, hideBanner, showBanner, uuid } from "./ui.js";
import { MessageActions } from "./versions.js";

const data = JSON.parse(document.getElementById("page-data").textContent);
const $ = (id) => document.getElementById(id);

const list = $("messages");
const scroller = $("scroller");
const form = $("composer");
const input = $("message");
const sendButton = $("send");
const stopButton = $("stop");
const composerError = $("composer-error");
const connNotice = $("conn-notice");
const emptyState = $("empty-state");

// A reply streaming with no frame for this long may have lost frames: ask again.
const STALL_MS = 20000;

const state = {
  conversationId: data.conversation_id,
  conversationUrl: $("app").dataset.conversationUrl || null, // "/c/<id>/"
  wsPath: data.ws_path,
  socket: null,
  synced: false,
  syncPending: false,
  pending: null, // {clientId, content, model, images, format, sent}
  unconfirmed: null, // a sent chat whose echo was lost with the connection
  creating: false,
  stopping: false,
  dead: false,
  deleted: false, // the conversation was deleted (here or elsewhere)
  leaving: false,
  waiting: false, // a regenerate or switch_version frame awaits its answer
  refocus: null, // the pager button to focus again once the versions are swapped
  lastActivity: Date.now(),
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

// ---------- regenerate, edit, versions ----------

function socketReady() {
  if (state.socket && state.synced && !state.dead) return true;
  showComposerError("Not connected to the server yet. Try again in a moment.");
  return false;
}

const msgActions = new MessageActions(list, {
  regenerate() {
    if (!socketReady()) return;
    const frame = { type: "regenerate" };
    if (picker.value) frame.model = picker.value;
    if (state.socket.send(frame)) {
      clearComposerError();
      state.waiting = true;
      if (picker.value) rememberModel(picker.value);
      refresh();
    }
  },
  edit(content) {
    if (state.pending || state.creating || !socketReady()) return false;
    clearComposerError();
    state.pending = { kind: "edit", clientId: uuid(), content, model: picker.value, images: [], sent: false };
    flushPending();
    refresh();
    return true;
  },
  switchTo(messageId, label) {
    if (!socketReady()) return;
    if (state.socket.send({ type: "switch_version", message_id: messageId })) {
      state.waiting = true;
      state.refocus = label;
      refresh();
    }
  },
});

const earlier = new EarlierMessages({
  scroller,
  list,
  row: $("loading-earlier"),
  render,
  onError: (text) => announce(text),
});

// ---------- helpers ----------

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
  // The images of a message on its way can no longer be taken back.
  attachments.locked = !!state.pending;
  stopButton.disabled = !streaming || state.stopping || state.dead;
  emptyState.hidden = !!list.firstElementChild || state.dead;
  const busy = streaming || !!state.pending || state.creating || state.dead || state.waiting || !state.synced;
  msgActions.update({ busy });
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

// ---------- sidebar, settings, downloads, context ----------

const tools = setupTools({
  data,
  picker,
  currentId: () => state.conversationId,
  onLeave: () => {
    state.leaving = true;
  },
});
const { sidebar, meter } = tools;

function useConversation(url) {
  state.conversationUrl = url;
  tools.useConversation(url);
}

function setTitle(title) {
  tools.setTitle(state.conversationId, title);
}

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
    showBanner("ollama", "No chat models installed. Pull one with `ollama pull llama3.2`.", loadModels);
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

function render(msg) {
  return msgActions.decorate(renderFinal(msg), msg);
}

function put(msg) {
  if (msg.role === "assistant" && msg.status === "streaming") {
    const reply = new LiveReply(msg, null);
    replies.set(msg.id, reply);
    place(msg.id, reply.article);
  } else {
    replies.delete(msg.id);
    place(msg.id, render(msg));
  }
}

// Regenerating or editing: the messages the new version takes the place of go.
function removeReplaced(ids) {
  let hadFocus = false;
  for (const id of ids) {
    const article = find(id);
    if (article) {
      hadFocus = hadFocus || article.contains(document.activeElement);
      article.remove();
    }
    replies.delete(id);
  }
  if (hadFocus) input.focus();
}

function onHistory(frame) {
  state.syncPending = false;
  const following = stick;
  const focus = document.activeElement;
  const focusFree = !focus || focus === document.body || list.contains(focus);
  if (frame.reset) {
    list.replaceChildren();
    replies.clear();
    earlier.afterReset((frame.messages || []).length);
  }
  for (const msg of frame.messages || []) {
    // A streaming reply already on screen is refreshed by the snapshot that follows.
    if (msg.status === "streaming" && replies.has(msg.id)) continue;
    const known = !!find(msg.id);
    put(msg);
    const lost = state.unconfirmed;
    if (lost && !known && msg.role === "user" && msg.content === lost.content) {
      if (lost.kind !== "edit") clearSent(lost);
      state.unconfirmed = null;
    }
  }
  state.unconfirmed = null;
  state.synced = true;
  const refocus = state.refocus;
  if (frame.reset) {
    state.waiting = false;
    state.refocus = null;
    meter.update();
  }
  refresh();
  flushPending();
  if (following) scrollToBottom();
  // The list was replaced: focus goes back to the pager, or to the composer.
  if (frame.reset && focusFree && !list.contains(document.activeElement)) {
    if (!(refocus && msgActions.focusPager(refocus)) && focus && focus !== document.body) input.focus();
  }
}

function onMessage(frame) {
  const msg = frame.message;
  put(msg);
  if ("title" in frame) setTitle(frame.title || "");
  sidebar.refreshSoon();
  const pending = state.pending;
  if (pending && frame.client_id === pending.clientId) {
    if (pending.kind === "edit") msgActions.editDone();
    else clearSent(pending);
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
  if (Array.isArray(frame.replaces) && frame.replaces.length) {
    msgActions.noteReplaces(msg, frame.replaces);
    removeReplaced(frame.replaces);
  }
  state.waiting = false;
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
  place(msg.id, render(msg));
  state.stopping = false;
  if (msg.status === "error") announce(msg.error || "The reply failed.");
  else if (DONE_TEXT[msg.status]) announce(DONE_TEXT[msg.status]);
  if (hadFocus) input.focus();
  refresh();
  follow();
  meter.update();
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
  if (state.pending && state.pending.kind === "edit") msgActions.editFailed();
  state.pending = null;
  state.waiting = false;
  state.refocus = null;
  if (frame.code === "invalid_schema" && structured.open) {
    structured.showError(text); // an alert inside the panel
  } else {
    showComposerError(text);
  }
  refresh();
}

function onTitle(frame) {
  if (typeof frame.title === "string") setTitle(frame.title);
}

function onDeleted() {
  state.deleted = true;
  state.dead = true;
  state.pending = null;
  if (state.socket) state.socket.close();
  connNotice.hidden = true;
  if (!state.leaving) showBanner("gone", "This conversation was deleted.");
  sidebar.remove(state.conversationId);
  useConversation(null);
  earlier.reset(null, false);
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
  title: onTitle,
  deleted: onDeleted,
};

function openSocket() {
  state.socket = connect(state.wsPath, {
    open() {
      connNotice.hidden = true;
      state.synced = false;
      if (state.pending && state.pending.sent) {
        // An edit lost with the connection can be sent again from its form.
        if (state.pending.kind === "edit") msgActions.editFailed();
        state.unconfirmed = state.pending;
        state.pending = null;
      }
      state.stopping = false;
      state.waiting = false;
      state.refocus = null;
      sendSync();
      refresh();
    },
    frame(frame) {
      if (frame.type !== "pong") state.lastActivity = Date.now();
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
      if (state.deleted) return;
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

// Frames can be lost in rare cases when several workers serve the socket.
setInterval(() => {
  if (!state.socket || !state.synced || state.dead) return;
  if (!list.querySelector('article[data-status="streaming"]')) return;
  if (Date.now() - state.lastActivity < STALL_MS) return;
  state.lastActivity = Date.now();
  sendSync();
}, 5000);

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
    sidebar.add({ id: body.id, title: "", url: body.url, pinned: false });
    useConversation(body.url);
    earlier.reset(`${body.url}messages/`, false);
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
  const frame = { type: pending.kind || "chat", content: pending.content, client_id: pending.clientId };
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

useConversation(state.conversationUrl);
earlier.reset(state.conversationUrl ? `${state.conversationUrl}messages/` : null, data.has_more);
for (const msg of data.messages || []) put(msg);
refresh();
scrollToBottom();
input.focus();
loadModels();
if (state.conversationId && state.wsPath) openSocket();
meter.update();
if (storeTimeZone()) sidebar.refresh();
requestAnimationFrame(() => earlier.check());
