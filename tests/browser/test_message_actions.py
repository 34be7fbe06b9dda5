"""Each message's actions in a real browser, at desktop and phone width: copy, edit any question
(a branch the pager flips back to), regenerate with another model, continue, delete with a
confirmation, timestamps and the model's name."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    assistant_articles,
    content,
    message_box,
    reply_requests,
    user_articles,
)

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(SIZES))
def chat(request, signed_in_page: Page) -> Page:
    signed_in_page.set_viewport_size(SIZES[request.param])
    return signed_in_page


def ask(page: Page, ollama, text: str, *answer: str) -> Locator:
    """Send a message and wait for its reply to finish; the reply's article."""
    count = assistant_articles(page).count()
    ollama.enqueue_chat(*answer)
    box = message_box(page)
    box.fill(text)
    box.press("Enter")
    reply = assistant_articles(page).nth(count)
    expect(reply).to_have_attribute("data-status", "complete")
    return reply


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def replayed(ollama) -> list[str]:
    return [m["content"] for m in reply_requests(ollama)[-1].json["messages"]]


def test_an_earlier_question_is_edited_into_a_branch_and_the_pager_flips_back(chat: Page, ollama):
    ask(chat, ollama, "Q1", "A1")
    ask(chat, ollama, "Q2", "A2")

    first = user_articles(chat).first
    first.get_by_role("button", name="Edit").click()
    editor = first.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    editor.fill("Q1 edited")
    ollama.enqueue_chat("B1")
    first.get_by_role("button", name="Save and send").click()
    expect(content(user_articles(chat))).to_have_text(["Q1 edited"])
    expect(content(assistant_articles(chat))).to_have_text(["B1"])
    assert replayed(ollama) == ["Q1 edited"]
    reply = assistant_articles(chat).first
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".version-count")).to_have_text("2/2")

    reply.get_by_role("button", name="Previous version").click()
    expect(content(user_articles(chat))).to_have_text(["Q1", "Q2"])
    expect(content(assistant_articles(chat))).to_have_text(["A1", "A2"])


def test_copy_a_reply_as_markdown_and_a_question_and_see_when_and_by_which_model(chat: Page, ollama):
    chat.context.grant_permissions(["clipboard-read", "clipboard-write"])
    reply = ask(chat, ollama, "Say hi", "**Hi** there")
    expect(reply.locator(".meta .who")).to_have_text("llama3.2:latest")

    reply.get_by_role("button", name="Copy reply").click()
    assert clipboard(chat) == "**Hi** there"
    question = user_articles(chat).first
    question.get_by_role("button", name="Copy message").click()
    assert clipboard(chat) == "Say hi"
    expect(reply.get_by_role("button", name="Copy JSON")).to_have_count(0)

    # The time shows on hover and when a control of the message has the focus.
    stamp = question.locator("time")
    expect(stamp).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    chat.mouse.move(0, 0)
    message_box(chat).focus()
    expect(stamp).to_have_css("opacity", "0")
    question.get_by_role("button", name="Copy message").focus()
    expect(stamp).to_be_visible()
    expect(stamp).to_have_css("opacity", "1")


def test_regenerate_with_another_model_from_the_menu_beside_regenerate(chat: Page, ollama):
    reply = ask(chat, ollama, "Hello", "From llama")
    reply.get_by_role("button", name="Answer again with…").click()
    menu = chat.get_by_role("menu", name="Regenerate with")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem").first).to_be_focused()
    ollama.enqueue_chat("From qwen")
    menu.get_by_role("menuitem", name="qwen3:8b").click()
    reply = assistant_articles(chat).first
    expect(content(reply)).to_have_text("From qwen")
    expect(reply.locator(".meta .who")).to_have_text("qwen3:8b")
    assert reply_requests(ollama)[-1].json["model"] == "qwen3:8b"


def test_a_stopped_reply_is_continued_in_place(chat: Page, ollama):
    ollama.enqueue_chat("One,", " two,", " three,", " four,", " five,", delay=0.4)
    message_box(chat).fill("Count")
    message_box(chat).press("Enter")
    reply = assistant_articles(chat).first
    expect(content(reply)).to_contain_text("One,")
    chat.get_by_role("button", name="Stop").click()
    expect(reply).to_have_attribute("data-status", "stopped")
    kept = content(reply).inner_text()

    ollama.enqueue_chat(" and on.")
    reply.get_by_role("button", name="Continue").click()
    expect(content(assistant_articles(chat))).to_have_text(kept + " and on.")
    expect(assistant_articles(chat).first).to_have_attribute("data-status", "complete")
    assert reply_requests(ollama)[-1].json["messages"][-1] == {"role": "assistant", "content": kept}
    expect(assistant_articles(chat).first.get_by_role("button", name="Continue")).to_have_count(0)


def test_a_question_and_its_reply_are_deleted_after_a_confirmation(chat: Page, ollama):
    ask(chat, ollama, "Keep me", "Kept")
    ask(chat, ollama, "Drop me", "Dropped")
    question = user_articles(chat).nth(1)

    question.get_by_role("button", name="Delete").click()
    dialog = chat.get_by_role("dialog", name="Delete this message and its replies?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(user_articles(chat)).to_have_count(2)

    question.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(content(user_articles(chat))).to_have_text(["Keep me"])
    expect(content(assistant_articles(chat))).to_have_text(["Kept"])
    chat.reload()
    expect(content(user_articles(chat))).to_have_text(["Keep me"])
