"""The sidebar in a real browser when there are more conversations than one page holds."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

# 230 conversations a few days old, "Chat 000" the newest, every other one mentioning
# quantum; then 5 from two months ago. The first page holds 100.
SEED = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from conversations.models import Conversation, Message

owner = get_user_model().objects.get(username="alice")
now = timezone.now()
recent = Conversation.objects.bulk_create(Conversation(owner=owner, title=f"Chat {i:03d}") for i in range(230))
old = Conversation.objects.bulk_create(Conversation(owner=owner, title=f"Old {i}") for i in range(5))
for i, conversation in enumerate(recent):
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=now - timedelta(days=3, minutes=i))
for i, conversation in enumerate(old):
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=now - timedelta(days=60, minutes=i))
Message.objects.bulk_create(
    Message(conversation=conversation, role="user", content="Tell me about quantum dots")
    for conversation in recent[::2]
)
# Only conversations with a message are listed.
Message.objects.bulk_create(
    Message(conversation=conversation, role="user", content="Hello") for conversation in recent[1::2] + old
)
"""


def sidebar(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Conversations")


def scroll_to_end(page: Page) -> None:
    sidebar(page).evaluate("(nav) => { nav.scrollTop = nav.scrollHeight; }")


def test_older_conversations_load_on_scroll_and_from_the_keyboard(signed_in_page: Page, app_server):
    page = signed_in_page
    app_server.manage("shell", "-c", SEED)
    page.reload()
    links = sidebar(page).get_by_role("link")
    headings = sidebar(page).get_by_role("heading")
    more = sidebar(page).get_by_role("button", name="Show older conversations")

    expect(links).to_have_count(100)  # the server rendered the first page
    expect(links.first).to_have_text("Chat 000")
    expect(headings).to_have_text(["Previous 7 days"])
    expect(more).to_be_visible()

    scroll_to_end(page)
    expect(links).to_have_count(200)
    expect(links.nth(100)).to_have_text("Chat 100")
    expect(headings).to_have_text(["Previous 7 days"])  # the second page went on in the same group

    more.focus()
    page.keyboard.press("Enter")
    expect(links).to_have_count(235)
    expect(headings).to_have_text(["Previous 7 days", re.compile(r"^[A-Z][a-z]+ \d{4}$")])
    expect(sidebar(page).get_by_role("link", name="Chat 200", exact=True)).to_be_focused()
    expect(more).to_be_hidden()

    # Pinning reloads the list: what was scrolled to stays.
    item = (
        sidebar(page).get_by_role("listitem").filter(has=page.get_by_role("link", name="Old 4", exact=True))
    )
    item.get_by_role("button", name="Actions for Old 4").click()
    page.get_by_role("menu", name="Conversation actions").get_by_role("menuitem", name="Pin").click()
    expect(headings).to_have_text(["Pinned", "Previous 7 days", re.compile(r"^[A-Z][a-z]+ \d{4}$")])
    expect(links.first).to_have_text("Old 4")
    expect(links).to_have_count(235)


def test_search_results_load_page_by_page(signed_in_page: Page, app_server):
    page = signed_in_page
    app_server.manage("shell", "-c", SEED)
    page.reload()
    links = sidebar(page).get_by_role("link")
    more = sidebar(page).get_by_role("button", name="Show older conversations")

    page.get_by_role("searchbox", name="Search conversations").fill("quantum")
    expect(links).to_have_count(100)
    expect(links.first).to_have_text("Chat 000")
    expect(links.nth(1)).to_have_text("Chat 002")
    expect(more).to_be_visible()

    scroll_to_end(page)
    expect(links).to_have_count(115)
    expect(links.last).to_have_text("Chat 228")
    expect(sidebar(page).get_by_role("heading")).to_have_text(["Previous 7 days"])
    expect(more).to_be_hidden()

    page.get_by_role("searchbox", name="Search conversations").press("Escape")
    expect(links).to_have_count(100)
    expect(more).to_be_visible()
