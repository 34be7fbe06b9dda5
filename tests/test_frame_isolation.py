"""One user's bad frames never fail, stall or close another user's chats."""

from __future__ import annotations

import asyncio

import pytest

from conversations.models import Conversation, Message
from tests.helpers import open_socket, receive_until, send

pytestmark = pytest.mark.django_db(transaction=True)

# What the database cannot store, each written as a client could send it.
UNSTORABLE = [
    ('{"type": "chat", "content": "lone \\ud800 surrogate"}', "lone surrogate"),
    ('{"type": "chat", "content": "a NUL \\u0000 here"}', "NUL character"),
    ('{"type": "chat", "content": "hi", "format": {"type": "number", "maximum": NaN}}', "NaN"),
    ('{"type": "chat", "content": "hi", "format": {"type": "number", "minimum": -Infinity}}', "Infinity"),
    ('{"type": "chat", "content": "hi", "format": {"type": "number", "maximum": 1e999}}', "out of range"),
    ('{"type": "chat", "content": "hi", "client_id": "\\udfff"}', "lone surrogate"),
]
CHATS = 40


@pytest.mark.parametrize(("text", "named"), UNSTORABLE)
async def test_unstorable_content_is_refused_up_front_naming_the_problem(
    ollama, alice, conversation, text, named
):
    socket = await open_socket(alice, conversation.pk)
    await socket.send_to(text_data=text)
    refused = await socket.receive_json_from(timeout=5)

    assert refused["type"] == "error" and refused["code"] == "invalid"
    assert named in refused["message"]
    assert not await Message.objects.filter(conversation=conversation).aexists()
    assert ollama.chat_requests() == []
    await socket.disconnect()


async def test_a_flood_of_bad_frames_fails_none_of_another_users_chats(ollama, alice, bob):
    conversations = [await Conversation.objects.acreate(owner=alice, model="llama3.2") for _ in range(CHATS)]
    bobs = await Conversation.objects.acreate(owner=bob, model="llama3.2")
    sockets = [await open_socket(alice, conversation.pk) for conversation in conversations]
    flooder = await open_socket(bob, bobs.pk)

    # Interleaved, so the bad frames arrive among the good ones and would share their batches.
    for index, socket in enumerate(sockets):
        await send(socket, type="chat", content=f"question {index}")
        await flooder.send_to(text_data=UNSTORABLE[index % len(UNSTORABLE)][0])
    finished = await asyncio.gather(*(receive_until(socket, "done", timeout=30) for socket in sockets))

    for index, frames in enumerate(finished):
        assert not [frame for frame in frames if frame["type"] == "error"], index
        assert frames[-1]["message"]["status"] == "complete"
    saved = Message.objects.filter(conversation__owner=alice, role="user")
    assert sorted([m.content async for m in saved]) == sorted(f"question {i}" for i in range(CHATS))
    refusals = [await flooder.receive_json_from(timeout=5) for _ in range(CHATS)]
    assert {frame["code"] for frame in refusals} == {"invalid"}
    await send(flooder, type="ping")
    assert await flooder.receive_json_from(timeout=5) == {"type": "pong"}  # still open: no 1011
    assert not await Message.objects.filter(conversation=bobs).aexists()
    for socket in [*sockets, flooder]:
        await socket.disconnect()


async def test_an_unexpected_failure_handling_a_frame_is_an_error_frame_not_a_close(
    ollama, alice, conversation, monkeypatch, caplog
):
    from conversations.chat import consumer

    async def broken(self, after):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(consumer.ChatConsumer, "sync", broken)
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="sync", after=None)
    frame = await socket.receive_json_from(timeout=5)

    assert frame["type"] == "error" and frame["code"] == "server_error" and "Try again" in frame["message"]
    await send(socket, type="ping")
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
    assert len([r for r in caplog.records if r.exc_info]) == 1
    await socket.disconnect()


async def test_a_reply_holding_nul_is_saved_with_replacement_characters(ollama, alice, conversation):
    """What no database stores, from the model (Go escapes NUL as \\u0000), must not cost the reply."""
    ollama.enqueue_chat("a\x00b ", "c\x00d", thinking=("t\x00",))
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="hi")
    done = (await receive_until(socket, "done"))[-1]["message"]

    assert done["status"] == "complete"
    assert done["content"] == "a\ufffdb c\ufffdd" and done["thinking"] == "t\ufffd"
    saved = await Message.objects.aget(pk=done["id"])
    assert saved.content == done["content"]
    await socket.disconnect()
