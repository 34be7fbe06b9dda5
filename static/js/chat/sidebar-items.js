// The sidebar's markup: a conversation's item and the date groups pages are merged into,
// and the time zone cookie those groups are dated in.

import { el } from "../lib/dom.js";

const ZONE = /^[A-Za-z0-9_+\-/]{1,63}$/;

// Tell the server the browser's time zone; true when it did not know it yet.
export function storeTimeZone() {
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return false;
  }
  if (!ZONE.test(zone)) return false;
  const stored = document.cookie
    .split(";")
    .map((part) => part.trim())
    .find((part) => part.startsWith("tz="));
  document.cookie = `tz=${zone}; path=/; max-age=31536000; SameSite=Lax`;
  return !stored || stored.slice(3) !== zone;
}

export function menuLabel(title) {
  return `Actions for ${title || "New chat"}`;
}

// One conversation: its link and the button of its action menu (same markup as chat.html).
export function conversationItem(entry, currentId) {
  const item = el("li", "conv-item");
  item.dataset.id = entry.id;
  item.dataset.pinned = String(!!entry.pinned);
  item.dataset.url = entry.url;
  const link = el("a", "conv-link", entry.title || "New chat");
  link.title = entry.title || "New chat"; // the whole title, when the link cuts it short
  link.href = entry.url;
  link.dataset.id = entry.id;
  if (entry.id === currentId) link.setAttribute("aria-current", "page");
  const button = el("button", "conv-menu-button");
  button.type = "button";
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-label", menuLabel(entry.title));
  button.append(el("span", "dots"));
  button.lastChild.setAttribute("aria-hidden", "true");
  item.append(link, button);
  return item;
}

// Add a page's groups to those gathered so far: a label that goes on continues its group.
export function mergeGroups(groups, page, seen) {
  for (const group of page) {
    for (const entry of group.conversations || []) {
      if (seen.has(entry.id)) continue; // moved between pages (unpinned, say): shown once
      seen.add(entry.id);
      let last = groups[groups.length - 1];
      if (!last || last.label !== group.label) {
        last = { label: group.label, conversations: [] };
        groups.push(last);
      }
      last.conversations.push(entry);
    }
  }
}

// A date group; id: its heading's id, unique in the page.
export function groupNode(label, id) {
  const box = el("div", "conv-group");
  box.dataset.label = label;
  const heading = el("h2", "group-label", label);
  heading.id = id;
  const list = el("ul");
  list.setAttribute("aria-labelledby", heading.id);
  box.append(heading, list);
  return box;
}
