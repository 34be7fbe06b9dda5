"""Conversations shared by scripts and the page: made by the API and opened in the browser, made in
the browser and continued by the `openai` client, a tab showing the API's reply as it streams."""

from __future__ import annotations

import re
import uuid

import openai
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    assistant_articles,
    content,
    send_message,
    sign_up,
    streaming_text,
    user_articles,
)

pytestmark = pytest.mark.browser


def create_key(page: Page) -> str:
    """A key made on the API keys page, reached from the chat page's menu."""
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("New API key").input_value()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text(key[:14])
    return key


@pytest.fixture
def client_for():
    """The openai client on the app with a key, as a script makes it (closed after the test)."""
    made: list[openai.OpenAI] = []

    def make(base_url: str, key: str) -> openai.OpenAI:
        made.append(openai.OpenAI(base_url=f"{base_url}/v1/", api_key=key, max_retries=0))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_a_conversation_made_by_a_script_opens_in_the_page_with_every_turn(
    page: Page, live_server_url: str, ollama, client_for
):
    sign_up(page, live_server_url)
    client = client_for(live_server_url, create_key(page))
    conversation = client.conversations.create()
    for answer in ("Hello!", "Fine.", "Goodbye."):
        ollama.enqueue_chat(answer)
    for question in ("Hi", "How are you?", "Bye"):
        client.responses.create(model="llama3.2", input=question, conversation=conversation.id)

    page.goto(f"{live_server_url}/c/{uuid.UUID(conversation.id.removeprefix('conv_'))}/")
    expect(user_articles(page)).to_have_count(3)
    expect(assistant_articles(page)).to_have_count(3)
    expect(content(user_articles(page).nth(1))).to_have_text("How are you?")
    expect(content(assistant_articles(page).nth(2))).to_have_text("Goodbye.")
    expect(page.get_by_role("link", name="Hi")).to_be_visible()  # in the sidebar, titled by its first words


def test_a_browser_conversation_goes_on_from_a_script_and_the_tab_streams_it(
    signed_in_page: Page, live_server_url: str, ollama, client_for
):
    page = signed_in_page
    ollama.enqueue_chat("Hello from the page.")
    send_message(page, "Hi from the page")
    expect(assistant_articles(page).first).to_have_attribute("data-status", "complete")
    conversation_url = page.url
    conversation_id = re.search(r"/c/([0-9a-f-]{36})/$", conversation_url).group(1)

    key_page = page.context.new_page()
    key_page.goto(live_server_url)
    client = client_for(live_server_url, create_key(key_page))

    ollama.enqueue_chat("Streamed ", "to ", "the ", "open ", "tab.", delay=0.3)
    stream = client.responses.create(
        model="llama3.2",
        input="Hi from a script",
        conversation=f"conv_{uuid.UUID(conversation_id).hex}",
        stream=True,
    )
    events = iter(stream)
    deltas = []
    for event in events:  # read until the reply has begun, then watch the tab
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
            break
    expect(content(user_articles(page).nth(1))).to_have_text("Hi from a script")
    streaming_text(page, 1, "Streamed")
    rest = list(events)
    deltas += [e.delta for e in rest if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Streamed to the open tab."
    assert rest[-1].type == "response.completed"
    expect(assistant_articles(page).nth(1)).to_have_attribute("data-status", "complete")
    expect(content(assistant_articles(page).nth(1))).to_have_text("Streamed to the open tab.")
    # The script's turn was replayed after the page's.
    assert [m["content"] for m in ollama.chat_requests()[-1].json["messages"]] == [
        "Hi from the page",
        "Hello from the page.",
        "Hi from a script",
    ]


def test_a_scripts_own_tool_call_shows_as_a_used_block_running_then_done(
    page: Page, live_server_url: str, ollama, client_for
):
    sign_up(page, live_server_url)
    client = client_for(live_server_url, create_key(page))
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    history = [{"role": "user", "content": 'Look it up [[tool:lookup {"q": "x"}]]'}]
    first = client.chat.completions.create(model="llama3.2", messages=history, tools=tools)
    [call] = first.choices[0].message.tool_calls

    conversation = uuid.UUID(first.model_extra["conversation"].removeprefix("conv_"))
    page.goto(f"{live_server_url}/c/{conversation}/")
    reply = assistant_articles(page).first
    block = reply.locator(".tool-call")
    expect(block.locator("summary")).to_have_text("Used lookup · running… (client)")

    history += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "<b>found</b>"},
    ]
    client.chat.completions.create(model="llama3.2", messages=history, tools=tools)
    # The open tab sees the reply go on, and the call done with its result as text.
    expect(reply).to_have_attribute("data-status", "complete")
    expect(content(reply)).to_contain_text("Tool results: <b>found</b>")
    expect(block.locator("summary")).to_have_text("Used lookup (client)")
    block.locator("summary").click()
    expect(block.locator(".tool-result")).to_have_text("<b>found</b>")
