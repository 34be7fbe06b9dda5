"""Sidebar titles cut short show whole: on hover (the link's title) and on keyboard focus."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_up
from tests.live_server import LiveServer

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LONG = "A conversation about the migration habits of arctic terns over many thousands of kilometres"

SEED = f"""
from django.contrib.auth import get_user_model
from conversations.models import Conversation, Message
owner = get_user_model().objects.get(username="alice")
conversation = Conversation.objects.create(owner=owner, title={LONG!r}, model="llama3.2:latest")
Message.objects.create(conversation=conversation, role="user", content="Terns?")
"""

CUT_SHORT = "link => link.scrollWidth > link.clientWidth"


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_a_long_title_shows_whole_on_hover_and_keyboard_focus(page: Page, app_server: LiveServer, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    sign_up(page, app_server.url)
    app_server.manage("shell", "-c", SEED)
    page.reload()
    toggle = page.get_by_role("button", name="Show conversations")
    if toggle.is_visible():
        expect(page.get_by_label("Model").locator("option[value]").first).to_be_attached()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")

    link = page.get_by_role("link", name=LONG)
    expect(link).to_have_attribute("title", LONG)
    assert link.evaluate(CUT_SHORT)

    search = page.get_by_role("searchbox", name="Search conversations")
    search.click()
    page.keyboard.press("Tab")
    expect(link).to_be_focused()
    page.wait_for_function(f"() => !({CUT_SHORT})(document.activeElement)")

    # The list as the page's script draws it (a search) keeps the title too.
    search.fill("terns")
    expect(page.get_by_role("link", name=LONG)).to_have_attribute("title", LONG)
