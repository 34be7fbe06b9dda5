"""/v1/chat/completions with the real `openai` client, against a live app and the fake Ollama."""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid

import httpx
import pytest
import websockets.sync.client

from tests.fake_ollama.catalog import LIBRARY
from tests.helpers import png

pytestmark = pytest.mark.usefixtures("ollama")


def test_a_script_that_keeps_its_own_history_continues_one_stored_conversation(api, ollama):
    client = api.client()
    history = [{"role": "system", "content": "Be brief."}]
    answers = []
    for question, answer in [("Hi", "Hello!"), ("How are you?", "Fine."), ("Bye", "Goodbye.")]:
        ollama.enqueue_chat(answer)
        history.append({"role": "user", "content": question})
        completion = client.chat.completions.create(model="llama3.2", messages=history)
        reply = completion.choices[0].message.content
        history.append({"role": "assistant", "content": reply})
        answers.append(completion)
    assert [a.choices[0].message.content for a in answers] == ["Hello!", "Fine.", "Goodbye."]
    assert answers[0].choices[0].finish_reason == "stop"
    assert answers[0].usage.prompt_tokens == 12 and answers[0].usage.completion_tokens == 1
    # One conversation: each call after the first is its continuation.
    assert len({a.model_extra["conversation"] for a in answers}) == 1
    last = ollama.chat_requests()[-1].json["messages"]
    assert last == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
        {"role": "assistant", "content": "Fine."},
        {"role": "user", "content": "Bye"},
    ]
    sidebar = api.browser.get("/c/").json()
    assert len([c for group in sidebar["groups"] for c in group["conversations"]]) == 1


def test_a_streamed_completion_comes_in_chunks_then_usage(api, ollama):
    ollama.enqueue_chat("One ", "two ", "three.", delay=0.05)
    stream = api.client().chat.completions.create(
        model="llama3.2",
        messages=[{"role": "user", "content": "Count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "One two three."
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert len({c.id for c in chunks}) == 1 and chunks[0].object == "chat.completion.chunk"
    # The key's figures count the call and Ollama's tokens (12 read, 3 written).
    row = re.search(r'<tr data-key="[^"]+">(.*?)</tr>', api.browser.get("/api-keys/").text, re.S).group(1)
    assert [cell.strip() for cell in re.findall(r"<td>([^<]*)</td>", row)][-2:] == ["1", "15"]


def test_options_and_a_json_schema_reach_ollama(api, ollama):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    ollama.enqueue_chat('{"city": "Paris"}')
    completion = api.client().chat.completions.create(
        model="llama3.2",
        messages=[{"role": "user", "content": "Where?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}},
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=50,
        seed=7,
        stop=["END"],
    )
    assert json.loads(completion.choices[0].message.content) == {"city": "Paris"}
    sent = ollama.chat_requests()[-1].json
    assert sent["format"] == schema
    assert sent["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "num_predict": 50,
        "seed": 7,
        "stop": ["END"],
    }


def test_json_object_mode_asks_ollama_for_json(api, ollama):
    ollama.enqueue_chat("{}")
    api.client().chat.completions.create(
        model="llama3.2",
        messages=[{"role": "user", "content": "JSON"}],
        response_format={"type": "json_object"},
    )
    assert ollama.chat_requests()[-1].json["format"] == "json"


def test_a_vision_message_sends_its_image_to_ollama_and_keeps_it(api, ollama):
    ollama.enqueue_chat("A green square.")
    image = png()
    completion = api.client().chat.completions.create(
        model="llava:7b",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()},
                    },
                ],
            }
        ],
    )
    assert completion.choices[0].message.content == "A green square."
    sent = ollama.chat_requests()[-1].json["messages"][-1]
    assert sent["content"] == "What is this?" and len(sent["images"]) == 1
    assert base64.b64decode(sent["images"][0]) == image
    # Kept with the question, as an upload from the page is.
    conversation_id = completion.model_extra["conversation"].removeprefix("conv_")
    page = api.browser.get(f"/c/{uuid.UUID(conversation_id)}/")
    assert "/thumbnail/" in page.text


def test_models_lists_the_installed_models_that_can_chat(api, ollama):
    ollama.install(copy.deepcopy(next(m for m in LIBRARY if m["name"] == "nomic-embed-text:latest")))
    models = api.client().models.list()
    assert [m.id for m in models.data] == ["llama3.2:latest", "llava:7b", "qwen3:8b"]
    assert models.data[0].object == "model"


def test_curl_without_a_key_gets_401_in_openais_shape(api):
    response = httpx.post(f"{api.server.url}/v1/chat/completions", json={"model": "llama3.2"})
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    # A signed-in session is not a key, and needs no CSRF token to be refused.
    response = api.browser.post("/v1/chat/completions", json={"model": "llama3.2"})
    assert response.status_code == 401


def test_stop_in_a_tab_ends_the_api_stream_with_finish_reason_cancelled(api, ollama):
    ollama.enqueue_chat(*[f"w{i} " for i in range(50)], delay=0.1)
    stream = api.client().chat.completions.create(
        model="llama3.2", messages=[{"role": "user", "content": "Talk"}], stream=True
    )
    chunks = iter(stream)
    assert next(chunks).choices[0].delta.role == "assistant"
    assert next(chunks).choices[0].delta.content.startswith("w0")
    conversation = api.browser.get("/c/").json()["groups"][0]["conversations"][0]["id"]
    port = api.server.port
    with websockets.sync.client.connect(
        f"ws://127.0.0.1:{port}/ws/conversations/{conversation}/",
        additional_headers={
            "Cookie": f"sessionid={api.browser.cookies['sessionid']}",
            "Origin": f"http://127.0.0.1:{port}",
        },
    ) as tab:
        tab.send(json.dumps({"type": "stop"}))
        rest = list(chunks)
    assert rest[-1].choices[0].finish_reason == "cancelled"
    text = "".join(c.choices[0].delta.content or "" for c in rest)
    assert "w49" not in text


def test_a_streamed_api_reply_is_not_held_back_for_compression(api, ollama):
    ollama.enqueue_chat("One ", "two.", delay=0.05)
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "Count"}], "stream": True}
    headers = {"Authorization": f"Bearer {api.key}", "Accept-Encoding": "gzip"}
    with httpx.stream("POST", f"{api.base_url}chat/completions", json=body, headers=headers) as response:
        assert response.status_code == 200
        assert "content-encoding" not in response.headers
        raw = b"".join(response.iter_raw())
    lines = [line for line in raw.decode().splitlines() if line.startswith("data: {")]
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content") or "" for line in lines)
    assert text == "One two."
    assert raw.startswith(b"data: ")  # as sent, not a gzip stream
