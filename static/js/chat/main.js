// Chat page entry: builds the composer, the message list, the session that owns the page's
// state (session.js), the conversation socket and the sending of messages, with the
// sidebar, settings, downloads, versions and context meter.

import { Backoff } from "../lib/backoff.js";
import { hideBanner, showBanner } from "../lib/banners.js";
import { announce } from "../lib/dom.js";
import { onSessionEnded, useSignInPage } from "../lib/http.js";
import { Composer } from "./composer.js";
import { conversationSocket } from "./conversation-socket.js";
import { EarlierMessages } from "./earlier.js";
import { setupJumpToLatest } from "./jump-latest.js";
import { MessageList } from "./message-list.js";
import { ModelPicker } from "./model-picker.js";
import { setupTools } from "./page-tools.js";
import { setupSending } from "./sending.js";
import { ChatSession } from "./session.js";
import { storeTimeZone } from "./sidebar-items.js";
import { onAnswer, ToolPicker } from "./tools.js";
import { MessageActions } from "./message-actions.js";
import { setupShortcuts } from "./shortcuts.js";

const data = JSON.parse(document.getElementById("page-data").textContent);
useSignInPage(data.login_url);
const $ = (id) => document.getElementById(id);

const list = $("messages");
const scroller = $("scroller");
const emptyState = $("empty-state");

const picker = new ModelPicker($("model"), data.models_url, data.model, {
  filter: $("model-filter"),
  filterStatus: $("model-filter-status"),
});

const composer = new Composer({
  data,
  picker,
  onSend: () => sending.send(),
  onStop: () => sending.stop(),
});

const actions = new MessageActions(
  list,
  {
    regenerate: (replyId, model) => sending.regenerate(replyId, model),
    edit: (content, questionId) => sending.edit(content, questionId),
    switchTo: (messageId, label) => sending.switchTo(messageId, label),
    continueReply: (replyId) => sending.continueReply(replyId),
    remove: (messageId) => sending.remove(messageId),
    models: () => picker.choices(),
  },
  { modelMenu: $("regenerate-menu"), deleteDialog: $("delete-message-dialog") },
);

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

setupJumpToLatest(messages, { onJump: () => composer.focus() });

// ---------- sidebar, settings, downloads, context ----------

const tools = setupTools({
  data,
  picker,
  currentId: () => session.conversationId,
  onLeave: () => session.leave(),
});

// The tools a model may call: the composer's control, for the conversation on screen.
const toolPicker = new ToolPicker({
  button: $("tools-toggle"),
  panel: $("tools-panel"),
  picker,
  toolsUrl: data.tools_url,
  choiceUrl: () => (session.conversationUrl ? `${session.conversationUrl}tools/` : null),
});

const session = new ChatSession(
  { conversationId: data.conversation_id, conversationUrl: $("app").dataset.conversationUrl, wsPath: data.ws_path },
  { messages, composer, actions, earlier, tools, toolPicker, emptyState },
);

onSessionEnded(() => session.ended("signed-out"));

// Allow / Deny on a tool call that asks first: any tab of the owner may answer.
onAnswer((callId, allow) => session.send({ type: allow ? "approve" : "deny", call_id: callId }));

// ---------- models ----------

let modelsLoading = null;

// While Ollama cannot be reached, ask again now and then: the banner clears by itself.
const ollamaProbe = new Backoff(() => loadModels());

function loadModels() {
  if (modelsLoading) return modelsLoading;
  modelsLoading = refreshModels().finally(() => {
    modelsLoading = null;
  });
  return modelsLoading;
}

// True when the model list came (the probe stops then).
async function refreshModels() {
  const result = await picker.load();
  if (result.login) return true; // request() has shown that the session ended
  if (result.error) {
    showBanner("ollama", result.error, loadModels);
    ollamaProbe.start();
  } else if (result.empty) {
    showBanner("ollama", "No chat models installed. Pull one with `ollama pull llama3.2`.", loadModels);
  } else if (hideBanner("ollama")) {
    composer.focus();
  }
  composer.checkVision();
  toolPicker.refresh();
  return !result.error;
}

// ---------- the socket and sending ----------

const socket = conversationSocket(session, {
  notice: $("conn-notice"),
  loadModels,
  ollamaDown: () => ollamaProbe.start(),
});

const sending = setupSending(session, {
  newUrl: data.new_url,
  picker,
  modelsLoading: () => modelsLoading,
  openSocket: () => socket.open(),
  toolChoice: () => toolPicker.newChatChoice(),
  newChatSettings: () => tools.newChatSettings(),
});

setupShortcuts({ session, actions, sending, dialog: $("shortcuts-dialog"), openButton: $("shortcuts-button") });

// ---------- start ----------

session.use(session.conversationUrl);
earlier.reset(session.conversationUrl ? `${session.conversationUrl}messages/` : null, data.has_more);
for (const msg of data.messages || []) messages.put(msg);
session.refresh();
messages.scrollToBottom();
composer.focus();
loadModels();
if (session.conversationId && session.wsPath) socket.open();
tools.meter.update();
if (storeTimeZone()) tools.sidebar.refresh();
requestAnimationFrame(() => earlier.check());
