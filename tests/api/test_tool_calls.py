"""The client's own tools through /v1/chat/completions, with the real `openai` client against a
live app and the fake Ollama: offered to the model, handed back as OpenAI's tool_calls, their
results taken and the reply goes on in the same stored conversation."""

from __future__ import annotations

import json
import uuid

import openai
import pytest

from tests.fake_ollama.server import tool_call

pytestmark = pytest.mark.usefixtures("ollama")

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
QUESTION = {"role": "user", "content": 'Weather? [[tool:get_weather {"city": "Paris"}]]'}


def waits_for_the_client(completion) -> list:
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    return choice.message.tool_calls


def test_a_tool_call_is_handed_to_the_client_then_its_result_answered_in_one_conversation(api, ollama):
    client = api.client()
    history = [QUESTION]
    first = client.chat.completions.create(model="llama3.2", messages=history, tools=[WEATHER])
    [call] = waits_for_the_client(first)
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"} and call.id.startswith("call_")
    assert first.choices[0].message.content == "Round 1. "
    # The model was offered the client's tools as they were sent.
    assert ollama.chat_requests()[-1].json["tools"] == [WEATHER]

    history += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 °C"},
    ]
    second = client.chat.completions.create(model="llama3.2", messages=history, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "Tool results: Sunny, 21 °C"
    assert second.choices[0].message.tool_calls is None
    assert second.model_extra["conversation"] == first.model_extra["conversation"]
    # Replayed to Ollama in its shape: arguments as an object, the result named by its tool.
    assert ollama.chat_requests()[-1].json["messages"] == [
        {"role": "user", "content": QUESTION["content"]},
        {
            "role": "assistant",
            "content": "Round 1. ",
            "tool_calls": [
                {"id": call.id, "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
            ],
        },
        {"role": "tool", "tool_name": "get_weather", "content": "Sunny, 21 °C", "tool_call_id": call.id},
    ]

    # The next question goes on in the same conversation, with the call replayed again.
    ollama.enqueue_chat("You are welcome.")
    history += [
        {"role": "assistant", "content": second.choices[0].message.content},
        {"role": "user", "content": "Thanks"},
    ]
    third = client.chat.completions.create(model="llama3.2", messages=history)
    assert third.model_extra["conversation"] == first.model_extra["conversation"]
    replayed = ollama.chat_requests()[-1].json["messages"]
    assert [m["role"] for m in replayed] == ["user", "assistant", "tool", "assistant", "user"]
    assert replayed[3] == {"role": "assistant", "content": "Tool results: Sunny, 21 °C"}

    # The page shows the call, done, on the reply, as it shows the server's own tools.
    conversation = uuid.UUID(first.model_extra["conversation"].removeprefix("conv_"))
    messages = api.browser.get(f"/c/{conversation}/messages/").json()["messages"]
    [reply] = [m for m in messages if m["tool_calls"]]
    [shown] = reply["tool_calls"]
    assert (shown["name"], shown["source"], shown["status"]) == ("get_weather", "client", "ok")
    assert shown["arguments"] == {"city": "Paris"} and shown["result"] == "Sunny, 21 °C"


def test_streamed_tool_calls_come_as_openais_deltas_and_the_streamed_answer_goes_on(api, ollama):
    client = api.client()
    ollama.enqueue_tool_calls(
        tool_call("get_weather", {"city": "Oslo"}),
        tool_call("get_weather", {"city": "Rome"}, index=1),
        tokens=("Checking. ",),
    )
    stream = client.chat.completions.create(
        model="llama3.2", messages=[{"role": "user", "content": "Two cities"}], tools=[WEATHER], stream=True
    )
    chunks = [chunk for chunk in stream if chunk.choices]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Checking. "
    calls = [call for c in chunks for call in c.choices[0].delta.tool_calls or []]
    assert [(call.index, call.function.name, json.loads(call.function.arguments)) for call in calls] == [
        (0, "get_weather", {"city": "Oslo"}),
        (1, "get_weather", {"city": "Rome"}),
    ]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    ollama.enqueue_chat("Oslo is cold, ", "Rome is warm.")
    history = [
        {"role": "user", "content": "Two cities"},
        {
            "role": "assistant",
            "content": "Checking. ",
            "tool_calls": [
                {"id": call.id, "type": "function", "function": call.function.model_dump()} for call in calls
            ],
        },
        {"role": "tool", "tool_call_id": calls[1].id, "content": "warm"},
        {"role": "tool", "tool_call_id": calls[0].id, "content": "cold"},
    ]
    stream = client.chat.completions.create(model="llama3.2", messages=history, tools=[WEATHER], stream=True)
    chunks = [chunk for chunk in stream if chunk.choices]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Oslo is cold, Rome is warm."
    assert chunks[-1].choices[0].finish_reason == "stop"
    sent = ollama.chat_requests()[-1].json["messages"]
    assert [(m["role"], m.get("tool_name"), m["content"]) for m in sent[1:]] == [
        ("assistant", None, "Checking. "),
        ("tool", "get_weather", "cold"),
        ("tool", "get_weather", "warm"),
    ]


def test_a_history_with_tool_calls_the_app_never_saw_starts_a_conversation_holding_them(api, ollama):
    ollama.enqueue_chat("It is sunny.")
    completion = api.client().chat.completions.create(
        model="llama3.2",
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        tools=[WEATHER],
    )
    assert completion.choices[0].message.content == "It is sunny."
    assert ollama.chat_requests()[-1].json["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "function": {"name": "get_weather", "arguments": {}}}],
        },
        {"role": "tool", "tool_name": "get_weather", "content": "sunny", "tool_call_id": "c1"},
    ]


def test_a_model_without_tools_is_refused_in_openais_shape(api, ollama):
    with pytest.raises(openai.BadRequestError) as refused:
        api.client().chat.completions.create(model="llava:7b", messages=[QUESTION], tools=[WEATHER])
    assert refused.value.body["param"] == "tools" and "cannot use tools" in refused.value.body["message"]
    assert ollama.chat_requests() == []
