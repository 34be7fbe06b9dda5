// Chat page entry: builds the composer, the message list, the conversation socket and
// the sending of messages, with the sidebar, settings, downloads, versions and context meter.

import { Composer } from "./composer.js";
import { conversationSocket } from "./conversation-socket.js";
import { EarlierMessages } from "./earlier.js";
import { MessageList } from "./message-list.js";
import { ModelPicker } from "./models.js";
import { setupTools } from "./page-tools.js";
import { setupSending } from "./sending.js";
import { storeTimeZone } from "./sidebar.js";
import { onAnswer, ToolPicker } from "./tools.js";
import { announce, hideBanner, showBanner } from "./ui.js";
import { MessageActions } from "./versions.js";

const data = JSON.parse(document.getElementById("page-data").textContent);
const $ = (id) => document.getElementById(id);

const list = $("messages");
const scroller = $("scroller");
const emptyState = $("empty-state");

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

const picker = new ModelPicker($("model"), data.models_url, data.model);

const composer = new Composer({
  data,
  picker,
  onSend: () => sending.send(),
  onStop: () => sending.stop(),
});

const actions = new MessageActions(list, {
  regenerate: () => sending.regenerate(),
  edit: (content) => sending.edit(content),
  switchTo: (messageId, label) => sending.switchTo(messageId, label),
});

const earlier = new EarlierMessages({
  scroller,
  list,
  row: $("loading-earlier"),
  render: (msg) => messages.render(msg),
  onError: (text) => announce(text),
});

const messages = new MessageList({
  list,
  scroller,
  decorate: (article, msg) => actions.decorate(article, msg),
});

function goToLogin() {
  const next = location.pathname + location.search;
  location.assign(`${data.login_url}?next=${encodeURIComponent(next)}`);
}

function refresh() {
  const streaming = messages.streaming;
  composer.update({
    sendDisabled: streaming || !!state.pending || state.creating || state.dead,
    stopDisabled: !streaming || state.stopping || state.dead,
    locked: !!state.pending,
  });
  emptyState.hidden = !messages.empty || state.dead;
  const busy = streaming || !!state.pending || state.creating || state.dead || state.waiting || !state.synced;
  actions.update({ busy });
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

const toolPicker = new ToolPicker({
  button: $("tools-toggle"),
  panel: $("tools-panel"),
  picker,
  toolsUrl: data.tools_url,
  choiceUrl: () => (state.conversationUrl ? `${state.conversationUrl}tools/` : null),
});

// Allow / Deny on a tool call that asks first: any tab of the owner may answer.
onAnswer((callId, allow) => {
  if (state.socket) state.socket.send({ type: allow ? "approve" : "deny", call_id: callId });
});

function useConversation(url) {
  state.conversationUrl = url;
  tools.useConversation(url);
  toolPicker.reset();
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
    composer.focus();
  }
  composer.checkVision();
  toolPicker.refresh();
}

// ---------- the socket and sending ----------

const socket = conversationSocket({
  state,
  messages,
  composer,
  actions,
  earlier,
  tools,
  notice: $("conn-notice"),
  refresh,
  flushPending: () => sending.flushPending(),
  loadModels,
  useConversation,
  goToLogin,
});

const sending = setupSending({
  data,
  state,
  picker,
  composer,
  messages,
  tools,
  earlier,
  refresh,
  modelsLoading: () => modelsLoading,
  useConversation,
  openSocket: () => socket.open(),
  toolChoice: () => toolPicker.newChatChoice(),
  goToLogin,
});

// ---------- start ----------

useConversation(state.conversationUrl);
earlier.reset(state.conversationUrl ? `${state.conversationUrl}messages/` : null, data.has_more);
for (const msg of data.messages || []) messages.put(msg);
refresh();
messages.scrollToBottom();
composer.focus();
loadModels();
if (state.conversationId && state.wsPath) socket.open();
tools.meter.update();
if (storeTimeZone()) tools.sidebar.refresh();
requestAnimationFrame(() => earlier.check());
