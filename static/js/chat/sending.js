// What the chat page sends: a new message (first creating the conversation when there is
// none, with the settings set for it), an edit, a regeneration, a continuation, a switch
// between versions, a deletion, and Stop. A message waits in
// the session (session.js) until the socket has synced, and goes once.

import { uuid } from "../lib/dom.js";
import { errorText, fieldErrors, request } from "../lib/http.js";
import { rememberModel } from "./model-picker.js";

// modelsLoading() is the model list's load in progress, if any; openSocket() connects to
// the session's conversation.
// newChatSettings() is what the settings dialog holds for a chat not created yet, if anything;
// toolChoice() the tools chosen in the composer before it.
export function setupSending(
  session,
  { newUrl, picker, modelsLoading, openSocket, newChatSettings, toolChoice = () => undefined },
) {
  const { composer, messages } = session;

  function socketReady() {
    if (session.ready) return true;
    composer.showError("Not connected to the server yet. Try again in a moment.");
    return false;
  }

  async function createConversation(model) {
    session.creatingStarted();
    try {
      const json = { ...(newChatSettings() || {}), model, tools: toolChoice() };
      const { status, ok, body, lost } = await request(newUrl, { method: "POST", json });
      if (!status) {
        composer.showError("Could not reach the server. Your message has not been sent.");
        return false;
      }
      if (lost) return false; // request() has said so
      const refused = !ok && fieldErrors(body);
      if (refused) {
        composer.showError(`This chat's settings were refused: ${Object.values(refused).join(" ")} Change them in Settings.`);
        return false;
      }
      if (!ok || !body || !body.id || !body.ws_path) {
        composer.showError(errorText(body, `Could not start a new chat (HTTP ${status}).`));
        return false;
      }
      picker.conversationModel = model;
      history.replaceState(null, "", body.url);
      // Listed once its first message is accepted (the sidebar refreshes on the "message" frame).
      session.tools.sidebar.setCurrent(body.id);
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
    if (messages.streaming) {
      composer.showBusy();
      return;
    }
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

  // The message actions (message-actions.js). Regenerate answers with `model`, or the one picked.
  function regenerate(replyId, model) {
    if (!socketReady()) return;
    const frame = { type: "regenerate", message_id: replyId };
    const chosen = model || picker.value;
    if (chosen) frame.model = chosen;
    if (session.send(frame)) {
      composer.clearError();
      if (chosen) rememberModel(chosen);
      session.awaiting();
    }
  }

  function edit(content, questionId) {
    if (session.pending || session.creating || !socketReady()) return false;
    composer.clearError();
    session.queued({ kind: "edit", clientId: uuid(), content, model: picker.value, images: [], sent: false, messageId: questionId });
    session.flushPending();
    return true;
  }

  function continueReply(replyId) {
    if (!socketReady()) return;
    if (session.send({ type: "continue", message_id: replyId })) {
      composer.clearError();
      session.awaiting();
    }
  }

  function remove(messageId) {
    if (!socketReady()) return;
    if (session.send({ type: "delete", message_id: messageId })) session.awaiting();
  }

  function switchTo(messageId, label) {
    if (!socketReady()) return;
    if (session.send({ type: "switch_version", message_id: messageId })) session.awaiting({ id: messageId, label });
  }

  return { send, stop, regenerate, edit, continueReply, remove, switchTo };
}
