// The open conversation's socket: a sync after every (re)connect, what each frame from
// the server does to the page, and a new sync when a streaming reply goes quiet.

import { showBanner } from "../lib/banners.js";
import { announce } from "../lib/dom.js";
import { sessionEnded } from "../lib/http.js";
import { connect } from "../lib/socket.js";

// A reply streaming with no frame for this long may have lost frames: ask again.
const STALL_MS = 20000;

const DONE_TEXT = {
  complete: "Reply finished",
  stopped: "Reply stopped",
  interrupted: "Reply interrupted",
};

// session: the page's session (session.js); notice: the "reconnecting" line;
// loadModels() retries the model list; ollamaDown() watches for Ollama to come back.
// open() connects to the session's conversation.
export function conversationSocket(session, { notice, loadModels, ollamaDown }) {
  const { messages, composer, actions, earlier, tools } = session;
  const { sidebar, meter } = tools;
  const list = messages.list;

  function setTitle(title) {
    tools.setTitle(session.conversationId, title);
  }

  function sendSync() {
    if (!session.socket) return;
    session.syncPending = session.socket.send({ type: "sync", after: messages.newestFinalId() });
  }

  function resync() {
    if (!session.syncPending) sendSync();
  }

  function onHistory(frame) {
    const following = messages.stick;
    const focus = document.activeElement;
    const focusFree = !focus || focus === document.body || list.contains(focus);
    if (frame.reset) {
      messages.clear();
      earlier.afterReset(!!frame.has_more);
    }
    for (const msg of frame.messages || []) {
      // A streaming reply already on screen is refreshed by the snapshot that follows.
      if (msg.status === "streaming" && messages.isLive(msg.id)) continue;
      const known = !!messages.find(msg.id);
      messages.put(msg);
      const lost = session.unconfirmed;
      if (lost && !known && msg.role === "user" && msg.content === lost.content) {
        if (lost.kind !== "edit") composer.clearSent(lost);
        session.unconfirmed = null;
      }
    }
    const refocus = session.caughtUp(!!frame.reset);
    if (frame.reset) meter.update();
    session.refresh();
    session.flushPending();
    if (following) messages.scrollToBottom();
    // The list was replaced: focus goes back to the pager, or to the composer.
    if (frame.reset && focusFree && !list.contains(document.activeElement)) {
      if (!(refocus && actions.focusPager(refocus)) && focus && focus !== document.body) composer.focus();
    }
  }

  function onMessage(frame) {
    messages.put(frame.message);
    if ("title" in frame) setTitle(frame.title || "");
    sidebar.refreshSoon();
    const pending = session.pending;
    if (pending && frame.client_id === pending.clientId) {
      if (pending.kind === "edit") actions.editDone();
      else composer.clearSent(pending);
      session.delivered();
      composer.clearError();
      composer.structured.clearError();
      messages.scrollToBottom();
    } else {
      messages.follow();
    }
    session.refresh();
  }

  function onReply(frame) {
    const msg = frame.message;
    if (Array.isArray(frame.replaces) && frame.replaces.length) {
      actions.noteReplaces(msg, frame.replaces);
      if (messages.removeReplaced(frame.replaces)) composer.focus();
    }
    const reply = messages.startReply(msg, typeof frame.seq === "number" ? frame.seq : 0);
    announce(reply.empty ? "Loading model…" : "Replying…");
    session.replyStarted();
    messages.follow();
  }

  function onDelta(frame) {
    const reply = messages.reply(frame.message_id);
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
    messages.follow();
  }

  // A tool call began, waits for approval, or ended; or a note about the reply's tools.
  function onTool(frame) {
    const reply = messages.reply(frame.message_id);
    if (!reply) return;
    if (frame.type === "tool") reply.updateTool(frame.call);
    else reply.addNote(frame.text);
    messages.follow();
  }

  function onDone(frame) {
    const msg = frame.message;
    const article = messages.find(msg.id);
    const hadFocus = article && article.contains(document.activeElement);
    messages.finish(msg);
    if (msg.status === "error") announce(msg.error || "The reply failed.");
    else if (DONE_TEXT[msg.status]) announce(DONE_TEXT[msg.status]);
    if (hadFocus) composer.focus();
    session.replyEnded();
    messages.follow();
    meter.update();
  }

  function onError(frame) {
    const text = frame.message || "Something went wrong.";
    if (frame.message_id) {
      announce(text);
      if (frame.code === "unreachable") {
        showBanner("ollama", text, loadModels);
        ollamaDown();
      }
      return;
    }
    if (frame.code === "not_streaming") {
      announce(text);
      session.stopRefused();
      return;
    }
    session.refused();
    if (frame.code === "invalid_schema" && composer.structured.open) {
      composer.structured.showError(text); // an alert inside the panel
    } else {
      composer.showError(text);
    }
    session.refresh();
  }

  function onTitle(frame) {
    if (typeof frame.title === "string") setTitle(frame.title);
  }

  function onDeleted() {
    notice.hidden = true;
    if (!session.leaving) showBanner("gone", "This conversation was deleted.");
    sidebar.remove(session.conversationId);
    session.ended("deleted");
  }

  const HANDLERS = {
    history: onHistory,
    message: onMessage,
    reply: onReply,
    token: onDelta,
    thinking: onDelta,
    tool: onTool,
    note: onTool,
    done: onDone,
    error: onError,
    title: onTitle,
    deleted: onDeleted,
  };

  function open() {
    session.socket = connect(session.wsPath, {
      open() {
        notice.hidden = true;
        session.connected();
        sendSync();
        session.refresh();
      },
      frame(frame) {
        if (frame.type !== "pong") session.lastActivity = Date.now();
        const handler = HANDLERS[frame.type];
        if (handler) handler(frame);
      },
      drop() {
        session.disconnected();
        if (notice.hidden) announce("Connection lost. Trying to reconnect.");
        notice.hidden = false;
      },
      fatal(code) {
        if (session.deleted) return;
        notice.hidden = true;
        session.ended(code === 4401 ? "signed-out" : "missing");
        if (code === 4401) {
          sessionEnded();
          return;
        }
        showBanner("gone", "This conversation does not exist.");
      },
    });
  }

  // Frames can be lost in rare cases when several workers serve the socket.
  setInterval(() => {
    if (!session.ready) return;
    if (!messages.streaming) return;
    if (Date.now() - session.lastActivity < STALL_MS) return;
    session.lastActivity = Date.now();
    sendSync();
  }, 5000);

  window.addEventListener("online", () => session.socket && session.socket.nudge());
  window.addEventListener("pagehide", () => session.socket && session.socket.close());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && session.socket) session.socket.resume();
  });

  return { open };
}
