// What the chat page sends: a new message (first creating the conversation when there is
// none), an edit, a regeneration, a switch between versions, and Stop. A message waits in
// state.pending until the socket has synced, and goes once.

import { rememberModel } from "./models.js";
import { csrfToken, errorText, uuid } from "./ui.js";

// state is the chat page's shared state (chat.js); modelsLoading() is the model list's
// load in progress, if any; openSocket() connects to state.wsPath.
export function setupSending({
  data,
  state,
  picker,
  composer,
  messages,
  tools,
  earlier,
  refresh,
  modelsLoading,
  useConversation,
  openSocket,
  toolChoice = () => undefined,
  goToLogin,
}) {
  function socketReady() {
    if (state.socket && state.synced && !state.dead) return true;
    composer.showError("Not connected to the server yet. Try again in a moment.");
    return false;
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

  async function createConversation(model) {
    state.creating = true;
    refresh();
    try {
      const res = await fetch(data.new_url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ model, tools: toolChoice() }),
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
        composer.showError(errorText(body, `Could not start a new chat (HTTP ${res.status}).`));
        return false;
      }
      state.conversationId = body.id;
      state.wsPath = body.ws_path;
      picker.conversationModel = model;
      history.replaceState(null, "", body.url);
      tools.sidebar.add({ id: body.id, title: "", url: body.url, pinned: false });
      useConversation(body.url);
      earlier.reset(`${body.url}messages/`, false);
      openSocket();
      return true;
    } catch {
      composer.showError("Could not reach the server. Your message has not been sent.");
      return false;
    } finally {
      state.creating = false;
      refresh();
    }
  }

  async function send() {
    const draft = composer.draft();
    if (!draft) return;
    composer.clearError();
    const pending = { clientId: uuid(), content: draft.content, model: "", images: draft.images, format: draft.format, sent: false };
    state.pending = pending;
    refresh();
    if (!composer.structured.panel.contains(document.activeElement)) composer.focus();
    const loading = picker.value ? null : modelsLoading();
    if (loading) await loading;
    pending.model = picker.value;
    if (!pending.model) {
      state.pending = null;
      refresh();
      composer.showError("Choose a model first.");
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
    messages.scrollToBottom();
  }

  function stop() {
    if (state.socket && state.socket.send({ type: "stop" })) {
      state.stopping = true;
      refresh();
      composer.focus();
    }
  }

  // The message actions (versions.js): Regenerate, Edit and the versions pager.
  function regenerate() {
    if (!socketReady()) return;
    const frame = { type: "regenerate" };
    if (picker.value) frame.model = picker.value;
    if (state.socket.send(frame)) {
      composer.clearError();
      state.waiting = true;
      if (picker.value) rememberModel(picker.value);
      refresh();
    }
  }

  function edit(content) {
    if (state.pending || state.creating || !socketReady()) return false;
    composer.clearError();
    state.pending = { kind: "edit", clientId: uuid(), content, model: picker.value, images: [], sent: false };
    flushPending();
    refresh();
    return true;
  }

  function switchTo(messageId, label) {
    if (!socketReady()) return;
    if (state.socket.send({ type: "switch_version", message_id: messageId })) {
      state.waiting = true;
      state.refocus = label;
      refresh();
    }
  }

  return { send, stop, flushPending, regenerate, edit, switchTo };
}
