"""A tab knows where it stands: a session that ended, Ollama coming back, and a phone-width screen."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    MODEL,
    PASSWORD,
    USERNAME,
    assistant_articles,
    choose_model,
    message_box,
    send_message,
    sign_up,
)
from tests.fake_ollama import FakeOllama
from tests.helpers import free_port

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
CONVERSATION_PATH = re.compile(r"/c/[0-9a-f-]{36}/$")


def session_banner(page: Page):
    return page.get_by_role("alert").filter(has_text="Your session has ended.")


def test_a_tab_signed_out_in_another_says_so_and_signs_in_again_to_the_conversation(
    signed_in_page: Page, live_server_url: str, ollama
):
    page = signed_in_page
    ollama.enqueue_chat("Hello.")
    send_message(page, "Hi")
    expect(assistant_articles(page).first).to_have_attribute("data-status", "complete")
    expect(page).to_have_url(CONVERSATION_PATH)
    path = CONVERSATION_PATH.search(page.url).group(0)

    other = page.context.new_page()
    other.goto(live_server_url)
    other.get_by_role("button", name="Sign out").click()
    expect(other).to_have_url(re.compile(r"/login/"))
    other.close()

    banner = session_banner(page)
    expect(banner).to_be_visible()
    link = banner.get_by_role("link", name="Sign in again")
    expect(link).to_have_attribute("href", f"/login/?next={quote(path, safe='')}")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(page).to_have_url(f"{live_server_url}{path}")  # the tab stays where it was

    link.click()
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server_url}{path}")
    expect(assistant_articles(page).first).to_contain_text("Hello.")
    expect(session_banner(page)).to_have_count(0)


def test_a_request_that_finds_the_session_gone_says_so_on_a_phone(signed_in_page: Page, ollama):
    page = signed_in_page
    page.set_viewport_size(PHONE)
    page.context.clear_cookies(name="sessionid")

    send_message(page, "Anyone there?")  # creating the conversation finds no session

    banner = session_banner(page)
    expect(banner).to_be_visible()
    expect(banner.get_by_role("link", name="Sign in again")).to_have_attribute("href", "/login/?next=%2F")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    assert not ollama.chat_requests()


def test_the_chat_page_notices_by_itself_when_ollama_comes_back(page: Page, start_live_server):
    port = free_port()
    server = start_live_server(f"http://127.0.0.1:{port}")  # nothing listens there yet
    sign_up(page, server.url)
    banner = page.get_by_role("alert").filter(has_text="Cannot reach Ollama")
    expect(banner).to_be_visible()
    expect(page.get_by_label("Model").locator("option")).to_have_count(0)

    reachable = FakeOllama(port=port).start()
    try:
        # No click: the page asks again after 2 s, 4 s, 8 s…
        expect(banner).to_be_hidden(timeout=20_000)
        expect(page.get_by_label("Model").locator("option")).to_have_count(3)
        choose_model(page, MODEL)
        assert reachable.requests_to("/api/tags")
    finally:
        reachable.stop()


def test_the_models_page_notices_by_itself_when_ollama_comes_back(page: Page, start_live_server):
    port = free_port()
    server = start_live_server(f"http://127.0.0.1:{port}")
    sign_up(page, server.url)
    page.goto(f"{server.url}/models/")
    status = page.locator("#ollama-status")
    expect(status).to_contain_text("Cannot reach Ollama")
    banner = page.get_by_role("alert").filter(has_text="Could not list the installed models")
    expect(banner).to_be_visible()

    reachable = FakeOllama(port=port).start()
    try:
        expect(status).to_contain_text("is running", timeout=20_000)
        expect(banner).to_be_hidden()
        expect(page.locator("#installed-rows td.name", has_text=MODEL)).to_be_visible()
    finally:
        reachable.stop()


# Every visible part of the top bar shares one row.
ONE_ROW = """() => {
  const parts = [...document.querySelector(".topbar").children]
    .filter((node) => node.getClientRects().length && getComputedStyle(node).display !== "none")
    .map((node) => node.getBoundingClientRect());
  const top = Math.max(...parts.map((r) => r.top));
  const bottom = Math.min(...parts.map((r) => r.bottom));
  return { parts: parts.length, oneRow: top < bottom, right: Math.max(...parts.map((r) => r.right)) };
}"""

# The picker within the screen, wide enough for the chosen model's label.
PICKER_FITS = """() => {
  const select = document.getElementById("model");
  const box = select.getBoundingClientRect();
  const style = getComputedStyle(select);
  const context = document.createElement("canvas").getContext("2d");
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const label = select.options[select.selectedIndex].text;
  const needed = context.measureText(label).width + parseFloat(style.paddingLeft) + parseFloat(style.paddingRight) + 16;
  return { label, inside: box.left >= 0 && box.right <= innerWidth, fits: needed <= box.width, needed, width: box.width };
}"""

LABEL = "cell => getComputedStyle(cell, '::before').content"


def test_a_phone_width_screen_keeps_one_top_row_the_whole_picker_and_the_models_labels(
    page: Page, live_server_url: str, ollama
):
    page.set_viewport_size(PHONE)
    sign_up(page, live_server_url)
    choose_model(page, "qwen3:8b")  # the longest label: "qwen3:8b · thinking, tools"
    ollama.enqueue_chat("Hello.", stats={"prompt_eval_count": 1234})
    send_message(page, "Hi")
    expect(assistant_articles(page).first).to_have_attribute("data-status", "complete")
    expect(page.get_by_role("button", name="Export")).to_be_visible()
    expect(page.get_by_role("meter", name="Context used")).to_be_visible()

    row = page.evaluate(ONE_ROW)
    assert row["parts"] >= 4 and row["oneRow"] and row["right"] <= PHONE["width"], row
    fits = page.evaluate(PICKER_FITS)
    assert fits["inside"] and fits["fits"], fits
    expect(page.get_by_role("button", name="Send")).to_be_in_viewport()
    expect(message_box(page)).to_be_in_viewport()

    page.goto(f"{live_server_url}/models/")
    row = page.locator("#installed-rows tr", has=page.locator("td.name", has_text=MODEL))
    expect(row).to_be_visible()
    expect(page.locator("#installed-table thead")).to_be_hidden()
    labels = [row.locator("td").nth(index).evaluate(LABEL) for index in range(1, 7)]
    assert labels == [
        '"Size"',
        '"Family"',
        '"Parameters"',
        '"Quantization"',
        '"Modified"',
        '"Capabilities"',
    ]
    size = row.locator("td").nth(1)
    expect(size).to_be_in_viewport()
    expect(size).to_have_text("2.0 GB")  # ::before is not part of the cell's text
