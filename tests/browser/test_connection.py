"""Losing the server or Ollama, in a real browser: the page says so and recovers by itself."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import (
    MODEL,
    TIMEOUT_MS,
    assistant_articles,
    choose_model,
    content,
    message_box,
    send_message,
    sign_up,
    streaming_text,
)
from tests.fake_ollama import FakeOllama
from tests.helpers import free_port
from tests.live_server import POSTGRES_URL, LiveServer

pytestmark = pytest.mark.browser

# Every WebSocket the page opens, with when it was opened (ms since the page started).
RECORD_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__socketsOpened = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__socketsOpened.push(performance.now());
    }
  };
})();
"""


def sockets_opened(page: Page) -> list[float]:
    return page.evaluate("window.__socketsOpened")


MIN_DELAY_MS = 500  # static/js/lib/socket.js: the first retry waits 250–500 ms, each next one twice as long
# A stopping server saves its replies as interrupted; were that to fail, with one
# process a reply older than the process is dead at once, and with workers
# sharing Redis it is dead once unsaved for 15 checkpoint intervals (15 s).
INTERRUPTED_WITHIN_MS = 30_000 if POSTGRES_URL and os.environ.get("REDIS_URL") else TIMEOUT_MS


def test_a_restarted_server_is_reconnected_to_with_backoff_and_the_cut_reply_is_kept(
    context: BrowserContext, page: Page, app_server: LiveServer, ollama
):
    context.add_init_script(RECORD_SOCKETS)
    sign_up(page, app_server.url)
    choose_model(page)
    tokens = [f"w{i} " for i in range(80)]
    ollama.enqueue_chat(*tokens, delay=0.1)
    send_message(page, "Count slowly")
    streaming_text(page, 0, "w15")
    reconnecting = page.get_by_text("Reconnecting…")
    expect(reconnecting).to_be_hidden()
    before = len(sockets_opened(page))
    shown = content(assistant_articles(page).first).inner_text().strip()

    app_server.stop()  # SIGTERM: the server saves its replies before it goes

    expect(reconnecting).to_be_visible()
    # While the server is down the page keeps trying, further and further apart.
    page.wait_for_function("n => window.__socketsOpened.length >= n", arg=before + 2)
    app_server.start()

    reply = assistant_articles(page).first
    expect(reconnecting).to_be_hidden()
    expect(reply).to_have_attribute("data-status", "interrupted", timeout=INTERRUPTED_WITHIN_MS)
    expect(reply.get_by_text("Interrupted", exact=True)).to_be_visible()
    # The reply ended with the server: all the text the page had shown is kept, and no more comes.
    saved = content(reply).inner_text()
    full = "".join(tokens).strip()
    assert saved.startswith(shown) and full.startswith(saved) and saved != full, (shown, saved)

    attempts = sockets_opened(page)[before:]
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert len(gaps) >= 2, f"expected at least three attempts to reconnect, saw {attempts}"
    for index, gap in enumerate(gaps, start=1):
        shortest = MIN_DELAY_MS * 2**index / 2
        assert gap >= shortest - 20, f"retry {index + 1} came {gap:.0f} ms after the one before: {gaps}"

    ollama.enqueue_chat("Back ", "again.")
    send_message(page, "Are you there?")
    second = assistant_articles(page).nth(1)
    expect(second).to_have_attribute("data-status", "complete")
    expect(content(second)).to_have_text("Back again.")
    expect(message_box(page)).to_have_value("")


def test_an_unreachable_ollama_shows_a_banner_and_retry_fills_the_picker(page: Page, start_live_server):
    port = free_port()
    server = start_live_server(f"http://127.0.0.1:{port}")  # nothing listens there yet
    sign_up(page, server.url)

    banner = page.get_by_role("alert").filter(has_text="Cannot reach Ollama")
    expect(banner).to_contain_text(f"Cannot reach Ollama at http://127.0.0.1:{port}")
    expect(page.get_by_label("Model").locator("option")).to_have_count(0)
    retry = banner.get_by_role("button", name="Retry")
    with page.expect_response("**/api/models/") as answer:
        retry.click()  # still unreachable: the banner stays
    assert answer.value.status == 502
    expect(banner).to_be_visible()
    expect(page.get_by_label("Model").locator("option")).to_have_count(0)

    reachable = FakeOllama(port=port).start()
    try:
        with page.expect_response("**/api/models/") as answer:
            retry.click()
        assert answer.value.ok
        expect(banner).to_be_hidden()
        picker = page.get_by_label("Model")
        expect(picker.locator("option")).to_have_count(3)
        expect(picker).to_have_value(MODEL)
        expect(message_box(page)).to_be_focused()
        assert reachable.requests_to("/api/tags")
    finally:
        reachable.stop()
