"""A send refused before it starts leaves nothing in the sidebar; the first accepted one lists the chat."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import choose_model, message_box, send_message, sign_up
from tests.browser.test_images_and_schemas import open_panel

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def sidebar_items(page: Page):
    return page.locator("#conversation-groups li")


def show_sidebar(page: Page) -> None:
    toggle = page.get_by_role("button", name="Show conversations")
    if toggle.is_visible():
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")


def hide_sidebar(page: Page) -> None:
    close = page.get_by_role("button", name="Hide conversations")
    if close.is_visible():
        close.click()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_refused_send_leaves_no_empty_new_chat(page: Page, live_server_url: str, ollama, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    sign_up(page, live_server_url)
    choose_model(page)
    panel = open_panel(page)
    schema = panel.get_by_label("JSON Schema")
    schema.fill('{"type": "objekt"}')  # well-formed JSON: refused by the server, after the chat was made

    send_message(page, "Describe a person")

    expect(panel.get_by_role("alert")).to_contain_text("The schema is not valid")
    show_sidebar(page)
    expect(page.get_by_text("No conversations yet.")).to_be_visible()
    expect(sidebar_items(page)).to_have_count(0)
    page.reload()
    show_sidebar(page)
    expect(page.get_by_text("No conversations yet.")).to_be_visible()
    expect(sidebar_items(page)).to_have_count(0)
    hide_sidebar(page)

    ollama.enqueue_chat("Fine.")
    page.get_by_role("button", name="Structured output").click()  # closes the panel: no schema sent
    message_box(page).fill("Hello there")
    message_box(page).press("Enter")

    show_sidebar(page)
    expect(sidebar_items(page)).to_have_count(1)
    expect(sidebar_items(page).first).to_contain_text("Hello there", ignore_case=True)
    expect(page.get_by_text("No conversations yet.")).to_be_hidden()
