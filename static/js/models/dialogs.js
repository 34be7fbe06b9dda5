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
    $("copy-name").addEventListener("input", () => this.askedToReplace(""));
    $("delete-cancel").addEventListener("click", () => $("delete-dialog").close());
  }

  openCopy(name) {
    this.model = name;
    $("copy-source").textContent = name;
    const base = name.replace(/:latest$/, "");
    $("copy-name").value = `${base.replace(/:/g, "-")}-copy`;
    this.askedToReplace("");
    $("copy-dialog").showModal();
    $("copy-name").select();
  }

  // The server's question ("Replace llama3.2:latest with a copy of smollm2:135m?") and a Replace
  // button; a changed name asks nothing until the server asks again.
  askedToReplace(destination, question = "") {
    this.replacing = destination;
    showError("copy-error", question);
    $("copy-confirm").textContent = destination ? "Replace" : "Copy";
    $("copy-confirm").classList.toggle("danger", !!destination);
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
      // Replacing an installed model only once the server asked and the person said yes.
      await this.call(this.urls.copy, { source: this.model, destination, overwrite: this.replacing === destination });
    } catch (err) {
      if (err.code === "exists") this.askedToReplace(destination, err.message);
      else showError("copy-error", err.message);
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
