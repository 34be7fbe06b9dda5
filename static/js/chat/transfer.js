// The top bar's download menu (Markdown, JSON, zip) and the loading of a saved file, both
// loaded on first use: the page itself shows the download button and sets its links.

import { errorText, request } from "../lib/http.js";
import { PopupMenu } from "../lib/menu.js";

export class ExportMenu {
  constructor(button, menu) {
    this.popup = new PopupMenu(menu);
    this.popup.attach(button);
  }
}

// The file chosen with "Import conversation" (a .json or .zip export): a good file opens the
// new conversation.
export async function importChosen({ button, input, url, showError }) {
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
}
