"""The chat page in a real browser, against a live server and the fake Ollama."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import (
    MODEL,
    assistant_articles,
    choose_model,
    content,
    message_box,
    reply_requests,
    sign_up,
    user_articles,
)

pytestmark = pytest.mark.browser

CONVERSATION_PATH = re.compile(r"/c/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/$")


# Helpers -------------------------------------------------------------------


def message_list(page: Page) -> Locator:
    return page.locator('[aria-label="Messages"]')


def send_message(page: Page, text: str) -> None:
    box = message_box(page)
    box.fill(text)
    box.press("Enter")


REPLY_STATE = """index => {
    const article = document.querySelectorAll('[aria-label="Messages"] article[data-role="assistant"]')[index];
    const content = article && article.querySelector(".content");
    return content ? {status: article.dataset.status, text: content.textContent} : null;
}"""
STREAMING_TEXT = f"""([index, text]) => {{
    const reply = ({REPLY_STATE})(index);
    return reply && reply.status === "streaming" && reply.text.includes(text) ? reply.text : null;
}}"""


def streaming_text(page: Page, index: int, expected: str) -> str:
    """Wait until reply `index` shows `expected` while still streaming; its text then."""
    try:
        return page.wait_for_function(STREAMING_TEXT, arg=[index, expected]).json_value()
    except PlaywrightTimeoutError:
        seen = page.evaluate(REPLY_STATE, index)
        pytest.fail(f"reply {index} never showed {expected!r} while streaming; now it is {seen}")


def wait_until_complete(article: Locator, text: str) -> None:
    expect(article).to_have_attribute("data-status", "complete")
    expect(content(article)).to_have_text(text)


# Tests ---------------------------------------------------------------------


def test_first_run_signup_then_chat_streams_a_reply(page: Page, live_server_url: str, ollama):
    sign_up(page, live_server_url)
    choose_model(page, MODEL)
    tokens = "Here |is |a |**Bold**| word |and |some |more |text |to |read |last.".split("|")
    ollama.enqueue_chat(*tokens, delay=0.15)

    send_message(page, "Say something bold")

    expect(user_articles(page)).to_have_count(1)
    expect(content(user_articles(page).first)).to_have_text("Say something bold")
    expect(message_box(page)).to_have_value("")
    text = streaming_text(page, 0, "Here")
    assert "last." not in text, f"expected a partial reply, saw {text!r}"
    reply = assistant_articles(page).first

    wait_until_complete(reply, "Here is a Bold word and some more text to read last.")
    expect(content(reply).locator("strong")).to_have_text("Bold")
    expect(assistant_articles(page)).to_have_count(1)

    expect(page).to_have_url(CONVERSATION_PATH)
    path = CONVERSATION_PATH.search(page.url).group(0)
    nav = page.get_by_role("navigation", name="Conversations")
    expect(nav.locator(f'a[href="{path}"]')).to_be_visible()
    assert reply_requests(ollama)[-1].json["model"] == MODEL


def test_stop_ends_the_reply_and_the_upstream_request(signed_in_page: Page, ollama):
    page = signed_in_page
    ollama.enqueue_chat(*(f"w{i} " for i in range(60)), delay=0.2)

    send_message(page, "Count slowly")
    streaming_text(page, 0, "w0")
    page.get_by_role("button", name="Stop").click()

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "stopped")
    expect(content(reply)).to_contain_text("w0")
    assert "w59" not in content(reply).text_content()
    request = reply_requests(ollama)[-1]
    assert request.done.wait(3), "the request to Ollama was still open 3 s after Stop"
    assert request.closed_by_client


def test_reload_mid_reply_shows_the_reply_finishing(signed_in_page: Page, ollama):
    page = signed_in_page
    tokens = [f"t{i} " for i in range(25)]
    ollama.enqueue_chat(*tokens, delay=0.12)

    send_message(page, "Count")
    streaming_text(page, 0, "t3")
    expect(page).to_have_url(CONVERSATION_PATH)
    page.reload()

    assert streaming_text(page, 0, "t0 t1 t2 t3").startswith("t0 t1 t2 t3")
    wait_until_complete(assistant_articles(page).first, "".join(tokens).strip())
    expect(assistant_articles(page)).to_have_count(1)
    expect(user_articles(page)).to_have_count(1)
    expect(content(user_articles(page).first)).to_have_text("Count")


def test_two_tabs_watch_the_same_reply(signed_in_page: Page, ollama):
    first = signed_in_page
    ollama.enqueue_chat("Hi ", "there.")
    send_message(first, "Hello")
    wait_until_complete(assistant_articles(first).first, "Hi there.")
    expect(first).to_have_url(CONVERSATION_PATH)

    second = first.context.new_page()
    second.goto(first.url)
    wait_until_complete(assistant_articles(second).first, "Hi there.")

    tokens = [f"s{i} " for i in range(20)]
    ollama.enqueue_chat(*tokens, delay=0.15)
    send_message(first, "Tell me more")

    expect(user_articles(second)).to_have_count(2)
    expect(content(user_articles(second).nth(1))).to_have_text("Tell me more")
    expect(assistant_articles(second)).to_have_count(2)
    text = streaming_text(second, 1, "s0")
    assert "s19" not in text, f"expected a partial reply in the second tab, saw {text!r}"

    full = "".join(tokens).strip()
    wait_until_complete(assistant_articles(second).nth(1), full)
    wait_until_complete(assistant_articles(first).nth(1), full)
    second.close()


def test_model_output_stays_inert(signed_in_page: Page, ollama):
    page = signed_in_page
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    ollama.enqueue_chat(
        "Look: ",
        "<script>window.__pwned = 1</script>",
        "\n\n",
        '<img src=x onerror="window.__pwned = 2">',
        "\n\n",
        "[click me](javascript:window.__pwned=3)",
        "\n\n",
        '<b onmouseover="window.__pwned=4">hover</b>',
        " done",
        delay=0.05,
    )

    send_message(page, "Show me some HTML")
    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    expect(content(reply)).to_contain_text(" done")

    messages = message_list(page)
    expect(content(reply)).to_contain_text("<script>window.__pwned = 1</script>")
    expect(messages.locator("script")).to_have_count(0)
    expect(messages.locator("img[onerror]")).to_have_count(0)
    expect(messages.locator("[onmouseover]")).to_have_count(0)
    expect(messages.locator('a[href^="javascript:" i]')).to_have_count(0)
    assert page.evaluate("window.__pwned") is None

    click_me = reply.get_by_text("click me")
    if click_me.count():
        click_me.first.click()
    hover = reply.get_by_text("hover")
    if hover.count():
        hover.last.hover()
    expect(page).to_have_url(CONVERSATION_PATH)
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def test_shift_enter_adds_a_line_and_enter_sends(signed_in_page: Page, ollama):
    page = signed_in_page
    ollama.enqueue_chat("Two ", "lines.")
    box = message_box(page)

    box.press_sequentially("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    expect(box).to_have_value("line one\nline two")
    expect(user_articles(page)).to_have_count(0)

    box.press("Enter")
    expect(user_articles(page)).to_have_count(1)
    sent = content(user_articles(page).first)
    expect(sent).to_have_text("line one line two")
    assert sent.inner_text() == "line one\nline two"
    expect(box).to_have_value("")
    wait_until_complete(assistant_articles(page).first, "Two lines.")
    requests = reply_requests(ollama)
    assert len(requests) == 1
    assert requests[0].json["messages"][-1]["content"] == "line one\nline two"


def test_it_is_usable_at_phone_width(page: Page, live_server_url: str, ollama, tmp_path):
    page.set_viewport_size({"width": 375, "height": 740})
    sign_up(page, live_server_url)
    choose_model(page, MODEL)
    box = message_box(page)
    send = page.get_by_role("button", name="Send")
    expect(box).to_be_in_viewport()
    expect(send).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    ollama.enqueue_chat(
        "A long word: ", "Supercalifragilisticexpialidocious" * 4, "\n\n", "```\n", "x = 1  # " + "y" * 120, "\n```\n",
    )  # fmt: skip
    send_message(page, "Something wide, please")
    expect(assistant_articles(page).first).to_have_attribute("data-status", "complete")
    expect(box).to_be_in_viewport()
    expect(send).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # The long word wraps: the message list does not scroll sideways either.
    width, visible_width = message_list(page).evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert width <= visible_width, f"the messages are {width}px wide in a {visible_width}px column"

    screenshot = tmp_path / "phone.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 0
