"""Tools in a real browser: switching one on, its "Used …" block streaming before the answer,
expanding to the whole result, and Allow on a call that asks first."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assistant_articles, content, send_message
from tests.fake_ollama import tool_call

pytestmark = pytest.mark.browser


def start_conversation(page: Page, ollama) -> None:
    ollama.enqueue_chat("Hello.")
    send_message(page, "hi")
    expect(assistant_articles(page).first).to_have_attribute("data-status", "complete")


def switch_on(page: Page, name: str) -> None:
    page.get_by_role("button", name="Tools").click()
    panel = page.get_by_role("region", name="Tools")
    box = panel.get_by_role("checkbox", name=name)
    box.check()
    expect(page.get_by_role("button", name="Tools (1)")).to_be_visible()
    page.get_by_role("button", name="Tools (1)").click()
    expect(panel).to_be_hidden()


def test_a_tool_call_streams_before_the_answer_and_expands(signed_in_page: Page, ollama):
    page = signed_in_page
    start_conversation(page, ollama)
    switch_on(page, "calculator")
    ollama.enqueue_tool_calls(
        tool_call("calculator", {"expression": "2**2000"}), tokens=("Let me compute. ",)
    )
    ollama.enqueue_chat(*[f"word{i} " for i in range(30)], delay=0.1)

    send_message(page, "What is 2 to the 2000th?")

    reply = assistant_articles(page).nth(1)
    block = reply.locator(".tool-call")
    expect(block.locator("summary")).to_have_text("Used calculator")
    expect(reply).to_have_attribute("data-status", "streaming")  # the block shows while the answer streams
    expect(content(reply)).to_contain_text("word3")
    expect(reply).to_have_attribute("data-status", "complete", timeout=10_000)
    expect(content(reply)).to_contain_text("word29")
    # Above the answer, closed until asked for.
    assert (
        reply.locator(".tool-call + .content").count() == 1
        or reply.locator(".tool-calls + .content").count() == 1
    )
    expect(block.locator(".tool-result")).to_be_hidden()

    block.locator("summary").click()
    expect(block.locator(".tool-arguments")).to_contain_text('"expression": "2**2000"')
    result = block.locator(".tool-result")
    expect(result).to_have_text(str(2**2000)[:300] + "…")
    block.get_by_role("button", name="Show all 603 characters").click()
    expect(result).to_have_text(str(2**2000))


def test_tool_arguments_and_results_are_text_never_html(signed_in_page: Page, ollama):
    page = signed_in_page
    start_conversation(page, ollama)
    switch_on(page, "calculator")
    hostile = "<img src=x onerror=document.title=1>"
    ollama.enqueue_tool_calls(tool_call("calculator", {"expression": hostile}))
    ollama.enqueue_chat("Done.")

    send_message(page, "compute this")

    reply = assistant_articles(page).nth(1)
    expect(reply).to_have_attribute("data-status", "complete")
    block = reply.locator(".tool-call")
    block.locator("summary").click()
    expect(block.locator(".tool-arguments")).to_contain_text(hostile)
    assert block.locator("img").count() == 0
    assert page.title() != "1"


def test_allow_from_a_second_tab_lets_an_ask_first_call_run(
    signed_in_page: Page, app_server, context, ollama, fake_mcp
):
    from tests.browser.conftest import USERNAME

    app_server.manage(
        "shell",
        "-c",
        "from conversations.models import ToolServer; from django.contrib.auth import get_user_model; "
        f"s = ToolServer.objects.create(name='fake', url='{fake_mcp.url}', ask_first=['echo'], state='up', "
        "tools=[{'name': 'echo', 'description': 'Repeat the text given.', 'parameters': {'type': 'object'}}]); "
        f"s.users.add(get_user_model().objects.get(username='{USERNAME}'))",
    )
    page = signed_in_page
    start_conversation(page, ollama)
    switch_on(page, "echo (asks first)")
    other = context.new_page()
    other.goto(page.url)
    expect(assistant_articles(other)).to_have_count(1)
    ollama.enqueue_tool_calls(tool_call("echo", {"text": "from tab two"}))
    ollama.enqueue_chat("It ", "said ", "so.", delay=0.1)

    send_message(page, "echo something")

    for tab in (page, other):
        asked = assistant_articles(tab).nth(1).locator(".tool-call")
        expect(asked.get_by_role("button", name="Allow")).to_be_visible()
        expect(asked.get_by_role("button", name="Deny")).to_be_visible()
    assert fake_mcp.calls == []
    assistant_articles(other).nth(1).get_by_role("button", name="Allow").click()

    reply = assistant_articles(page).nth(1)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(content(reply)).to_have_text("It said so.")
    expect(reply.get_by_role("button", name="Allow")).to_have_count(0)
    reply.locator(".tool-call summary").click()
    expect(reply.locator(".tool-result")).to_have_text("echo: from tab two")
    assert fake_mcp.calls == [("echo", {"text": "from tab two"})]
    other.close()


def test_tools_chosen_before_the_first_message_are_used_by_its_reply(signed_in_page: Page, ollama):
    page = signed_in_page
    switch_on(page, "calculator")
    ollama.enqueue_tool_calls(tool_call("calculator", {"expression": "6*7"}))
    ollama.enqueue_chat("It is 42.")

    send_message(page, "What is 6*7?")

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".tool-call summary")).to_have_text("Used calculator")
    expect(content(reply)).to_have_text("It is 42.")
    expect(page.get_by_role("button", name="Tools (1)")).to_be_visible()  # kept with the conversation
