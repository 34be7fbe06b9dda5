// The chat page's session: the open conversation and what is under way in it (the message
// on its way, a new chat being created, Stop, a regenerate or version switch awaiting its
// answer, the socket's sync), changed only through named transitions, each of which sets
// the controls in one place (refresh).

export class ChatSession {
  // parts: the page's pieces a transition updates (messages, composer, actions, earlier,
  // tools, toolPicker, emptyState).
  constructor({ conversationId, conversationUrl, wsPath }, parts) {
    Object.assign(this, parts);
    this.conversationId = conversationId || null;
    this.conversationUrl = conversationUrl || null; // "/c/<id>/"
    this.wsPath = wsPath || null;
    this.socket = null;
    this.synced = false;
    this.syncPending = false;
    this.pending = null; // {kind, clientId, content, model, images, format, sent, messageId}
    this.unconfirmed = null; // a sent message whose echo was lost with the connection
    this.creating = false;
    this.stopping = false;
    this.dead = false;
    this.deleted = false; // the conversation was deleted (here or elsewhere)
    this.leaving = false;
    this.waiting = false; // a regenerate or switch_version frame awaits its answer
    this.refocus = null; // the pager button to focus again once the versions are swapped
    this.lastActivity = Date.now();
  }

  // The controls, from the state: Send, Stop, the message actions and the empty state.
  refresh() {
    const streaming = this.messages.streaming;
    this.composer.update({
      sendDisabled: !!this.pending || this.creating || this.dead,
      streaming,
      stopDisabled: !streaming || this.stopping || this.dead,
      locked: !!this.pending,
    });
    this.emptyState.hidden = !this.messages.empty || this.dead;
    const busy = streaming || !!this.pending || this.creating || this.dead || this.waiting || !this.synced;
    this.actions.update({ busy });
  }

  // Frames can go: the socket is open, synced, and the conversation still there.
  get ready() {
    return !!this.socket && this.synced && !this.dead;
  }

  send(frame) {
    return !!this.socket && this.socket.send(frame);
  }

  // Point the page's tools at a conversation ("/c/<id>/"), or at none.
  use(url) {
    this.conversationUrl = url;
    this.tools.useConversation(url);
    this.toolPicker.reset(); // the Tools control follows: this conversation's, or a new chat's
  }

  // ---------- a new conversation ----------

  creatingStarted() {
    this.creating = true;
    this.refresh();
  }

  creatingEnded() {
    this.creating = false;
    this.refresh();
  }

  // The server made the conversation: {id, url, ws_path}.
  opened(conversation) {
    this.conversationId = conversation.id;
    this.wsPath = conversation.ws_path;
    this.use(conversation.url);
    this.earlier.reset(`${conversation.url}messages/`, false);
  }

  // ---------- what the page sends ----------

  // A message (or an edit) waits here until the socket has synced, and goes once.
  queued(pending) {
    this.pending = pending;
    this.refresh();
  }

  unqueued() {
    this.pending = null;
    this.refresh();
  }

  flushPending() {
    const pending = this.pending;
    if (!pending || pending.sent || !this.synced || !this.socket) return;
    const frame = { type: pending.kind || "chat", content: pending.content, client_id: pending.clientId };
    if (pending.model) frame.model = pending.model;
    if (pending.images.length) frame.images = pending.images;
    if (pending.format !== undefined) frame.format = pending.format;
    if (pending.messageId) frame.message_id = pending.messageId;
    pending.sent = this.socket.send(frame);
  }

  // The server echoed the message the page sent: it is no longer pending.
  delivered() {
    this.pending = null;
  }

  stopRequested() {
    this.stopping = true;
    this.refresh();
  }

  stopRefused() {
    this.stopping = false;
    this.refresh();
  }

  // A regenerate, continue, delete or switch_version frame went; refocus ({id, label}) is the
  // pager button to focus after.
  awaiting(refocus) {
    this.waiting = true;
    if (refocus !== undefined) this.refocus = refocus;
    this.refresh();
  }

  // The server refused what the page sent.
  refused() {
    if (this.pending && this.pending.kind === "edit") this.actions.editFailed();
    this.pending = null;
    this.waiting = false;
    this.refocus = null;
  }

  // ---------- replies ----------

  replyStarted() {
    this.waiting = false;
    this.refresh();
  }

  replyEnded() {
    this.stopping = false;
    this.refresh();
  }

  // ---------- the socket ----------

  // A (re)connection: what was sent on the old one may be lost; a sync follows.
  connected() {
    this.synced = false;
    if (this.pending && this.pending.sent) {
      // An edit lost with the connection can be sent again from its form.
      if (this.pending.kind === "edit") this.actions.editFailed();
      this.unconfirmed = this.pending;
      this.pending = null;
    }
    this.stopping = false;
    this.waiting = false;
    this.refocus = null;
  }

  disconnected() {
    this.synced = false;
    this.syncPending = false;
  }

  // A history frame arrived; reset: the whole list was replaced. Returns the pager
  // button to focus again, if any.
  caughtUp(reset) {
    this.syncPending = false;
    this.unconfirmed = null;
    this.synced = true;
    const refocus = this.refocus;
    if (reset) {
      this.waiting = false;
      this.refocus = null;
    }
    return refocus;
  }

  // ---------- the end ----------

  // The page is about to leave a conversation deleted from its own sidebar.
  leave() {
    this.leaving = true;
  }

  // The conversation is over for this page: "deleted", or refused by the socket
  // ("signed-out", "missing").
  ended(reason) {
    if (reason === "deleted") {
      this.deleted = true;
      if (this.socket) this.socket.close();
    }
    this.dead = true;
    this.pending = null;
    if (reason === "deleted") {
      this.use(null);
      this.earlier.reset(null, false);
    }
    this.refresh();
  }
}
