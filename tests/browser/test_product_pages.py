"""The product's name on the pages before the chat, and its own 404 page, in a real browser."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_up
from tests.live_server import LiveServer

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_first_run_and_sign_in_name_the_product(page: Page, app_server: LiveServer, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    page.goto(app_server.url)
    expect(page).to_have_title("Create the administrator account · Ollama Chat")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to Ollama Chat")
    sign_up(page, app_server.url)

    page.context.clear_cookies()
    page.goto(f"{app_server.url}/login/")
    expect(page).to_have_title("Sign in · Ollama Chat")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Ollama Chat")


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_an_unknown_conversation_shows_the_products_404_with_a_way_back(
    page: Page, app_server: LiveServer, viewport
):
    if viewport:
        page.set_viewport_size(viewport)
    sign_up(page, app_server.url)

    response = page.goto(f"{app_server.url}/c/{uuid.uuid4()}/")

    assert response.status == 404
    expect(page).to_have_title("Not found · Ollama Chat")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ollama Chat")
    back = page.get_by_role("link", name="Back to the chat")
    expect(back).to_be_in_viewport()
    back.click()
    expect(page).to_have_url(f"{app_server.url}/")
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_be_visible()
