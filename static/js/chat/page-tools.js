// The tools around the chat: the sidebar with its actions and file loading, the download
// menu, the settings dialog and the context meter, pointed at the open conversation.

import { ContextMeter } from "./context-meter.js";
import { lastModel } from "./model-picker.js";
import { SettingsDialog } from "./settings.js";
import { ConversationActions } from "./sidebar-actions.js";
import { Sidebar } from "./sidebar.js";
import { ExportMenu, wireImport } from "./transfer.js";

const $ = (id) => document.getElementById(id);

// currentId() is the open conversation's id; onLeave() runs before leaving a deleted one.
export function setupTools({ data, picker, currentId, onLeave }) {
  const titleEl = $("chat-title");
  const picked = () => picker.names().filter(Boolean);

  const sidebar = new Sidebar({
    app: $("app"),
    host: $("conversation-groups"),
    empty: $("conversation-empty"),
    search: $("conversation-search"),
    error: $("sidebar-error"),
    toggle: $("sidebar-toggle"),
    backdrop: $("backdrop"),
    close: $("sidebar-close"),
    main: document.querySelector(".main"),
    searchUrl: data.search_url,
    currentId: data.conversation_id,
  });

  function setTitle(id, title) {
    sidebar.setTitle(id, title);
    if (id !== currentId()) return;
    titleEl.textContent = title || "New chat";
    document.title = title || "Chat";
  }

  new ConversationActions(sidebar, {
    menu: $("conversation-menu"),
    dialog: $("delete-dialog"),
    onRenamed: (id, title) => setTitle(id, title),
    onDeleted: (id) => {
      if (id !== currentId()) return;
      onLeave();
      location.assign("/");
    },
  });

  wireImport({
    button: $("import-button"),
    input: $("import-input"),
    url: data.import_url,
    showError: (text) => sidebar.showError(text),
  });

  const exportMenu = new ExportMenu($("export-button"), $("export-menu"));

  const meter = new ContextMeter({
    box: $("context"),
    meter: $("context-meter"),
    text: $("context-text"),
    warning: $("context-warning"),
  });

  const settings = new SettingsDialog({
    dialog: $("settings-dialog"),
    openButton: $("settings-button"),
    defaultsUrl: data.defaults_url,
    models: picked,
    onSaved: (saved, isDefaults) => {
      let model = null;
      if (!isDefaults) {
        model = saved.model;
        if (model) picker.conversationModel = model;
      } else if (!currentId()) {
        // A new chat starts on the default model, or, with none, on the last one used.
        // (On an open conversation the defaults are for the next new chat only.)
        picker.conversationModel = saved.model || null;
        model = saved.model || lastModel();
      }
      if (model && picked().includes(model)) picker.choose(model);
      meter.update();
    },
  });

  $("new-chat").addEventListener("click", () => location.assign("/"));

  // Point the per-conversation tools at a conversation ("/c/<id>/"), or at none.
  function useConversation(url) {
    exportMenu.setConversation(url);
    settings.setConversation(url ? `${url}settings/` : null);
    meter.setUrl(url ? `${url}context/` : null);
  }

  return { sidebar, meter, setTitle, useConversation, newChatSettings: () => settings.newChatSettings() };
}
