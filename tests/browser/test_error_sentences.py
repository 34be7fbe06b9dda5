"""A reply Ollama broke off reads as a sentence in the chat, not as httpx's words."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assistant_articles, choose_model, send_message, sign_up

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_reply_broken_off_says_what_happened_in_words(page: Page, live_server_url: str, ollama, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    sign_up(page, live_server_url)
    choose_model(page)
    ollama.enqueue_broken_off("Half an ")

    send_message(page, "Tell me a story")

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "error")
    expect(reply.locator(".content")).to_have_text("Half an")
    problem = reply.locator(".error-block")
    expect(problem).to_contain_text("Ollama broke off the connection before the reply was finished")
    expect(problem).to_be_in_viewport()
    expect(problem).not_to_contain_text("chunked")
