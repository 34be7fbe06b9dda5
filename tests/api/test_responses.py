"""/v1/responses and /v1/conversations with the real `openai` client: server-side sessions."""

from __future__ import annotations

import base64
import json
import time

import openai
import pytest

from tests.helpers import png

pytestmark = pytest.mark.usefixtures("ollama")


def test_a_stored_conversation_goes_on_over_three_turns_sending_only_the_new_message(api, ollama):
    client = api.client()
    conversation = client.conversations.create(metadata={"topic": "greetings"})
    assert conversation.id.startswith("conv_")
    for answer in ("Hello!", "Fine.", "Goodbye."):
        ollama.enqueue_chat(answer)
    texts = []
    for question in ("Hi", "How are you?", "Bye"):
        response = client.responses.create(model="llama3.2", input=question, conversation=conversation.id)
        texts.append(response.output_text)
        assert response.status == "completed" and response.conversation.id == conversation.id
    assert texts == ["Hello!", "Fine.", "Goodbye."]
    assert response.usage.input_tokens == 12 and response.usage.output_tokens == 1
    # The server replayed the history; the client sent one message each time.
    assert [m["content"] for m in ollama.chat_requests()[-1].json["messages"]] == [
        "Hi",
        "Hello!",
        "How are you?",
        "Fine.",
        "Bye",
    ]
    items = client.conversations.items.list(conversation.id, order="asc")
    assert [(item.role, item.content[0].text) for item in items.data] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "How are you?"),
        ("assistant", "Fine."),
        ("user", "Bye"),
        ("assistant", "Goodbye."),
    ]
    newest = client.conversations.items.list(conversation.id, limit=2)
    assert [item.content[0].text for item in newest.data] == ["Goodbye.", "Bye"] and newest.has_more
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "greetings"}


def test_instructions_and_earlier_items_start_a_conversation(api, ollama):
    ollama.enqueue_chat("Blue.")
    response = api.client().responses.create(
        model="llama3.2",
        instructions="Answer in one word.",
        input=[
            {"role": "user", "content": "My favourite colour is blue."},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": [{"type": "input_text", "text": "What is it?"}]},
        ],
    )
    assert response.output_text == "Blue." and response.instructions == "Answer in one word."
    assert ollama.chat_requests()[-1].json["messages"] == [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "My favourite colour is blue."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "What is it?"},
    ]


def test_previous_response_id_continues_where_that_response_left_off(api, ollama):
    client = api.client()
    ollama.enqueue_chat("Four.")
    first = client.responses.create(model="llama3.2", input="2+2?")
    ollama.enqueue_chat("Eight.")
    second = client.responses.create(model="llama3.2", input="Double it?", previous_response_id=first.id)
    assert second.output_text == "Eight." and second.conversation.id == first.conversation.id
    assert [m["content"] for m in ollama.chat_requests()[-1].json["messages"]] == [
        "2+2?",
        "Four.",
        "Double it?",
    ]
    with pytest.raises(openai.BadRequestError):  # not the latest any more
        client.responses.create(model="llama3.2", input="Again?", previous_response_id=first.id)


def test_a_streamed_response_follows_the_documented_event_sequence(api, ollama):
    ollama.enqueue_chat("Hel", "lo", delay=0.05)
    events = list(api.client().responses.create(model="llama3.2", input="Hi", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.output_text == "Hello"


def test_text_format_json_schema_constrains_the_reply(api, ollama):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    ollama.enqueue_chat('{"n": 4}')
    response = api.client().responses.create(
        model="llama3.2",
        input="2+2 as JSON",
        text={"format": {"type": "json_schema", "name": "answer", "schema": schema}},
    )
    assert json.loads(response.output_text) == {"n": 4}
    assert ollama.chat_requests()[-1].json["format"] == schema


def test_store_false_leaves_no_conversation_behind(api, ollama):
    ollama.enqueue_chat("Gone.")
    response = api.client().responses.create(model="llama3.2", input="Forget this", store=False)
    assert response.output_text == "Gone." and response.conversation is None
    assert api.browser.get("/c/").json()["groups"] == []


def test_a_deleted_conversation_is_gone_for_the_page_too(api, ollama):
    client = api.client()
    ollama.enqueue_chat("Hi.")
    conversation = client.conversations.create()
    client.responses.create(model="llama3.2", input="Hello", conversation=conversation.id)
    deleted = client.conversations.delete(conversation.id)
    assert deleted.deleted and deleted.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    assert api.browser.get("/c/").json()["groups"] == []


def test_a_client_that_leaves_mid_stream_does_not_stop_the_reply(api, ollama):
    client = api.client()
    conversation = client.conversations.create()
    tokens = [f"w{i} " for i in range(10)]
    ollama.enqueue_chat(*tokens, delay=0.1)
    stream = client.responses.create(
        model="llama3.2", input="Talk", conversation=conversation.id, stream=True
    )
    for event in stream:
        if event.type == "response.output_text.delta":
            break
    stream.close()
    recorded = ollama.chat_requests()[-1]
    assert recorded.done.wait(10) and not recorded.closed_by_client
    for _ in range(100):  # the reply is saved just after Ollama's last line
        items = client.conversations.items.list(conversation.id)
        if items.data[0].status == "completed":
            break
        time.sleep(0.05)
    assert items.data[0].content[0].text == "".join(tokens)


def test_an_input_image_reaches_a_vision_model(api, ollama):
    ollama.enqueue_chat("A small green picture.")
    image = png()
    response = api.client().responses.create(
        model="llava:7b",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Describe it."},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64," + base64.b64encode(image).decode(),
                    },
                ],
            }
        ],
    )
    assert response.output_text == "A small green picture."
    sent = ollama.chat_requests()[-1].json["messages"][-1]
    assert sent["content"] == "Describe it." and base64.b64decode(sent["images"][0]) == image
