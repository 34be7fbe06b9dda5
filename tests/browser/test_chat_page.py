"""The chat page in a real browser, against a live server and the fake Ollama."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    MODEL,
    assistant_articles,
    choose_model,
    content,
    message_box,
    reply_requests,
    send_message,
    sign_up,
    streaming_text,
    user_articles,
)

pytestmark = pytest.mark.browser

CONVERSATION_PATH = re.compile(r"/c/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/$")


# Helpers -------------------------------------------------------------------


def message_list(page: Page) -> Locator:
    return page.locator('[aria-label="Messages"]')


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
        "A long word: ",
        "Supercalifragilisticexpialidocious" * 4,
        "\n\n",
        "```\n",
        "x = 1  # " + "y" * 120,
        "\n```\n",
    )
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


def test_the_reply_says_the_model_is_loading_until_the_first_token(signed_in_page: Page, ollama):
    page = signed_in_page
    ollama.enqueue_chat("Ready ", "at ", "last.", first_delay=1.5, delay=0.3)

    send_message(page, "Wake up")

    reply = assistant_articles(page).first
    loading = reply.get_by_text("Loading model…")
    expect(loading).to_be_visible()
    expect(reply).to_have_attribute("data-status", "streaming")
    text = streaming_text(page, 0, "Ready")
    assert "Loading model…" not in text, f"the loading note stayed next to the first token: {text!r}"
    expect(loading).to_have_count(0)
    wait_until_complete(reply, "Ready at last.")


def test_new_chat_starts_an_empty_conversation_and_keeps_the_first(
    signed_in_page: Page, live_server_url: str, ollama
):
    page = signed_in_page
    nav = page.get_by_role("navigation", name="Conversations")
    ollama.enqueue_chat("First ", "answer.")
    send_message(page, "First question")
    wait_until_complete(assistant_articles(page).first, "First answer.")
    expect(page).to_have_url(CONVERSATION_PATH)
    first = CONVERSATION_PATH.search(page.url).group(0)
    expect(nav.get_by_role("link")).to_have_count(1)

    page.get_by_role("button", name="New chat").click()

    expect(page).to_have_url(f"{live_server_url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New chat")
    expect(page.get_by_text("Send a message to start the conversation.")).to_be_visible()
    expect(user_articles(page)).to_have_count(0)
    expect(assistant_articles(page)).to_have_count(0)
    expect(nav.locator(f'a[href="{first}"]')).to_be_visible()

    ollama.enqueue_chat("Second ", "answer.")
    send_message(page, "Second question")
    wait_until_complete(assistant_articles(page).first, "Second answer.")
    expect(page).to_have_url(CONVERSATION_PATH)
    second = CONVERSATION_PATH.search(page.url).group(0)
    assert second != first
    expect(user_articles(page)).to_have_count(1)
    expect(nav.get_by_role("link")).to_have_count(2)
    expect(nav.locator(f'a[href="{second}"]')).to_be_visible()

    nav.locator(f'a[href="{first}"]').click()
    expect(page).to_have_url(f"{live_server_url}{first}")
    expect(content(user_articles(page))).to_have_text(["First question"])
    expect(content(assistant_articles(page))).to_have_text(["First answer."])
    assert [r.json["messages"][-1]["content"] for r in reply_requests(ollama)] == [
        "First question",
        "Second question",
    ]
    assert len(reply_requests(ollama)[1].json["messages"]) == 1  # the new chat started from nothing


CODE = 'def greet(name):\n    return f"Hello, {name}!"\n'


def test_a_finished_reply_shows_its_speed_highlighted_code_and_collapsed_thinking(
    signed_in_page: Page, ollama
):
    page = signed_in_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    choose_model(page, "qwen3:8b")
    eval_count, eval_duration = 57, 2_345_000_000  # nanoseconds, as Ollama reports them
    ollama.enqueue_chat(
        "Here it is:\n\n",
        "```python\n",
        *CODE.splitlines(keepends=True),
        "```\n",
        thinking=("They want ", "a greeting ", "function."),
        stats={"eval_count": eval_count, "eval_duration": eval_duration},
        delay=0.05,
    )

    send_message(page, "Write a greeting function")

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    speed = eval_count / (eval_duration / 1e9)
    expect(reply.locator(".stats")).to_have_text(f"{eval_count} tokens · {speed:.1f} tok/s")

    code = reply.locator('pre code[data-lang="python"]')
    expect(code).to_have_text(CODE)
    keyword = code.locator("span", has_text="def").first
    expect(keyword).to_be_visible()
    plain = code.evaluate("e => getComputedStyle(e).color")
    assert keyword.evaluate("e => getComputedStyle(e).color") != plain, "the keyword is not coloured"

    copy = reply.get_by_role("button", name="Copy code")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == CODE

    thinking = reply.get_by_text("They want a greeting function.")
    summary = reply.get_by_text("Thinking", exact=True)
    expect(summary).to_be_visible()
    expect(thinking).to_be_hidden()
    expect(content(reply)).not_to_contain_text("They want")
    summary.click()
    expect(thinking).to_be_visible()
    summary.click()
    expect(thinking).to_be_hidden()


def test_the_picker_remembers_the_last_model_used(signed_in_page: Page, live_server_url: str, ollama):
    page = signed_in_page
    picker = page.get_by_label("Model")
    options = picker.locator("option")
    choose_model(page, "qwen3:8b")
    ollama.enqueue_chat("Fine.")
    send_message(page, "Hello")
    wait_until_complete(assistant_articles(page).first, "Fine.")
    first = CONVERSATION_PATH.search(page.url).group(0)

    page.reload()
    expect(options).to_have_count(3)
    expect(picker).to_have_value("qwen3:8b")

    page.get_by_role("button", name="New chat").click()
    expect(page).to_have_url(f"{live_server_url}/")
    expect(options).to_have_count(3)
    expect(picker).to_have_value("qwen3:8b")
    page.reload()
    expect(options).to_have_count(3)
    expect(picker).to_have_value("qwen3:8b")

    choose_model(page, "llava:7b")
    ollama.enqueue_chat("Seen.")
    send_message(page, "Look")
    wait_until_complete(assistant_articles(page).first, "Seen.")
    page.get_by_role("button", name="New chat").click()
    expect(options).to_have_count(3)
    expect(picker).to_have_value("llava:7b")

    # A conversation opens on its own model, not on the last one used.
    page.goto(f"{live_server_url}{first}")
    expect(options).to_have_count(3)
    expect(picker).to_have_value("qwen3:8b")
    assert [r.json["model"] for r in reply_requests(ollama)] == ["qwen3:8b", "llava:7b"]


def test_the_picker_marks_the_models_that_can_see(page: Page, live_server_url: str, ollama):
    # What a model can do comes from Ollama (/api/show), not from its name.
    llama = ollama.find_model(MODEL)
    ollama.models += [
        {**llama, "name": "gemma3:4b", "capabilities": ["completion", "vision"]},
        {**llama, "name": "llava:13b", "capabilities": ["completion"]},
    ]
    sign_up(page, live_server_url)

    picker = page.get_by_label("Model")
    expect(picker.locator("option")).to_have_count(5)
    for name in ("llava:7b", "gemma3:4b"):
        expect(picker.locator(f'option[value="{name}"]')).to_contain_text(f"{name} · vision")
    for name in (MODEL, "qwen3:8b", "llava:13b"):
        expect(picker.locator(f'option[value="{name}"]')).to_contain_text(name)
        expect(picker.locator(f'option[value="{name}"]')).not_to_contain_text("vision")


def test_the_picker_names_what_each_model_can_do_and_leaves_out_embedding_models(
    page: Page, live_server_url: str, ollama
):
    llama = ollama.find_model(MODEL)
    embedder = "nomic-embed-text:latest"
    ollama.models += [
        {**llama, "name": "gemma3:4b", "capabilities": ["completion", "vision", "tools", "thinking"]},
        {**llama, "name": embedder, "family": "nomic-bert", "capabilities": ["embedding"]},
    ]
    sign_up(page, live_server_url)

    picker = page.get_by_label("Model")
    options = picker.locator("option")
    expect(options).to_have_text(
        [
            "gemma3:4b · vision, thinking, tools · 3.2B",
            "llama3.2:latest · tools · 3.2B",
            "llava:7b · vision · 7B",
            "qwen3:8b · thinking, tools · 8.2B",
        ]
    )
    expect(picker.locator(f'option[value="{embedder}"]')).to_have_count(0)

    # Neither the model remembered in the browser nor the user's default may be one that cannot chat.
    page.evaluate(
        """async (model) => {
            localStorage.setItem("lastModel", model);
            const token = document.querySelector("input[name=csrfmiddlewaretoken]").value;
            const res = await fetch("/settings/defaults/", {
                method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                body: JSON.stringify({model, system_prompt: "", options: {}, keep_alive: ""}),
            });
            if (res.status !== 200) throw new Error(`defaults: HTTP ${res.status}`);
        }""",
        embedder,
    )
    page.reload()
    expect(options).to_have_count(4)
    expect(picker.locator(f'option[value="{embedder}"]')).to_have_count(0)
    expect(picker).to_have_value("gemma3:4b")

    ollama.enqueue_chat("Fine.")
    send_message(page, "Hello")
    wait_until_complete(assistant_articles(page).first, "Fine.")
    assert [r.json["model"] for r in reply_requests(ollama)] == ["gemma3:4b"]
    assert page.evaluate("localStorage.getItem('lastModel')") == "gemma3:4b"
