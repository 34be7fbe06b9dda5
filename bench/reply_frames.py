"""Figure 6: the chat page's own time per frame while a long Markdown reply streams into it.

A probe injected before the page's scripts times every call of the socket's
message handler that carries a `token` frame (parsing the frame and rendering
the reply's Markdown). The page first streams a short reply, so the renderer is
loaded before the measured reply starts.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.page import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from bench.servers import Site
from bench.stats import median, percentile

# Seconds between the fake's tokens: about 1,000 tokens a second, so the app sends
# a frame of about 30 tokens every 33 ms, as it would for a fast local model.
TOKEN_DELAY = 0.001
EDGE = 50  # frames compared at each end of the reply
MODEL = "llama3.2:latest"  # one of the fake's installed models

FRAME_PROBE = """
(() => {
  const times = (window.__tokenFrames = []);
  const own = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage");
  Object.defineProperty(WebSocket.prototype, "onmessage", {
    configurable: true,
    get() { return own.get.call(this); },
    set(handler) {
      own.set.call(this, function (event) {
        const token = typeof event.data === "string" && event.data.slice(0, 24).includes('"token"');
        const started = performance.now();
        try { return handler.call(this, event); }
        finally { if (token) times.push(performance.now() - started); }
      });
    },
  });
})();
"""

REPLY_STATUS = """() => {
  const articles = document.querySelectorAll('[aria-label="Messages"] article[data-role="assistant"]');
  const last = articles[articles.length - 1];
  return last ? last.dataset.status : null;
}"""

RENDERED = """() => !!document.querySelector(
  '[aria-label="Messages"] article[data-status="streaming"] .content.rendered p')"""


def _wait(page: Any, script: str, wanted: Any, seconds: float) -> None:
    """Polled: the page's CSP forbids wait_for_function's eval."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if page.evaluate(script) == wanted:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the page never reached {wanted!r}")


def stream_in_page(base_url: str, cookie: str, tokens: int) -> list[float]:
    """Milliseconds the page spent on each token frame of one long reply."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.set_default_timeout(TIMEOUT_MS)
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": base_url}])
            context.add_init_script(FRAME_PROBE)
            page = context.new_page()
            page.goto(f"{base_url}/")
            box = page.get_by_role("textbox", name="Message", exact=True)
            expect(box).to_be_enabled()
            picker = page.get_by_label("Model")
            expect(picker.locator(f'option[value="{MODEL}"]')).to_have_count(1)
            picker.select_option(value=MODEL)
            # A first reply loads the renderer; stopped once it renders.
            box.fill("Warm up")
            box.press("Enter")
            _wait(page, RENDERED, True, 30)
            page.get_by_role("button", name="Stop").click()
            _wait(page, REPLY_STATUS, "stopped", 30)
            page.evaluate("window.__tokenFrames.length = 0")
            box.fill("A long answer, please")
            box.press("Enter")
            _wait(page, REPLY_STATUS, "complete", tokens * TOKEN_DELAY * 10 + 60)
            return page.evaluate("window.__tokenFrames")
        finally:
            browser.close()


def measure_reply_frames(site: Site, sizes: Any, seeded: dict[str, Any]) -> dict[str, Any] | None:
    if not os.access(CHROMIUM, os.X_OK):
        return None
    fake = site.start_fake(tokens=sizes.page_reply_tokens, delay=TOKEN_DELAY, markdown=True)
    worker = site.start_worker(fake, "reply-frames", count_writes=False)
    try:
        frames = stream_in_page(worker.url, seeded["sessions"]["page"], sizes.page_reply_tokens)
    finally:
        site.stop(worker)
        site.stop(fake)
    edge = min(EDGE, len(frames) // 2)
    first, last = frames[:edge], frames[-edge:]
    return {
        "tokens": sizes.page_reply_tokens,
        "frames": len(frames),
        "edge": edge,
        "first_median": median(first),
        "first_p90": percentile(first, 90),
        "last_median": median(last),
        "last_p90": percentile(last, 90),
    }
