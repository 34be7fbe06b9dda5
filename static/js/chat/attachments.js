// Composer images: picked, dropped or pasted, uploaded at once, shown as removable thumbnails;
// removing one takes the upload back on the server.

import { el } from "../lib/dom.js";
import { errorText, request } from "../lib/http.js";

export const ACCEPTED = ["image/png", "image/jpeg", "image/webp", "image/gif"];

function megabytes(bytes) {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function localUrl(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : "";
}

export class Attachments {
  // onChange() after any change; onErrors(list of texts) after each batch of files.
  constructor(list, { uploadUrl, maxImages, maxBytes, onChange, onErrors }) {
    this.list = list;
    this.uploadUrl = uploadUrl;
    this.maxImages = maxImages || 4;
    this.maxBytes = maxBytes || 10 * 1024 * 1024;
    this.onChange = onChange;
    this.onErrors = onErrors;
    this.items = []; // {id, node}, id null while uploading
    this._locked = false;
  }

  // While locked (a message carrying these images is on its way), Remove is off.
  set locked(value) {
    this._locked = value;
    for (const button of this.list.querySelectorAll(".attachment-remove")) button.disabled = value;
  }

  get count() {
    return this.items.length;
  }

  get uploading() {
    return this.items.some((item) => !item.id);
  }

  get ids() {
    return this.items.filter((item) => item.id).map((item) => item.id);
  }

  // Check and upload files; each problem is reported, the others still go.
  async add(files) {
    const errors = [];
    const uploads = [];
    for (const file of files) {
      const name = file.name ? `“${file.name}”` : "The pasted image";
      if (file.type && !ACCEPTED.includes(file.type)) {
        errors.push(`${name} is not a PNG, JPEG, WebP or GIF image.`);
      } else if (file.size > this.maxBytes) {
        errors.push(`${name} is ${megabytes(file.size)}; images may be at most ${megabytes(this.maxBytes)}.`);
      } else if (this.items.length >= this.maxImages) {
        errors.push(`${name} was not added: a message can carry at most ${this.maxImages} images.`);
      } else {
        uploads.push(this.upload(file, name));
      }
    }
    this.onErrors(errors);
    if (!uploads.length) return;
    this.changed();
    const failed = (await Promise.all(uploads)).filter(Boolean);
    if (failed.length) this.onErrors([...errors, ...failed]);
  }

  // Resolves to an error text, or null once the thumbnail is shown.
  async upload(file, name) {
    const item = { id: null, node: el("li", "attachment uploading") };
    item.node.append(el("span", "attachment-status", "Uploading…"));
    item.node.setAttribute("aria-busy", "true");
    this.items.push(item);
    this.list.append(item.node);
    const form = new FormData();
    form.append("file", file, file.name || "pasted-image");
    const { status, body, lost } = await request(this.uploadUrl, { method: "POST", form });
    if (!this.items.includes(item)) {
      if (status === 201 && body && body.id) this.takeBack(body.id); // removed meanwhile
      return null;
    }
    const thumb = body && (localUrl(body.thumbnail_url) || localUrl(body.url));
    if (status !== 201 || !thumb || !body.id) {
      this.drop(item);
      if (!status) return `${name} could not be uploaded: the server cannot be reached.`;
      if (lost) return "Your session has ended: sign in again to attach images.";
      return errorText(body, `${name} could not be uploaded (HTTP ${status}).`);
    }
    item.id = body.id;
    item.node.classList.remove("uploading");
    item.node.removeAttribute("aria-busy");
    const img = el("img");
    img.src = thumb;
    img.alt = file.name || "Pasted image";
    const remove = el("button", "attachment-remove", "Remove");
    remove.type = "button";
    remove.setAttribute("aria-label", `Remove ${img.alt}`);
    remove.disabled = this._locked;
    remove.addEventListener("click", () => {
      this.drop(item);
      this.changed();
      this.takeBack(item.id);
    });
    item.node.replaceChildren(img, remove);
    this.changed();
    return null;
  }

  // Ask the server to delete an upload that will not be sent. Nothing waits for the answer:
  // a failure leaves an unsent upload, which the server removes once it is a day old.
  takeBack(id) {
    const base = this.uploadUrl.endsWith("/") ? this.uploadUrl : `${this.uploadUrl}/`;
    request(`${base}${encodeURIComponent(id)}/remove/`, { method: "POST" });
  }

  drop(item) {
    const index = this.items.indexOf(item);
    if (index < 0) return;
    const focused = item.node.contains(document.activeElement);
    this.items.splice(index, 1);
    item.node.remove();
    if (focused) (this.list.querySelector("button") || document.getElementById("message")).focus();
    this.changed();
  }

  // After the message carrying them arrived: drop the images that were sent.
  forget(ids) {
    for (const item of this.items.filter((i) => i.id && ids.includes(i.id))) this.drop(item);
  }

  changed() {
    this.list.hidden = !this.items.length;
    this.onChange();
  }

  // File picker, drag and drop onto `zone`, and pasting into `pasteTarget`.
  wire({ button, input, zone, dropArea, pasteTarget }) {
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      const files = [...input.files];
      input.value = "";
      if (files.length) this.add(files);
    });
    const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
    // Files dropped anywhere on the conversation are attached (the composer box lights up);
    // elsewhere on the page they are refused, rather than the browser leaving the chat to open them.
    dropArea.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("dropping");
    });
    dropArea.addEventListener("dragleave", (event) => {
      if (!dropArea.contains(event.relatedTarget)) zone.classList.remove("dropping");
    });
    dropArea.addEventListener("drop", (event) => {
      zone.classList.remove("dropping");
      if (!hasFiles(event)) return;
      event.preventDefault();
      this.add([...event.dataTransfer.files]);
    });
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (event) => {
        if (!hasFiles(event) || event.defaultPrevented) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "none";
      });
    }
    pasteTarget.addEventListener("paste", (event) => {
      const data = event.clipboardData;
      const files = data ? [...data.files].filter((file) => file.type.startsWith("image/")) : [];
      if (!files.length) return;
      if (!data.types.includes("text/plain")) event.preventDefault();
      this.add(files);
    });
  }
}
