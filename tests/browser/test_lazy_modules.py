"""Modules needed only on a user's action load on first use, not with the chat page; one that
cannot be loaded shows the page's error banner."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import message_box, sign_up

pytestmark = pytest.mark.browser

LAZY = ("settings", "sidebar-actions", "transfer", "menu", "schema-panel", "structured-reply", "model-filter")


def module_name(url: str) -> str | None:
    """chat/settings.js (or its hashed name) -> "settings"."""
    found = re.search(r"/static/js/(?:chat|lib)/([\w-]+?)(?:\.[0-9a-f]{12})?\.js$", url)
    return found and found.group(1)


def test_lazy_modules_load_on_first_use(page: Page, live_server_url: str):
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(module_name(request.url) or ""))
    sign_up(page, live_server_url)
    expect(message_box(page)).to_be_focused()
    page.wait_for_load_state("networkidle")
    assert "main" in fetched
    assert not set(LAZY) & set(fetched)

    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_role("dialog", name="Settings for this new chat")).to_be_visible()
    assert "settings" in fetched and "menu" not in fetched


def test_a_module_that_cannot_load_shows_the_error_banner(page: Page, live_server_url: str):
    sign_up(page, live_server_url)
    expect(message_box(page)).to_be_focused()

    def refuse(route: Route) -> None:
        route.abort()

    page.route(re.compile(r"/static/js/chat/settings(\.[0-9a-f]{12})?\.js$"), refuse)
    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_role("alert").filter(has_text="could not be loaded")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
