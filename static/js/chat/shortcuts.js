// Keyboard shortcuts, listed in a dialog opened with "?" (or the sidebar's Shortcuts button):
// Esc stops the reply, Ctrl/Cmd+Shift+O starts a new chat, Ctrl/Cmd+K searches the
// conversations, ↑ in an empty message box edits the last message, Ctrl/Cmd+Shift+C copies
// the last reply.

const $ = (id) => document.getElementById(id);

// Typing in a field: "?" and the arrows belong to it.
function typing(target) {
  return !!target.closest && !!target.closest("input, textarea, select, [contenteditable]");
}

export function setupShortcuts({ session, actions, sending, dialog, openButton }) {
  const input = $("message");
  const search = $("conversation-search");

  function openHelp() {
    if (!dialog.open) dialog.showModal();
  }

  // The search field is in the sidebar, which is off screen on a phone until shown.
  function focusSearch() {
    const toggle = $("sidebar-toggle");
    if (!search.checkVisibility({ visibilityProperty: true }) && toggle && toggle.getAttribute("aria-expanded") !== "true") toggle.click();
    search.focus();
    search.select();
  }

  openButton.addEventListener("click", openHelp);

  input.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowUp" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    if (input.value !== "") return;
    if (actions.editLast()) event.preventDefault();
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing) return;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    if (mod && event.shiftKey && key === "o") {
      event.preventDefault();
      $("new-chat").click();
    } else if (mod && !event.shiftKey && key === "k") {
      event.preventDefault();
      focusSearch();
    } else if (mod && event.shiftKey && key === "c") {
      // Text selected on the page is copied as the browser would.
      if (String(window.getSelection() || "")) return;
      event.preventDefault();
      actions.copyLastReply();
    } else if (event.key === "Escape") {
      // Dialogs, menus and the edit box take their own Escape first.
      if (document.querySelector("dialog[open], :popover-open")) return;
      if (session.messages.streaming && !session.stopping) {
        event.preventDefault();
        sending.stop();
      }
    } else if (event.key === "?" && !mod && !event.altKey && !typing(event.target) && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      openHelp();
    }
  });
}
