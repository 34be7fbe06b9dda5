"""Managing conversations in a real browser: the sidebar (groups, search, rename, pin,
delete), versions of a reply, settings, the context meter, export and import, paging."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    MODEL,
    assistant_articles,
    content,
    message_box,
    reply_requests,
    user_articles,
)

pytestmark = pytest.mark.browser

CONVERSATION_PATH = re.compile(r"/c/[0-9a-f-]{36}/$")


# Helpers -------------------------------------------------------------------


def sidebar(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Conversations")


def sidebar_item(page: Page, title: str) -> Locator:
    return sidebar(page).get_by_role("listitem").filter(has=page.get_by_role("link", name=title, exact=True))


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def ask(page: Page, text: str) -> Locator:
    """Send a message and wait for its reply to finish; the reply's article."""
    count = assistant_articles(page).count()
    box = message_box(page)
    box.fill(text)
    box.press("Enter")
    reply = assistant_articles(page).nth(count)
    expect(reply).to_have_attribute("data-status", "complete")
    return reply


def start_conversation(page: Page, base_url: str, ollama, text: str, answer: str, title: str) -> str:
    """A new conversation with one exchange and the title the model gave it; its path."""
    page.goto(f"{base_url}/")
    expect(page.get_by_label("Model")).to_have_value(MODEL)
    ollama.enqueue_chat(answer)
    ollama.enqueue_completion(title)
    expect(content(ask(page, text))).to_have_text(answer)
    expect(heading(page)).to_have_text(title)  # the model's title arrived in a title frame
    expect(page).to_have_title(title)
    expect(page).to_have_url(CONVERSATION_PATH)
    return CONVERSATION_PATH.search(page.url).group(0)


def open_item_menu(page: Page, title: str) -> Locator:
    sidebar_item(page, title).get_by_role("button", name=f"Actions for {title}").click()
    menu = page.get_by_role("menu", name="Conversation actions")
    expect(menu).to_be_visible()
    return menu


def settings_dialog(page: Page) -> Locator:
    page.get_by_role("button", name="Settings", exact=True).click()
    dialog = page.get_by_role("dialog", name="Conversation settings")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Temperature")).to_be_editable()
    return dialog


def export_entry(conversation: dict, count: int) -> dict:
    """A JSON export (the server's format) with `count` messages, alternating question and answer."""
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    messages = []
    for index in range(count):
        role = "user" if index % 2 == 0 else "assistant"
        messages.append(
            {
                "id": str(uuid.uuid4()),
                "role": role,
                "content": f"{'Question' if role == 'user' else 'Answer'} {index:04d}",
                "model": MODEL if role == "assistant" else "",
                "status": "complete",
                "created_at": (start + timedelta(seconds=index)).isoformat(),
                "exchange": str(uuid.uuid4()),
                "version": 1,
                "active": True,
            }
        )
    return {
        "format": "ollama-chat-export",
        "version": 1,
        "conversation": {**conversation, "messages": messages},
    }


# Tests ---------------------------------------------------------------------


def test_rename_search_delete_and_the_admin(signed_in_page: Page, live_server_url: str, ollama):
    page = signed_in_page
    path = start_conversation(
        page, live_server_url, ollama, "Tell me about the okapi, please", "A forest giraffe.", "Animal facts"
    )
    start_conversation(page, live_server_url, ollama, "What is the capital of Peru?", "Lima.", "Geography")
    today = sidebar(page).get_by_role("list", name="Today")
    expect(today.get_by_role("link")).to_have_text(["Geography", "Animal facts"])

    # Rename with the keyboard: Escape cancels, Enter saves.
    page.goto(f"{live_server_url}{path}")
    menu_button = sidebar_item(page, "Animal facts").get_by_role("button", name="Actions for Animal facts")
    menu_button.focus()
    menu_button.press("Enter")
    menu = page.get_by_role("menu", name="Conversation actions")
    expect(menu.get_by_role("menuitem", name="Rename")).to_be_focused()
    page.keyboard.press("Enter")
    field = sidebar(page).get_by_role("textbox", name="Conversation title")
    expect(field).to_be_focused()
    expect(field).to_have_value("Animal facts")
    field.fill("Never saved")
    field.press("Escape")
    expect(field).to_have_count(0)
    expect(sidebar_item(page, "Animal facts")).to_be_visible()

    open_item_menu(page, "Animal facts").get_by_role("menuitem", name="Rename").click()
    field.fill("Striped mammals")
    field.press("Enter")
    expect(field).to_have_count(0)
    expect(sidebar_item(page, "Striped mammals").get_by_role("link")).to_be_focused()
    expect(heading(page)).to_have_text("Striped mammals")
    expect(page).to_have_title("Striped mammals")

    # Search: a word only in a message, then a word of the title, then nothing; Escape clears.
    search = page.get_by_role("searchbox", name="Search conversations")
    search.fill("okapi")
    expect(sidebar(page).get_by_role("link")).to_have_text(["Striped mammals"])
    search.fill("striped")
    expect(sidebar(page).get_by_role("link")).to_have_text(["Striped mammals"])
    search.fill("peru")
    expect(sidebar(page).get_by_role("link")).to_have_text(["Geography"])
    search.fill("no such words anywhere")
    expect(sidebar(page).get_by_text("No conversations match.")).to_be_visible()
    expect(sidebar(page).get_by_role("link")).to_have_count(0)
    search.press("Escape")
    expect(search).to_have_value("")
    expect(sidebar(page).get_by_role("link")).to_have_text(["Striped mammals", "Geography"])

    # The admin lists it, and its change page shows the messages.
    admin = page.context.new_page()
    admin.goto(f"{live_server_url}/admin/conversations/conversation/")
    admin.get_by_role("link", name="Striped mammals").click()
    expect(admin.get_by_text("Tell me about the okapi, please", exact=True)).to_be_visible()
    expect(admin.get_by_text("A forest giraffe.", exact=True)).to_be_visible()

    # Another tab on the conversation hears about the deletion.
    other = page.context.new_page()
    other.goto(f"{live_server_url}{path}")
    expect(content(assistant_articles(other).first)).to_have_text("A forest giraffe.")
    page.bring_to_front()

    open_item_menu(page, "Striped mammals").get_by_role("menuitem", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete this conversation?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Striped mammals")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(sidebar_item(page, "Striped mammals")).to_be_visible()

    open_item_menu(page, "Striped mammals").get_by_role("menuitem", name="Delete").click()
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page).to_have_url(f"{live_server_url}/")
    expect(sidebar(page).get_by_role("link")).to_have_text(["Geography"])

    expect(other.get_by_role("alert").filter(has_text="This conversation was deleted.")).to_be_visible()
    expect(other.get_by_role("button", name="Send")).to_be_disabled()
    expect(other.get_by_text("This conversation does not exist.")).to_have_count(0)

    admin.goto(f"{live_server_url}/admin/conversations/conversation/")
    expect(admin.get_by_role("link", name="Geography")).to_be_visible()
    expect(admin.get_by_role("link", name="Striped mammals")).to_have_count(0)
    admin.goto(f"{live_server_url}/admin/conversations/message/")
    expect(admin.get_by_text("okapi")).to_have_count(0)


def test_pin_moves_a_conversation_into_pinned(signed_in_page: Page, live_server_url: str, ollama):
    page = signed_in_page
    start_conversation(page, live_server_url, ollama, "First question", "One.", "Older chat")
    start_conversation(page, live_server_url, ollama, "Second question", "Two.", "Newer chat")
    assert any(cookie["name"] == "tz" and cookie["value"] for cookie in page.context.cookies())
    groups = sidebar(page).get_by_role("heading")
    expect(groups).to_have_text(["Today"])

    open_item_menu(page, "Older chat").get_by_role("menuitem", name="Pin").click()
    expect(groups).to_have_text(["Pinned", "Today"])
    expect(sidebar(page).get_by_role("list", name="Pinned").get_by_role("link")).to_have_text(["Older chat"])
    expect(sidebar(page).get_by_role("list", name="Today").get_by_role("link")).to_have_text(["Newer chat"])
    expect(sidebar_item(page, "Older chat").get_by_role("button")).to_be_focused()

    page.reload()  # rendered by the server the same way
    expect(sidebar(page).get_by_role("list", name="Pinned").get_by_role("link")).to_have_text(["Older chat"])

    open_item_menu(page, "Older chat").get_by_role("menuitem", name="Unpin").click()
    expect(groups).to_have_text(["Today"])
    expect(sidebar(page).get_by_role("list", name="Today").get_by_role("link")).to_have_text(
        ["Newer chat", "Older chat"]
    )


def test_regenerate_switch_versions_and_edit(signed_in_page: Page, ollama):
    page = signed_in_page
    ollama.enqueue_chat("First ", "answer.")
    reply = ask(page, "Question one")
    expect(content(reply)).to_have_text("First answer.")
    expect(reply.locator(".version-count")).to_have_count(0)

    ollama.enqueue_chat("Second ", "answer.", delay=0.05)
    reply.get_by_role("button", name="Regenerate").click()
    expect(content(assistant_articles(page))).to_have_text(["Second answer."])
    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".version-count")).to_have_text("2/2")
    again = reply_requests(ollama)[-1].json["messages"]
    assert [m["content"] for m in again] == ["Question one"]

    reply.get_by_role("button", name="Previous version").click()
    expect(content(assistant_articles(page))).to_have_text(["First answer."])
    reply = assistant_articles(page).first
    expect(reply.locator(".version-count")).to_have_text("1/2")
    expect(reply.get_by_role("button", name="Previous version")).to_be_disabled()
    expect(reply.get_by_role("button", name="Next version")).to_be_focused()
    reply.get_by_role("button", name="Next version").click()
    expect(content(assistant_articles(page))).to_have_text(["Second answer."])

    # Edit the question and send it again: it replaces the question and its answer.
    question = user_articles(page).first
    question.get_by_role("button", name="Edit").click()
    editor = question.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("Question one")
    editor.press("Escape")
    expect(editor).to_have_count(0)
    expect(content(question)).to_have_text("Question one")

    question.get_by_role("button", name="Edit").click()
    editor.fill("Question two")
    ollama.enqueue_chat("Third ", "answer.")
    question.get_by_role("button", name="Save and send").click()
    expect(content(user_articles(page))).to_have_text(["Question two"])
    expect(content(assistant_articles(page))).to_have_text(["Third answer."])
    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".version-count")).to_have_text("3/3")
    edited = reply_requests(ollama)[-1].json["messages"]
    assert [m["content"] for m in edited] == ["Question two"]
    expect(message_box(page)).to_have_value("")

    # The previous version brings back the question it answered.
    reply.get_by_role("button", name="Previous version").click()
    expect(content(user_articles(page))).to_have_text(["Question one"])
    expect(content(assistant_articles(page))).to_have_text(["Second answer."])
    page.reload()
    expect(content(assistant_articles(page))).to_have_text(["Second answer."])
    expect(assistant_articles(page).first.locator(".version-count")).to_have_text("2/3")


def test_settings_validation_options_and_the_context_meter(
    signed_in_page: Page, live_server_url: str, ollama
):
    page = signed_in_page
    ollama.enqueue_chat("Hello.", stats={"prompt_eval_count": 1234, "eval_count": 66})
    ask(page, "Hi")
    meter = page.get_by_role("meter", name="Context used")
    expect(meter).to_be_visible()
    expect(page.locator("#context-text")).to_have_text("1,300 / 131,072 tokens")  # the prompt and the reply

    dialog = settings_dialog(page)
    temperature = dialog.get_by_label("Temperature")
    expect(temperature).to_have_attribute("placeholder", "Model default")
    temperature.fill("3")
    dialog.get_by_label("Top K").fill("40")
    dialog.get_by_role("button", name="Save", exact=True).click()
    error = dialog.locator("#setting-temperature-error")
    expect(error).to_have_text("Must be between 0.0 and 2.0.")
    expect(temperature).to_have_attribute("aria-invalid", "true")
    expect(temperature).to_have_attribute("aria-describedby", re.compile(r"\bsetting-temperature-error\b"))
    expect(temperature).to_be_focused()
    expect(temperature).to_have_value("3")
    expect(dialog.get_by_label("Top K")).to_have_value("40")

    temperature.fill("0.7")
    dialog.get_by_label("System prompt").fill("Answer in one line.")
    dialog.get_by_label("Context length (num_ctx)").fill("4096")
    dialog.get_by_label("Stop sequences").fill("END\nSTOP")
    dialog.get_by_label("Keep alive").fill("10m")
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="Settings saved.")).to_be_visible()
    expect(page.locator("#context-text")).to_have_text("1,300 / 4,096 tokens")

    warning = page.get_by_role("status").filter(has_text="no longer fits")
    expect(warning).to_have_count(0)
    ollama.enqueue_chat("Still here.", stats={"prompt_eval_count": 4000, "eval_count": 20})
    ask(page, "Tell me more")
    request = ollama.chat_requests()[-1].json
    assert request["options"] == {"temperature": 0.7, "top_k": 40, "num_ctx": 4096, "stop": ["END", "STOP"]}
    assert request["messages"][0] == {"role": "system", "content": "Answer in one line."}
    assert request["keep_alive"] == "10m"
    expect(page.locator("#context-text")).to_have_text("4,020 / 4,096 tokens")
    expect(warning).to_have_text(
        "This conversation no longer fits the model's context (4,096 tokens); Ollama is dropping the "
        "oldest messages. Raise the context length in Settings or start a new chat."
    )

    # The same settings as the defaults of new chats; a new chat's settings start from those.
    dialog = settings_dialog(page)
    expect(dialog.get_by_label("Temperature")).to_have_value("0.7")
    dialog.get_by_role("button", name="Save as my defaults").click()
    expect(dialog.get_by_text("Saved as your defaults for new chats.")).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="New chat").click()
    expect(page).to_have_url(f"{live_server_url}/")
    expect(page.get_by_role("meter", name="Context used")).to_be_hidden()
    page.get_by_role("button", name="Settings", exact=True).click()
    defaults = page.get_by_role("dialog", name="Settings for this new chat")
    expect(defaults.get_by_label("Context length (num_ctx)")).to_have_value("4096")
    expect(defaults.get_by_label("Top K")).to_have_value("40")


def defaults_dialog(page: Page) -> Locator:
    """On a new chat, Settings sets that chat's own; "Save as my defaults" keeps them for every new chat."""
    page.get_by_role("button", name="Settings", exact=True).click()
    dialog = page.get_by_role("dialog", name="Settings for this new chat")
    expect(dialog.get_by_label("Temperature")).to_be_editable()
    return dialog


def test_the_default_model_can_be_cleared(signed_in_page: Page, live_server_url: str, ollama):
    page = signed_in_page
    picker = page.get_by_label("Model")
    ollama.enqueue_chat("Hello.")
    ask(page, "Hi")  # the last model used is now MODEL
    page.get_by_role("button", name="New chat").click()
    expect(page).to_have_url(f"{live_server_url}/")

    dialog = defaults_dialog(page)
    model = dialog.get_by_label("Model")
    expect(model.locator("option:checked")).to_have_text("Not set: the model picked in the chat")
    model.select_option("qwen3:8b")
    dialog.get_by_role("button", name="Save as my defaults").click()
    expect(dialog).to_be_hidden()
    page.reload()
    expect(picker.locator("option")).to_have_count(3)
    expect(picker).to_have_value("qwen3:8b")

    dialog = defaults_dialog(page)
    expect(model).to_have_value("qwen3:8b")
    model.select_option(label="Not set: the model picked in the chat")
    dialog.get_by_role("button", name="Save as my defaults").click()
    expect(dialog).to_be_hidden()
    # At once, back to the last model used (the dialog's own "Model" is gone with it).
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value(MODEL)

    page.reload()
    dialog = defaults_dialog(page)
    expect(model).to_have_value("")
    expect(model.locator("option:checked")).to_have_text("Not set: the model picked in the chat")
    dialog.get_by_role("button", name="Cancel").click()
    expect(picker.locator("option")).to_have_count(3)
    expect(picker).to_have_value(MODEL)
    ollama.enqueue_chat("Back on the last model.")
    ask(page, "Which model?")
    expect(page).to_have_url(CONVERSATION_PATH)
    assert [r.json["model"] for r in reply_requests(ollama)] == [MODEL, MODEL]


def test_export_json_then_import_it(signed_in_page: Page, live_server_url: str, ollama, tmp_path: Path):
    page = signed_in_page
    path = start_conversation(
        page, live_server_url, ollama, "Pack this up", "Packed and ready.", "Moving day"
    )

    page.get_by_role("button", name="Export").click()
    menu = page.get_by_role("menu", name="Export")
    expect(menu.get_by_role("menuitem", name="Export Markdown")).to_have_attribute("href", f"{path}export.md")
    expect(menu.get_by_role("menuitem", name="Export zip")).to_have_attribute("href", f"{path}export.zip")
    with page.expect_download() as download:
        menu.get_by_role("menuitem", name="Export JSON").click()
    saved = tmp_path / "export.json"
    download.value.save_as(saved)
    exported = json.loads(saved.read_text())
    messages = exported["conversation"]["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "Pack this up"),
        ("assistant", "Packed and ready."),
    ]
    assert exported["conversation"]["title"] == "Moving day"

    # A file that is not an export: the error shows in the sidebar and nothing changes.
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"hello": "world"}')
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import conversation").click()
    chooser.value.set_files(wrong)
    expect(page.locator("#sidebar").get_by_role("alert")).to_have_text("This is not a conversation export.")
    expect(page).to_have_url(f"{live_server_url}{path}")
    expect(sidebar(page).get_by_role("link")).to_have_count(1)

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import conversation").click()
    chooser.value.set_files(saved)
    expect(page).not_to_have_url(f"{live_server_url}{path}")
    expect(page).to_have_url(CONVERSATION_PATH)
    expect(heading(page)).to_have_text("Moving day")
    expect(content(user_articles(page))).to_have_text(["Pack this up"])
    expect(content(assistant_articles(page))).to_have_text(["Packed and ready."])
    expect(sidebar(page).get_by_role("link", name="Moving day")).to_have_count(2)

    # The zip export comes back in too.
    copy_url = page.url
    page.get_by_role("button", name="Export").click()
    with page.expect_download() as download:
        page.get_by_role("menu", name="Export").get_by_role("menuitem", name="Export zip").click()
    archive = tmp_path / "export.zip"
    download.value.save_as(archive)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import conversation").click()
    chooser.value.set_files(archive)
    expect(page).not_to_have_url(copy_url)
    expect(sidebar(page).get_by_role("link", name="Moving day")).to_have_count(3)
    expect(content(user_articles(page))).to_have_text(["Pack this up"])


def test_a_long_conversation_loads_earlier_messages_on_scroll(
    signed_in_page: Page, live_server_url: str, tmp_path: Path
):
    page = signed_in_page
    export = tmp_path / "long.json"
    export.write_text(json.dumps(export_entry({"title": "Long one", "model": MODEL}, 120)))
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import conversation").click()
    chooser.value.set_files(export)
    expect(heading(page)).to_have_text("Long one")

    articles = page.locator('[aria-label="Messages"] article')
    expect(articles).to_have_count(50)
    expect(content(articles.first)).to_have_text("Question 0070")
    expect(content(articles.last)).to_have_text("Answer 0119")
    page.wait_for_timeout(300)
    expect(articles).to_have_count(50)  # nothing more until the reader scrolls up

    anchor = page.locator(f'article[data-id="{articles.first.get_attribute("data-id")}"]')
    scroller = page.locator("#scroller")
    scroller.evaluate("e => { e.scrollTop = 0; }")
    expect(articles).to_have_count(100)
    expect(content(articles.first)).to_have_text("Question 0020")
    # What was at the top stays where it was, instead of jumping away.
    top = anchor.evaluate(
        "(e) => e.getBoundingClientRect().top - e.closest('#scroller').getBoundingClientRect().top"
    )
    assert -40 < top < 120, f"the former first message moved to {top}px"

    scroller.evaluate("e => { e.scrollTop = 0; }")
    expect(articles).to_have_count(120)
    expect(content(articles.first)).to_have_text("Question 0000")
    expect(page.get_by_text("Loading earlier messages…")).to_be_hidden()
    scroller.evaluate("e => { e.scrollTop = 0; }")
    page.wait_for_timeout(300)
    expect(articles).to_have_count(120)
