// The tools around the chat: the sidebar with its actions and file loading, the download
// menu, the settings dialog and the context meter, pointed at the open conversation.
// The item menus, the download menu, file loading and the settings dialog load on first use.

import { lazy } from "../lib/lazy.js";
import { ContextMeter } from "./context-meter.js";
import { lastModel } from "./model-picker.js";
import { Sidebar } from "./sidebar.js";

const $ = (id) => document.getElementById(id);

const settingsModule = lazy(() => import("./settings.js"));
const actionsModule = lazy(() => import("./sidebar-actions.js"));
const transferModule = lazy(() => import("./transfer.js"));

// A menu button's keys that open its menu, as PopupMenu.attach has them.
const MENU_KEYS = new Set(["ArrowDown", "ArrowUp"]);

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

  // The Rename / Pin / Delete menu: its module wires the item buttons once loaded; until
  // then a click or an arrow key on one loads it and opens the menu.
  let conversationActions = null;
  const itemActions = () =>
    actionsModule(({ ConversationActions }) => {
      conversationActions ||= new ConversationActions(sidebar, {
        menu: $("conversation-menu"),
        dialog: $("delete-dialog"),
        onRenamed: (id, title) => setTitle(id, title),
        onDeleted: (id) => {
          if (id !== currentId()) return;
          onLeave();
          location.assign("/");
        },
      });
      return conversationActions;
    });
  sidebar.host.addEventListener("click", (event) => {
    const button = event.target.closest(".conv-menu-button");
    if (button && !conversationActions) itemActions().then((actions) => actions && actions.popup.toggle(button));
  });
  sidebar.host.addEventListener("keydown", (event) => {
    const button = event.target.closest(".conv-menu-button");
    if (!button || conversationActions || !MENU_KEYS.has(event.key)) return;
    event.preventDefault();
    itemActions().then((actions) => actions && actions.popup.open(button, event.key === "ArrowUp"));
  });

  // "Import conversation": the file picker opens at once; the upload's code loads with the file.
  const importButton = $("import-button");
  const importInput = $("import-input");
  importButton.addEventListener("click", () => importInput.click());
  importInput.addEventListener("change", () =>
    transferModule(({ importChosen }) =>
      importChosen({ button: importButton, input: importInput, url: data.import_url, showError: (text) => sidebar.showError(text) }),
    ),
  );

  // The download menu: shown with a conversation; its popup loads on first use.
  const exportButton = $("export-button");
  const exportLinks = $("export-menu");
  let exportMenu = null;
  const downloads = () =>
    transferModule(({ ExportMenu }) => {
      exportMenu ||= new ExportMenu(exportButton, exportLinks);
      return exportMenu;
    });
  exportButton.addEventListener("click", () => {
    if (!exportMenu) downloads().then((menu) => menu && menu.popup.toggle(exportButton));
  });
  exportButton.addEventListener("keydown", (event) => {
    if (exportMenu || !MENU_KEYS.has(event.key)) return;
    event.preventDefault();
    downloads().then((menu) => menu && menu.popup.open(exportButton, event.key === "ArrowUp"));
  });

  const meter = new ContextMeter({
    box: $("context"),
    meter: $("context-meter"),
    text: $("context-text"),
    warning: $("context-warning"),
  });

  // The settings dialog: built when first opened, then kept (with a new chat's settings).
  let settings = null;
  let settingsUrl = null;
  const settingsDialog = () =>
    settingsModule(({ SettingsDialog }) => {
      if (settings) return settings;
      settings = new SettingsDialog({
        dialog: $("settings-dialog"),
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
      settings.setConversation(settingsUrl);
      return settings;
    });
  $("settings-button").addEventListener("click", () => settingsDialog().then((dialog) => dialog && dialog.open()));

  $("new-chat").addEventListener("click", () => location.assign("/"));

  // Point the per-conversation tools at a conversation ("/c/<id>/"), or at none.
  function useConversation(url) {
    exportButton.hidden = !url;
    for (const link of exportLinks.querySelectorAll("a[data-kind]")) {
      link.href = url ? `${url}export.${link.dataset.kind}` : "#";
    }
    if (!url && exportMenu) exportMenu.popup.close(false);
    settingsUrl = url ? `${url}settings/` : null;
    if (settings) settings.setConversation(settingsUrl);
    meter.setUrl(url ? `${url}context/` : null);
  }

  // What a chat not created yet is to be created with: nothing unless its settings were set.
  const newChatSettings = () => (settings ? settings.newChatSettings() : null);

  return { sidebar, meter, setTitle, useConversation, newChatSettings };
}
