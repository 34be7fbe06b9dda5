"""The composer's habits in a real browser: keyboard shortcuts and their help, a word on why
nothing was sent while a reply streams, images dropped anywhere, a new chat's own settings."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    assistant_articles,
    choose_model,
    content,
    message_box,
    reply_requests,
    send_message,
    streaming_text,
    user_articles,
)

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
CONVERSATION_PATH = re.compile(r"/c/[0-9a-f-]{36}/$")


@pytest.fixture(params=list(SIZES))
def chat(request, signed_in_page: Page) -> Page:
    signed_in_page.set_viewport_size(SIZES[request.param])
    return signed_in_page


def finished(page: Page, index: int = 0) -> None:
    expect(assistant_articles(page).nth(index)).to_have_attribute("data-status", "complete")


def test_shortcuts_are_listed_in_a_help_dialog_and_work(chat: Page, live_server_url: str, ollama):
    chat.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ollama.enqueue_chat("The **answer**")
    send_message(chat, "Question?")
    finished(chat)

    # "?" while typing is text; elsewhere it opens the list of shortcuts.
    message_box(chat).press("?")
    expect(message_box(chat)).to_have_value("?")
    expect(chat.get_by_role("dialog", name="Keyboard shortcuts")).to_have_count(0)
    message_box(chat).fill("")
    message_box(chat).blur()
    chat.keyboard.press("?")
    help = chat.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help).to_be_visible()
    for shortcut in (
        "Stop the reply",
        "New chat",
        "Search conversations",
        "Edit your last message",
        "Copy the last reply",
    ):
        expect(help).to_contain_text(shortcut)
    chat.keyboard.press("Escape")
    expect(help).to_be_hidden()

    chat.keyboard.press("Control+Shift+C")
    expect(chat.get_by_text("Reply copied")).to_be_visible()
    assert chat.evaluate("navigator.clipboard.readText()") == "The **answer**"

    message_box(chat).focus()
    chat.keyboard.press("ArrowUp")
    editor = user_articles(chat).first.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("Question?")
    editor.press("Escape")

    chat.keyboard.press("Control+k")
    expect(chat.get_by_role("searchbox", name="Search conversations")).to_be_focused()
    chat.keyboard.press("Escape")  # on a phone, the conversations' drawer closes
    expect(message_box(chat)).to_be_editable()

    ollama.enqueue_chat(*(f"w{i} " for i in range(40)), delay=0.2)
    send_message(chat, "Count")
    streaming_text(chat, 1, "w0")
    chat.keyboard.press("Escape")
    expect(assistant_articles(chat).nth(1)).to_have_attribute("data-status", "stopped")

    chat.keyboard.press("Control+Shift+O")
    expect(chat).to_have_url(f"{live_server_url}/")
    expect(user_articles(chat)).to_have_count(0)


def test_sending_while_a_reply_streams_says_why_nothing_went(chat: Page, ollama):
    ollama.enqueue_chat(*(f"w{i} " for i in range(15)), delay=0.2)
    send_message(chat, "Count")
    streaming_text(chat, 0, "w0")

    message_box(chat).fill("Next one")
    message_box(chat).press("Enter")
    note = chat.get_by_text("A reply is still being written: wait for it, or stop it first.")
    expect(note).to_be_visible()
    expect(message_box(chat)).to_have_value("Next one")
    expect(user_articles(chat)).to_have_count(1)

    finished(chat)
    expect(note).to_be_hidden()
    ollama.enqueue_chat("Done.")
    message_box(chat).press("Enter")
    expect(user_articles(chat)).to_have_count(2)


DROP_ON_MESSAGES = """async () => {
    const canvas = document.createElement("canvas");
    canvas.width = 24;
    canvas.height = 16;
    canvas.getContext("2d").fillRect(0, 0, 24, 16);
    const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
    const data = new DataTransfer();
    data.items.add(new File([blob], "dropped.png", { type: "image/png" }));
    const zone = document.querySelector('[aria-label="Messages"]');
    const over = new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true });
    zone.dispatchEvent(over);
    const drop = new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true });
    zone.dispatchEvent(drop);
    return [over.defaultPrevented, drop.defaultPrevented];
}"""


def test_an_image_dropped_anywhere_on_the_conversation_is_attached(chat: Page, ollama):
    choose_model(chat, "llava:7b")
    ollama.enqueue_chat("Hello.")
    send_message(chat, "Hi")
    finished(chat)
    url = chat.url

    # The browser would open the image in place of the chat unless the page takes the drop.
    assert chat.evaluate(DROP_ON_MESSAGES) == [True, True]
    attached = chat.get_by_role("list", name="Attached images")
    expect(attached.get_by_role("img", name="dropped.png")).to_be_visible()
    assert chat.url == url


def test_a_new_chat_has_its_own_system_prompt_before_its_first_message(
    chat: Page, live_server_url: str, ollama
):
    nav = chat.get_by_role("navigation", name="Conversations")
    chat.get_by_role("button", name="Settings", exact=True).click()
    dialog = chat.get_by_role("dialog", name="Settings for this new chat")
    expect(dialog.get_by_label("System prompt")).to_be_editable()
    dialog.get_by_label("System prompt").fill("Answer like a pirate.")
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(nav.get_by_role("link")).to_have_count(0)  # nothing is created before the first message

    ollama.enqueue_chat("Arr.")
    send_message(chat, "Hello")
    finished(chat)
    expect(chat).to_have_url(CONVERSATION_PATH)
    assert reply_requests(ollama)[-1].json["messages"][0] == {
        "role": "system",
        "content": "Answer like a pirate.",
    }

    # It was this chat's, not the defaults of the next one.
    chat.get_by_role("button", name="New chat").click()
    expect(chat).to_have_url(f"{live_server_url}/")
    chat.get_by_role("button", name="Settings", exact=True).click()
    expect(dialog.get_by_label("System prompt")).to_have_value("")
    dialog.get_by_role("button", name="Cancel").click()
    expect(content(user_articles(chat))).to_have_count(0)


SCHEMA = '{"type":"object","properties":{"answer":{"type":"integer","title":"Answer"}},"required":["answer"]}'


def test_the_structured_panel_folds_after_sending_and_keeps_its_schema(chat: Page, ollama):
    toggle = chat.get_by_role("button", name="Structured output")
    toggle.click()
    panel = chat.get_by_role("region", name="Structured output")
    schema = panel.get_by_label("JSON Schema")
    schema.fill(SCHEMA)
    # Every control of the panel can be reached, and the message box with it.
    for control in (
        panel.get_by_label("Example"),
        panel.get_by_label("JSON mode"),
        panel.get_by_role("button", name="Save schema"),
    ):
        control.scroll_into_view_if_needed()
        expect(control).to_be_in_viewport()
    expect(message_box(chat)).to_be_in_viewport()

    ollama.enqueue_chat('{"answer": ', "42}")
    send_message(chat, "The answer?")
    finished(chat)
    expect(schema).to_be_hidden()
    expect(panel.get_by_text("Replies follow your JSON Schema.")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(message_box(chat)).to_be_in_viewport()
    expect(assistant_articles(chat).first).to_be_in_viewport()

    # Folded, it still applies; shown again, the schema is as it was.
    ollama.enqueue_chat('{"answer": ', "43}")
    send_message(chat, "And the next?")
    finished(chat, 1)
    assert [r.json.get("format") for r in reply_requests(ollama)] == [json.loads(SCHEMA)] * 2
    show = panel.get_by_role("button", name="Show schema")
    expect(show).to_have_attribute("aria-expanded", "false")
    show.click()
    expect(schema).to_be_focused()
    expect(schema).to_have_value(SCHEMA)
