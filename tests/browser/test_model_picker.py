"""The model picker's filter, on a desktop and a phone-width screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    MODEL,
    assistant_articles,
    choose_model,
    content,
    reply_requests,
    send_message,
    sign_up,
    streaming_text,
    user_articles,
)
from tests.browser.test_images_and_schemas import attach, png

pytestmark = pytest.mark.browser

SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
EVERY_MODEL = [
    "llama3.2:latest · tools · 3.2B",
    "llava:7b · vision · 7B",
    "qwen3:8b · thinking, tools · 8.2B",
]

# The room a <select> has for its chosen option's text, and the width that text needs.
TEXT_ROOM = """select => {
    const style = getComputedStyle(select);
    const context = document.createElement("canvas").getContext("2d");
    context.font = style.font;
    const arrow = 16;
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - arrow;
    return [room, context.measureText(select.selectedOptions[0].text).width];
}"""


@pytest.fixture(params=SCREENS, ids=list(SCREENS))
def chat(request, page: Page, live_server_url: str) -> Page:
    """The chat page at each screen size, signed in, llama3.2 picked."""
    page.set_viewport_size(SCREENS[request.param])
    sign_up(page, live_server_url)
    choose_model(page, MODEL)
    return page


def model_filter(page: Page) -> Locator:
    return page.get_by_role("searchbox", name="Filter models")


def options(page: Page) -> Locator:
    return page.get_by_label("Model").locator("option")


def test_each_model_names_what_it_can_do_and_its_size(chat: Page):
    expect(options(chat)).to_have_text(EVERY_MODEL)


def test_typing_narrows_the_models_and_the_one_left_answers(chat: Page, ollama):
    page = chat
    picker = page.get_by_label("Model")
    search = model_filter(page)

    search.fill("QWEN")
    expect(options(page)).to_have_text(["qwen3:8b · thinking, tools · 8.2B"])
    expect(picker).to_have_value("qwen3:8b")

    # Capabilities and sizes match too, every word of them.
    search.fill("vision")
    expect(options(page)).to_have_text(["llava:7b · vision · 7B"])
    expect(picker).to_have_value("llava:7b")
    search.fill("tools 3.2b")
    expect(options(page)).to_have_text(["llama3.2:latest · tools · 3.2B"])
    search.fill("tools")
    expect(options(page)).to_have_text([EVERY_MODEL[0], EVERY_MODEL[2]])
    expect(picker).to_have_value(MODEL)

    # Escape clears the filter and keeps the model chosen.
    search.fill("lla")
    picker.select_option(value="llava:7b")
    search.press("Escape")
    expect(search).to_have_value("")
    expect(options(page)).to_have_text(EVERY_MODEL)
    expect(picker).to_have_value("llava:7b")

    ollama.enqueue_chat("Seen.")
    send_message(page, "Look")
    expect(content(assistant_articles(page).first)).to_have_text("Seen.")
    assert [r.json["model"] for r in reply_requests(ollama)] == ["llava:7b"]


def test_enter_and_the_down_arrow_move_to_the_list_without_sending(chat: Page, ollama):
    page = chat
    picker = page.get_by_label("Model")
    search = model_filter(page)

    search.fill("8b")
    search.press("Enter")
    expect(picker).to_be_focused()
    expect(options(page)).to_have_text(["qwen3:8b · thinking, tools · 8.2B"])
    search.press("ArrowDown")
    expect(picker).to_be_focused()
    expect(user_articles(page)).to_have_count(0)

    ollama.enqueue_chat("Thought.")
    send_message(page, "Think")
    expect(content(assistant_articles(page).first)).to_have_text("Thought.")
    assert [r.json["model"] for r in reply_requests(ollama)] == ["qwen3:8b"]


def test_a_filter_nothing_matches_says_so_and_keeps_the_model(chat: Page, ollama):
    page = chat
    picker = page.get_by_label("Model")
    search = model_filter(page)

    search.fill("mistral")
    expect(page.get_by_role("status").filter(has_text="No model matches.")).to_be_visible()
    expect(search).to_have_attribute("aria-invalid", "")
    expect(picker).to_have_value(MODEL)

    search.fill("qwen")
    expect(page.get_by_text("No model matches.")).to_have_count(0)
    search.fill("")
    expect(options(page)).to_have_text(EVERY_MODEL)
    expect(picker).to_have_value("qwen3:8b")


def test_the_picker_fits_the_screen(chat: Page):
    page = chat
    width = page.viewport_size["width"]
    picker = page.get_by_label("Model")
    search = model_filter(page)
    for control in (picker, search, page.get_by_role("button", name="Send")):
        expect(control).to_be_in_viewport(ratio=1)
        box = control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # The longest label shows whole: the list has room for its text, its padding and its arrow.
    search.fill("qwen")
    expect(picker).to_have_value("qwen3:8b")
    room, needed = picker.evaluate(TEXT_ROOM)
    assert needed <= room, f"{needed}px of text in a list with room for {room}px"
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_escape_in_the_filter_clears_it_and_leaves_the_reply_going(signed_in_page: Page, ollama):
    page = signed_in_page
    ollama.enqueue_chat("one ", "two ", "three.", delay=0.4)
    send_message(page, "Count")
    streaming_text(page, 0, "one")

    search = model_filter(page)
    search.fill("qwen")
    search.press("Escape")
    expect(search).to_have_value("")

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    expect(content(reply)).to_have_text("one two three.")


def test_switching_to_a_model_the_filter_hides_clears_the_filter(signed_in_page: Page, tmp_path):
    page = signed_in_page
    search = model_filter(page)
    search.fill("qwen")
    expect(page.get_by_label("Model")).to_have_value("qwen3:8b")

    attach(page, png(tmp_path))
    page.get_by_role("button", name="Switch to llava:7b").click()
    expect(page.get_by_label("Model")).to_have_value("llava:7b")
    expect(search).to_have_value("")
    expect(options(page)).to_have_text(EVERY_MODEL)
