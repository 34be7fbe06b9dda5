// What the chat page sends: a new message (first creating the conversation when there is
// none), an edit, a regeneration, a switch between versions, and Stop. A message waits in
// the session (session.js) until the socket has synced, and goes once.

import { uuid } from "../lib/dom.js";
import { errorText, request } from "../lib/http.js";
import { rememberModel } from "./model-picker.js";

// modelsLoading() is the model list's load in progress, if any; openSocket() connects to
// the session's conversation.
export function setupSending(session, { newUrl, picker, modelsLoading, openSocket }) {
  const { composer, messages } = session;

  function socketReady() {
    if (session.ready) return true;
    composer.showError("Not connected to the server yet. Try again in a moment.");
    return false;
  }

  async function createConversation(model) {
    session.creatingStarted();
    try {
      const { status, ok, body, lost } = await request(newUrl, { method: "POST", json: { model } });
      if (!status) {
        composer.showError("Could not reach the server. Your message has not been sent.");
        return false;
      }
      if (lost) return false; // request() has said so
      if (!ok || !body || !body.id || !body.ws_path) {
        composer.showError(errorText(body, `Could not start a new chat (HTTP ${status}).`));
        return false;
      }
      picker.conversationModel = model;
      history.replaceState(null, "", body.url);
      session.tools.sidebar.add({ id: body.id, title: "", url: body.url, pinned: false });
      session.opened(body);
      openSocket();
      return true;
    } catch {
      composer.showError("Could not reach the server. Your message has not been sent.");
      return false;
    } finally {
      session.creatingEnded();
    }
  }

  async function send() {
    const draft = composer.draft();
    if (!draft) return;
    composer.clearError();
    const pending = { clientId: uuid(), content: draft.content, model: "", images: draft.images, format: draft.format, sent: false };
    session.queued(pending);
    if (!composer.structured.panel.contains(document.activeElement)) composer.focus();
    const loading = picker.value ? null : modelsLoading();
    if (loading) await loading;
    pending.model = picker.value;
    if (!pending.model) {
      session.unqueued();
      composer.showError("Choose a model first.");
      return;
    }
    rememberModel(pending.model);
    if (!session.conversationId) {
      if (!(await createConversation(pending.model))) {
        session.unqueued();
        return;
      }
    } else {
      picker.conversationModel = pending.model;
    }
    session.flushPending();
    messages.scrollToBottom();
  }

  function stop() {
    if (session.send({ type: "stop" })) {
      session.stopRequested();
      composer.focus();
    }
  }

  // The message actions (versions.js): Regenerate, Edit and the versions pager.
  function regenerate() {
    if (!socketReady()) return;
    const frame = { type: "regenerate" };
    if (picker.value) frame.model = picker.value;
    if (session.send(frame)) {
      composer.clearError();
      if (picker.value) rememberModel(picker.value);
      session.awaiting();
    }
  }

  function edit(content) {
    if (session.pending || session.creating || !socketReady()) return false;
    composer.clearError();
    session.queued({ kind: "edit", clientId: uuid(), content, model: picker.value, images: [], sent: false });
    session.flushPending();
    return true;
  }

  function switchTo(messageId, label) {
    if (!socketReady()) return;
    if (session.send({ type: "switch_version", message_id: messageId })) session.awaiting(label);
  }

  return { send, stop, regenerate, edit, switchTo };
}
