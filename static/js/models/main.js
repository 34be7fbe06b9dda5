// Models page entry: Ollama's status, the installed and loaded models, copy and delete
// for staff, and pulls followed live over the models socket.

import { Backoff } from "../lib/backoff.js";
import { hideBanner, showBanner } from "../lib/banners.js";
import { onSessionEnded, sessionEnded, useSignInPage } from "../lib/http.js";
import { connect } from "../lib/socket.js";
import { call } from "./calls.js";
import { ModelDialogs } from "./dialogs.js";
import { Pulls } from "./pulls.js";
import { ModelTables } from "./tables.js";

const data = JSON.parse(document.getElementById("page-data").textContent);
const urls = data.urls;
const staff = Boolean(data.is_staff);

const REFRESH_MS = 15000;

useSignInPage(urls.login);

// While Ollama cannot be reached, ask again now and then; once it answers, the lists
// are fetched again and their banners clear.
const ollamaProbe = new Backoff(async () => {
  if (!(await loadStatus())) return false;
  await Promise.all([tables.loadInstalled(), tables.loadRunning()]);
  return true;
});

onSessionEnded(() => ollamaProbe.stop());

// True when Ollama answered.
async function loadStatus() {
  const status = document.getElementById("ollama-status");
  let reachable = false;
  try {
    const info = await call(urls.status);
    reachable = !!info.reachable;
    status.textContent = reachable
      ? `Ollama ${info.version || "(unknown version)"} at ${info.host} is running.`
      : `Cannot reach Ollama at ${info.host}. Is it running? Start it with “ollama serve”.`;
  } catch (err) {
    status.textContent = err.message;
  }
  status.classList.toggle("down", !reachable);
  if (!reachable) ollamaProbe.start();
  return reachable;
}

const dialogs = staff
  ? new ModelDialogs({
      urls,
      call,
      onCopied: () => tables.loadInstalled(),
      onDeleted: (name) => {
        tables.forget(name);
        return Promise.all([tables.loadInstalled(), tables.loadRunning()]);
      },
    })
  : null;

const tables = new ModelTables({
  urls,
  staff,
  call,
  onCopy: (name) => dialogs.openCopy(name),
  onDelete: (name) => dialogs.openDelete(name),
});

const pulls = new Pulls({
  staff,
  send: (frame) => socket.send(frame),
  onPulled: (model) => {
    tables.forget(model);
    tables.loadInstalled();
  },
});

const socket = connect(data.ws_path, {
  open() {
    hideBanner("socket");
  },
  frame: (frame) => pulls.frame(frame),
  drop() {
    showBanner("socket", "Lost the connection to the server; reconnecting…");
  },
  fatal(code) {
    if (code === 4401) sessionEnded();
  },
});

loadStatus();
tables.loadInstalled();
tables.loadRunning();
setInterval(async () => {
  if (!(await tables.loadRunning())) loadStatus();
}, REFRESH_MS);
