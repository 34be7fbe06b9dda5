// "Jump to latest": offered while a reply streams and the reader has scrolled up (the list
// no longer follows it); it scrolls down and the list follows the reply again.

import { el } from "../lib/dom.js";

export function setupJumpToLatest(messages, { onJump }) {
  const button = el("button", "button small jump-latest", "Jump to latest");
  button.type = "button";
  button.hidden = true;
  messages.scroller.after(button);

  let scheduled = false;
  function update() {
    scheduled = false;
    const show = !messages.stick && messages.streaming;
    if (button.hidden === !show) return;
    const hadFocus = document.activeElement === button;
    button.hidden = !show;
    if (hadFocus && !show) onJump();
  }
  function soon() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(update);
  }

  button.addEventListener("click", () => {
    messages.scrollToBottom();
    button.hidden = true;
    onJump();
  });
  messages.scroller.addEventListener("scroll", soon, { passive: true });
  // Each frame of a reply changes the list: that is when the button may have to show.
  new MutationObserver(soon).observe(messages.list, { childList: true, subtree: true, characterData: true });
}
