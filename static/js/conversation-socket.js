// The open conversation's socket: a sync after every (re)connect, what each frame from
// the server does to the page, and a new sync when a streaming reply goes quiet.

import { connect } from "./socket.js";
import { announce, showBanner } from "./ui.js";

// A reply streaming with no frame for this long may have lost frames: ask again.
const STALL_MS = 20000;

const DONE_TEXT = {
  complete: "Reply finished",
  stopped: "Reply stopped",
  interrupted: "Reply interrupted",
};

// state is the chat page's shared state (chat.js); open() connects to state.wsPath.
export function conversationSocket({
  state,
  messages,
  composer,
  actions,
  earlier,
  tools,
  notice,
  refresh,
  flushPending,
  loadModels,
  useConversation,
  goToLogin,
}) {
  const { sidebar, meter } = tools;
  const list = messages.list;

  function setTitle(title) {
    tools.setTitle(state.conversationId, title);
  }

  function sendSync() {
    if (!state.socket) return;
    state.syncPending = state.socket.send({ type: "sync", after: messages.newestFinalId() });
  }

  function resync() {
    if (!state.syncPending) sendSync();
  }

  function onHistory(frame) {
    state.syncPending = false;
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
      const lost = state.unconfirmed;
      if (lost && !known && msg.role === "user" && msg.content === lost.content) {
        if (lost.kind !== "edit") composer.clearSent(lost);
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
    const pending = state.pending;
    if (pending && frame.client_id === pending.clientId) {
      if (pending.kind === "edit") actions.editDone();
      else composer.clearSent(pending);
      state.pending = null;
      composer.clearError();
      composer.structured.clearError();
      messages.scrollToBottom();
    } else {
      messages.follow();
    }
    refresh();
  }

  function onReply(frame) {
    const msg = frame.message;
    if (Array.isArray(frame.replaces) && frame.replaces.length) {
      actions.noteReplaces(msg, frame.replaces);
      if (messages.removeReplaced(frame.replaces)) composer.focus();
    }
    state.waiting = false;
    const reply = messages.startReply(msg, typeof frame.seq === "number" ? frame.seq : 0);
    announce(reply.empty ? "Loading model…" : "Replying…");
    refresh();
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
    state.stopping = false;
    if (msg.status === "error") announce(msg.error || "The reply failed.");
    else if (DONE_TEXT[msg.status]) announce(DONE_TEXT[msg.status]);
    if (hadFocus) composer.focus();
    refresh();
    messages.follow();
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
    if (state.pending && state.pending.kind === "edit") actions.editFailed();
    state.pending = null;
    state.waiting = false;
    state.refocus = null;
    if (frame.code === "invalid_schema" && composer.structured.open) {
      composer.structured.showError(text); // an alert inside the panel
    } else {
      composer.showError(text);
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
    notice.hidden = true;
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
    tool: onTool,
    note: onTool,
    done: onDone,
    error: onError,
    title: onTitle,
    deleted: onDeleted,
  };

  function open() {
    state.socket = connect(state.wsPath, {
      open() {
        notice.hidden = true;
        state.synced = false;
        if (state.pending && state.pending.sent) {
          // An edit lost with the connection can be sent again from its form.
          if (state.pending.kind === "edit") actions.editFailed();
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
        if (notice.hidden) announce("Connection lost. Trying to reconnect.");
        notice.hidden = false;
      },
      fatal(code) {
        if (state.deleted) return;
        notice.hidden = true;
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
    if (!messages.streaming) return;
    if (Date.now() - state.lastActivity < STALL_MS) return;
    state.lastActivity = Date.now();
    sendSync();
  }, 5000);

  window.addEventListener("online", () => state.socket && state.socket.nudge());
  window.addEventListener("pagehide", () => state.socket && state.socket.close());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && state.socket) state.socket.resume();
  });

  return { open };
}
