"""Regenerate and edit the last exchange, and flip between the versions of a reply."""

from __future__ import annotations

import pytest

from tests.helpers import open_socket, receive_until, send


@pytest.mark.django_db(transaction=True)
async def test_regenerate_keeps_the_earlier_reply_as_a_version(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("First answer")
    await send(socket, type="chat", content="Question?")
    first = (await receive_until(socket, "done"))[-1]["message"]
    ollama.enqueue_chat("Second answer")
    await send(socket, type="regenerate")
    frames = await receive_until(socket, "done")

    assert frames[0]["type"] == "reply" and frames[0]["replaces"] == [first["id"]]
    second = frames[-1]["message"]
    assert (second["content"], second["version"], second["versions"]) == ("Second answer", 2, 2)
    assert ollama.chat_requests()[-1].json["messages"] == [{"role": "user", "content": "Question?"}]

    assert second["version_ids"] == [first["id"], second["id"]]
    await send(socket, type="switch_version", message_id=second["version_ids"][0])
    history = await socket.receive_json_from(timeout=5)
    assert history["type"] == "history" and history["reset"] is True
    assert [(m["content"], m["version"], m["versions"]) for m in history["messages"]] == [
        ("Question?", 1, 1),
        ("First answer", 1, 2),
    ]
    ollama.enqueue_chat("Follow-up answer")
    await send(socket, type="chat", content="And then?")
    await receive_until(socket, "done")
    assert ollama.chat_requests()[-1].json["messages"] == [
        {"role": "user", "content": "Question?"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "And then?"},
    ]
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_edit_the_last_question_and_flip_back(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("Paris")
    await send(socket, type="chat", content="Capital of France?")
    original = await receive_until(socket, "done")
    ollama.enqueue_chat("Rome")
    await send(socket, type="edit", content="Capital of Italy?", client_id="e1")
    frames = await receive_until(socket, "done")

    question = frames[0]
    assert question["type"] == "message" and question["message"]["content"] == "Capital of Italy?"
    assert set(frames[1]["replaces"]) == {original[0]["message"]["id"], original[-1]["message"]["id"]}
    assert ollama.chat_requests()[-1].json["messages"] == [{"role": "user", "content": "Capital of Italy?"}]
    assert frames[-1]["message"]["versions"] == 2

    await send(socket, type="switch_version", message_id=original[-1]["message"]["id"])
    history = await socket.receive_json_from(timeout=5)
    assert [m["content"] for m in history["messages"]] == ["Capital of France?", "Paris"]
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_versions_are_refused_while_streaming_and_for_what_is_not_a_reply(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("one")
    await send(socket, type="chat", content="first")
    old = (await receive_until(socket, "done"))[-1]["message"]
    ollama.enqueue_chat("two", delay=0.3)
    ollama.enqueue_chat("two!")
    await send(socket, type="chat", content="second")
    await receive_until(socket, "reply")

    await send(socket, type="regenerate")
    assert (await receive_until(socket, "error"))[-1]["code"] == "busy"
    await send(socket, type="switch_version", message_id=old["id"])
    assert (await receive_until(socket, "error"))[-1]["code"] == "busy"
    await receive_until(socket, "done")
    for not_a_reply in (str(conversation.pk), "00000000-0000-0000-0000-000000000001"):
        await send(socket, type="switch_version", message_id=not_a_reply)
        assert (await receive_until(socket, "error"))[-1]["code"] == "invalid"
    await socket.disconnect()
