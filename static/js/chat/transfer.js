// The top bar's download menu (Markdown, JSON, zip) and the sidebar's button that loads a saved file.

import { errorText, request } from "../lib/http.js";
import { PopupMenu } from "../lib/menu.js";

export class ExportMenu {
  constructor(button, menu) {
    this.button = button;
    this.menu = menu;
    this.popup = new PopupMenu(menu);
    this.popup.attach(button);
  }

  // url: the conversation's address (/c/<id>/), or null to hide the menu.
  setConversation(url) {
    this.button.hidden = !url;
    for (const link of this.menu.querySelectorAll("a[data-kind]")) {
      link.href = url ? `${url}export.${link.dataset.kind}` : "#";
    }
    if (!url) this.popup.close(false);
  }
}

// The "Import conversation" button opens a file picker (a .json or .zip export); a good file
// opens the new conversation.
export function wireImport({ button, input, url, showError }) {
  button.addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    const file = input.files && input.files[0];
    input.value = "";
    if (!file) return;
    showError("");
    button.disabled = true;
    button.textContent = "Importing…";
    const form = new FormData();
    form.append("file", file);
    const { status, body } = await request(url, { method: "POST", form });
    button.disabled = false;
    button.textContent = "Import conversation";
    if (status === 201 && body && typeof body.url === "string" && body.url.startsWith("/")) {
      location.assign(body.url);
      return;
    }
    showError(errorText(body, status ? `Could not import “${file.name}” (HTTP ${status}).` : "Could not reach the server."));
    button.focus();
  });
}
