"""A streaming reply's state: working in pauses, a live rate, no leading space, and Jump to latest."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assistant_articles, content, message_box, send_message, streaming_text

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
RATE = re.compile(r"^≈ \d+(\.\d)? tok/s$")


def live_status(page: Page):
    return page.locator('[aria-label="Messages"] article[data-status="streaming"] .reply-status')


def test_thinking_then_a_live_rate_while_the_reply_streams(signed_in_page: Page, ollama):
    page = signed_in_page
    ollama.enqueue_chat(
        *(f"word{i} " for i in range(30)), thinking=tuple(f"step{i} " for i in range(8)), delay=0.2
    )
    send_message(page, "Think first")

    expect(live_status(page)).to_have_text("Thinking…")
    expect(live_status(page)).to_have_class(re.compile(r"\bworking\b"))
    streaming_text(page, 0, "word3")
    expect(live_status(page)).to_have_text(RATE)
    expect(live_status(page)).not_to_have_class(re.compile(r"\bworking\b"))

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".reply-status")).to_have_count(0)
    expect(reply.locator(".stats")).to_contain_text("tokens")


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_stall_shows_the_model_still_working_and_the_reply_has_no_leading_space(
    signed_in_page: Page, ollama, viewport
):
    page = signed_in_page
    if viewport:
        page.set_viewport_size(viewport)
    ollama.enqueue_chat(" ", " Hello", " there", delay=4)
    send_message(page, "Take your time")

    streaming_text(page, 0, "Hello")
    status = live_status(page)
    expect(status).to_have_text("Still working…", timeout=8000)
    expect(status).to_be_visible()
    expect(status).to_have_class(re.compile(r"\bworking\b"))

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete", timeout=20000)
    text = content(reply).text_content()
    assert text.startswith("Hello"), repr(text)


AT_BOTTOM = """() => {
  const s = document.getElementById("scroller");
  return s.scrollHeight - s.scrollTop - s.clientHeight <= 40;
}"""


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_jump_to_latest_scrolls_down_and_follows_the_reply_again(signed_in_page: Page, ollama, viewport):
    page = signed_in_page
    if viewport:
        page.set_viewport_size(viewport)
    ollama.enqueue_chat(*(f"Line {i} of a long reply.\n\n" for i in range(120)), delay=0.1)
    send_message(page, "Write a lot")
    jump = page.get_by_role("button", name="Jump to latest")

    streaming_text(page, 0, "Line 40 ")
    expect(jump).to_be_hidden()  # following the reply: nothing to offer
    assert page.evaluate(AT_BOTTOM)
    page.locator("#scroller").hover()
    page.mouse.wheel(0, -2000)
    expect(jump).to_be_visible()
    assert not page.evaluate(AT_BOTTOM)

    jump.focus()
    page.keyboard.press("Enter")
    expect(jump).to_be_hidden()
    expect(message_box(page)).to_be_focused()
    assert page.evaluate(AT_BOTTOM)
    streaming_text(page, 0, "Line 90 ")  # still following as the reply grows
    assert page.evaluate(AT_BOTTOM)
    expect(jump).to_be_hidden()

    page.mouse.wheel(0, -2000)
    expect(jump).to_be_visible()
    jump.click()
    expect(jump).to_be_hidden()
    assert page.evaluate(AT_BOTTOM)
    expect(assistant_articles(page).first).to_have_attribute("data-status", "complete", timeout=20000)
    expect(jump).to_be_hidden()
