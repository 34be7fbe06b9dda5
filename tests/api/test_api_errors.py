"""Every refusal is in OpenAI's error shape, with the status the `openai` client turns into its
matching exception class; one user's key reaches none of another user's conversations."""

from __future__ import annotations

import base64
import copy
import re

import httpx
import openai
import pytest

from tests.api.conftest import add_user, create_key, sign_in
from tests.fake_ollama.catalog import LIBRARY
from tests.helpers import closed_port_url, png

pytestmark = pytest.mark.usefixtures("ollama")


def test_each_refusal_raises_the_clients_matching_exception(api, ollama):
    client = api.client()
    with pytest.raises(openai.AuthenticationError) as refused:
        api.client(key="sk-chat-wrong").models.list()
    assert refused.value.code == "invalid_api_key"

    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(model="missing-model", messages=[{"role": "user", "content": "hi"}])
    assert "missing-model" in refused.value.message

    ollama.install(copy.deepcopy(next(m for m in LIBRARY if m["name"] == "nomic-embed-text:latest")))
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="nomic-embed-text", messages=[{"role": "user", "content": "hi"}])

    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="llama3.2", messages=[{"role": "user", "content": "hi"}], temperature=7
        )
    assert refused.value.param == "temperature"

    with pytest.raises(openai.BadRequestError):  # a schema the product refuses
        client.chat.completions.create(
            model="llama3.2",
            messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nope"}}},
        )

    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve("conv_" + "0" * 32)

    image = "data:image/png;base64," + base64.b64encode(png()).decode()
    with pytest.raises(openai.BadRequestError) as refused:  # llama3.2 cannot see
        client.chat.completions.create(
            model="llama3.2",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": image}},
                        {"type": "text", "text": "what?"},
                    ],
                }
            ],
        )
    assert "cannot see" in refused.value.message
    # Nothing was asked of Ollama for any of these.
    assert ollama.chat_requests() == []


def test_a_revoked_key_is_refused(api):
    page = api.browser.get("/api-keys/")
    key_id = re.search(r'action="/api-keys/(\d+)/revoke/"', page.text).group(1)
    token = api.browser.cookies["csrftoken"]
    response = api.browser.post(f"/api-keys/{key_id}/revoke/", data={"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    with pytest.raises(openai.AuthenticationError):
        api.client().models.list()


def test_past_the_rate_limit_a_key_gets_429_with_retry_after(api):
    api.server.env["API_RATE_LIMIT"] = "1"
    api.server.restart()
    client = api.client()
    # The limit counts calls a minute, so within three calls one is refused whenever the minute turns.
    with pytest.raises(openai.RateLimitError) as refused:
        for _ in range(3):
            client.models.list()
    retry_after = int(refused.value.response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert refused.value.body["type"] == "rate_limit_error"


def test_an_unreachable_ollama_is_a_503_with_the_pages_text(start_live_server):
    from tests.live_server import signed_up

    server = start_live_server(closed_port_url())
    browser = signed_up(server)
    with (
        openai.OpenAI(base_url=f"{server.url}/v1/", api_key=create_key(browser), max_retries=0) as client,
        pytest.raises(openai.InternalServerError) as refused,
    ):
        client.chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 503
    assert "Cannot reach Ollama" in refused.value.message
    browser.close()


def test_one_users_key_cannot_read_continue_or_delete_anothers_conversations(api, ollama):
    ollama.enqueue_chat("Secret answer.")
    alice = api.client()
    conversation = alice.conversations.create()
    first = alice.responses.create(model="llama3.2", input="A secret", conversation=conversation.id)

    add_user(api.server, "bob", "bob-Long-pass-123")
    bob_browser = sign_in(api.server, "bob", "bob-Long-pass-123")
    bob = api.client(key=create_key(bob_browser))
    with pytest.raises(openai.NotFoundError):
        bob.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        bob.conversations.items.list(conversation.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="llama3.2", input="and?", conversation=conversation.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.create(model="llama3.2", input="and?", previous_response_id=first.id)
    with pytest.raises(openai.NotFoundError):
        bob.conversations.delete(conversation.id)
    # Alice's conversation is whole, and bob has none.
    items = alice.conversations.items.list(conversation.id, order="asc")
    assert [item.content[0].text for item in items.data] == ["A secret", "Secret answer."]
    assert httpx.get(f"{api.server.url}/c/", cookies=bob_browser.cookies).json()["groups"] == []
    bob_browser.close()


def test_ollama_failing_mid_reply_is_a_503_or_an_error_event(api, ollama):
    client = api.client()
    ollama.enqueue_stream_error("Half ", error="model runner crashed")
    with pytest.raises(openai.InternalServerError) as refused:
        client.chat.completions.create(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert "model runner crashed" in refused.value.message

    ollama.enqueue_stream_error("Half ", error="model runner crashed", delay=0.05)
    stream = client.chat.completions.create(
        model="llama3.2", messages=[{"role": "user", "content": "again"}], stream=True
    )
    with pytest.raises(openai.APIError, match="model runner crashed"):
        list(stream)

    ollama.enqueue_stream_error("Half ", error="model runner crashed", delay=0.05)
    events = list(client.responses.create(model="llama3.2", input="and again", stream=True))
    assert events[-1].type == "response.failed"
    assert "model runner crashed" in events[-1].response.error.message


def test_a_second_call_while_the_conversation_is_answering_is_a_conflict(api, ollama):
    client = api.client()
    conversation = client.conversations.create()
    ollama.enqueue_chat(*[f"w{i} " for i in range(10)], delay=0.1)
    stream = client.responses.create(
        model="llama3.2", input="Talk", conversation=conversation.id, stream=True
    )
    events = iter(stream)
    next(event for event in events if event.type == "response.output_text.delta")
    with pytest.raises(openai.ConflictError) as refused:
        client.responses.create(model="llama3.2", input="Me too", conversation=conversation.id)
    assert "still being written" in refused.value.message
    assert list(events)[-1].type == "response.completed"
    texts = [
        item.content[0].text for item in client.conversations.items.list(conversation.id, order="asc").data
    ]
    assert texts == ["Talk", "".join(f"w{i} " for i in range(10))]
