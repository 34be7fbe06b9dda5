"""The admin in a real browser: images have their own list with thumbnails, and conversations are
found by the text of their messages."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import choose_model, send_message, sign_up

pytestmark = pytest.mark.browser


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_staff_see_images_with_thumbnails_and_find_conversations_by_message_text(
    page: Page, live_server_url: str, ollama
):
    sign_up(page, live_server_url)
    choose_model(page)
    ollama.enqueue_chat("Striped horses.")
    send_message(page, "Tell me about the okapi")
    expect(page.locator('[aria-label="Messages"] article[data-role="assistant"]')).to_have_attribute(
        "data-status", "complete"
    )
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    uploaded = page.request.post(
        f"{live_server_url}/images/",
        multipart={"file": {"name": "red.png", "mimeType": "image/png", "buffer": png()}},
        headers={"X-CSRFToken": token, "Referer": f"{live_server_url}/"},
    )
    assert uploaded.status == 201, uploaded.text()

    page.goto(f"{live_server_url}/admin/conversations/image/")
    thumbnail = page.locator("#result_list img")
    expect(thumbnail).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("not sent yet")
    page.wait_for_function("() => document.querySelector('#result_list img').naturalWidth > 0")

    page.goto(f"{live_server_url}/admin/conversations/conversation/")
    page.locator("#searchbar").fill("striped")  # only in the reply, not the title
    page.locator("#searchbar").press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.locator("#searchbar").fill("no such words")
    page.locator("#searchbar").press("Enter")
    expect(page.locator("#result_list")).to_have_count(0)
