// Copy and Delete on the Models page (staff only): their two dialogs and requests.

import { announce } from "../lib/dom.js";
import { showError } from "./view.js";

const $ = (id) => document.getElementById(id);

export class ModelDialogs {
  // call(url, body) from models-http.js; onCopied() and onDeleted(name) run after the server agreed.
  constructor({ urls, call, onCopied, onDeleted }) {
    this.urls = urls;
    this.call = call;
    this.onCopied = onCopied;
    this.onDeleted = onDeleted;
    this.model = ""; // the model the open dialog is about
    $("copy-form").addEventListener("submit", (event) => this.submitCopy(event));
    $("delete-form").addEventListener("submit", (event) => this.submitDelete(event));
    $("copy-cancel").addEventListener("click", () => $("copy-dialog").close());
    $("delete-cancel").addEventListener("click", () => $("delete-dialog").close());
  }

  openCopy(name) {
    this.model = name;
    $("copy-source").textContent = name;
    const base = name.replace(/:latest$/, "");
    $("copy-name").value = `${base.replace(/:/g, "-")}-copy`;
    showError("copy-error", "");
    $("copy-dialog").showModal();
    $("copy-name").select();
  }

  openDelete(name) {
    this.model = name;
    $("delete-name").textContent = name;
    showError("delete-error", "");
    $("delete-dialog").showModal();
    $("delete-cancel").focus();
  }

  async submitCopy(event) {
    event.preventDefault();
    const destination = $("copy-name").value.trim();
    if (!destination) {
      showError("copy-error", "Give the copy a name.");
      return;
    }
    const confirm = $("copy-confirm");
    confirm.disabled = true;
    try {
      await this.call(this.urls.copy, { source: this.model, destination });
    } catch (err) {
      showError("copy-error", err.message);
      return;
    } finally {
      confirm.disabled = false;
    }
    $("copy-dialog").close();
    announce(`${this.model} was copied to ${destination}.`);
    await this.onCopied();
  }

  async submitDelete(event) {
    event.preventDefault();
    const confirm = $("delete-confirm");
    confirm.disabled = true;
    const name = this.model;
    try {
      await this.call(this.urls.delete, { model: name });
    } catch (err) {
      showError("delete-error", err.message);
      return;
    } finally {
      confirm.disabled = false;
    }
    $("delete-dialog").close();
    announce(`${name} was deleted.`);
    await this.onDeleted(name);
  }
}
