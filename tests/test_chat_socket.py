"""The chat socket, through the real router and the fake Ollama over HTTP."""

from __future__ import annotations

import time

import pytest

from conversations.models import Message
from tests.helpers import open_socket, receive_until, send, text_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


async def test_it_streams_tokens_then_done(ollama, alice, conversation):
    ollama.enqueue_chat("Hel", "lo", " there!")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="hi", client_id="c1")

    frames = await receive_until(socket, "done")

    saved, started = frames[0], frames[1]
    assert saved["type"] == "message" and saved["client_id"] == "c1"
    assert saved["message"]["role"] == "user" and saved["message"]["content"] == "hi"
    assert started["type"] == "reply" and started["message"]["status"] == "streaming"
    assert text_of(frames) == "Hello there!"
    done = frames[-1]["message"]
    assert done["status"] == "complete"
    assert done["content"] == "Hello there!"
    assert done["html"] == "<p>Hello there!</p>\n"
    assert done["stats"]["eval_count"] == 3
    reply = await Message.objects.aget(pk=done["id"])
    assert reply.content == "Hello there!" and reply.status == "complete"
    assert reply.eval_count == 3 and reply.done_reason == "stop"
    assert reply.prompt_eval_count == 12 and reply.eval_duration == 30_000_000
    await socket.disconnect()


async def test_it_replays_the_history_in_order(ollama, alice, conversation):
    conversation.system_prompt = "You are terse."
    await conversation.asave()
    await Message.objects.acreate(conversation=conversation, role="user", content="first")
    await Message.objects.acreate(conversation=conversation, role="assistant", content="one")
    await Message.objects.acreate(
        conversation=conversation, role="assistant", content="half", status="error", error="boom"
    )
    await Message.objects.acreate(conversation=conversation, role="user", content="second")
    await Message.objects.acreate(conversation=conversation, role="assistant", content="tw", status="stopped")
    ollama.enqueue_chat("ok")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="third")
    await receive_until(socket, "done")

    request = ollama.chat_requests()[-1].json
    assert request["model"] == "llama3.2"
    assert request["stream"] is True
    assert request["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "tw"},
        {"role": "user", "content": "third"},
    ]
    await socket.disconnect()


async def test_a_follow_up_replays_the_previous_reply(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("Paris", ".")
    await send(socket, type="chat", content="Capital of France?")
    await receive_until(socket, "done")
    ollama.enqueue_chat("About 2 million.")
    await send(socket, type="chat", content="Population?")
    await receive_until(socket, "done")

    assert ollama.chat_requests()[-1].json["messages"] == [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Population?"},
    ]
    await socket.disconnect()


async def test_the_model_in_the_frame_wins_and_is_remembered(ollama, alice, conversation):
    ollama.enqueue_chat("hi")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="hello", model="qwen3:8b")
    frames = await receive_until(socket, "done")

    assert ollama.chat_requests()[-1].json["model"] == "qwen3:8b"
    assert frames[-1]["message"]["model"] == "qwen3:8b"
    await conversation.arefresh_from_db()
    assert conversation.model == "qwen3:8b"
    await socket.disconnect()


async def test_it_rejects_a_chat_without_any_model(ollama, alice, conversation):
    conversation.model = ""
    await conversation.asave()
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="hello")
    frame = await socket.receive_json_from(timeout=5)

    assert frame == {"type": "error", "code": "no_model", "message": "Choose a model first."}
    assert not await Message.objects.filter(conversation=conversation).aexists()
    await socket.disconnect()


async def test_it_streams_thinking_apart_from_the_answer(ollama, alice, conversation):
    ollama.enqueue_chat("The answer", " is 4.", thinking=("2+2 ", "is 4"))
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="2+2?", model="qwen3:8b")
    frames = await receive_until(socket, "done")

    assert text_of(frames, "thinking") == "2+2 is 4"
    assert text_of(frames, "token") == "The answer is 4."
    kinds = [frame["type"] for frame in frames if frame["type"] in ("thinking", "token")]
    assert kinds.index("thinking") < kinds.index("token")
    seqs = [frame["seq"] for frame in frames if frame["type"] in ("thinking", "token")]
    assert seqs == list(range(1, len(seqs) + 1))
    reply = await Message.objects.aget(pk=frames[-1]["message"]["id"])
    assert reply.thinking == "2+2 is 4" and reply.content == "The answer is 4."
    await socket.disconnect()


async def test_it_keeps_the_partial_reply_on_stop_and_closes_the_upstream_request(
    ollama, alice, conversation
):
    ollama.enqueue_chat(*[f"w{i} " for i in range(50)], delay=0.2)
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="talk")
    await receive_until(socket, "token")

    await send(socket, type="stop")
    stop_sent = time.monotonic()
    frames = await receive_until(socket, "done")

    upstream = ollama.chat_requests()[-1]
    assert upstream.done.wait(2)
    assert upstream.closed_by_client
    assert upstream.finished_at - stop_sent < 1.0
    reply = frames[-1]["message"]
    assert reply["status"] == "stopped"
    assert reply["content"].startswith("w0 ")
    assert len(reply["content"].split()) < 50
    saved = await Message.objects.aget(pk=reply["id"])
    assert saved.status == "stopped" and saved.content == reply["content"]
    await socket.disconnect()


async def test_stop_without_a_reply_is_an_error(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="stop")
    frame = await socket.receive_json_from(timeout=5)
    assert frame["type"] == "error" and frame["code"] == "not_streaming"
    await socket.disconnect()


async def test_the_reply_is_finished_and_saved_after_the_tab_closes(ollama, alice, conversation):
    ollama.enqueue_chat(*[f"t{i} " for i in range(10)], delay=0.05)
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="go on")
    await receive_until(socket, "token")
    await socket.disconnect()

    await wait_for(
        lambda: Message.objects.filter(
            conversation=conversation, role="assistant", status="complete"
        ).exists()
    )
    reply = await Message.objects.aget(conversation=conversation, role="assistant")
    assert reply.content == "".join(f"t{i} " for i in range(10))
    assert reply.eval_count == 10


async def test_a_tab_opened_mid_reply_gets_the_text_so_far_then_live_tokens(ollama, alice, conversation):
    ollama.enqueue_chat(*[f"t{i} " for i in range(12)], delay=0.1)
    first = await open_socket(alice, conversation.pk)
    await send(first, type="chat", content="count")
    frames = await receive_until(first, "token")
    user_message_id = frames[0]["message"]["id"]
    await receive_until(first, "token")

    second = await open_socket(alice, conversation.pk)
    await send(second, type="sync", after=user_message_id)
    history = await receive_until(second, "history")
    assert [m["status"] for m in history[-1]["messages"]] == ["streaming"]
    frames = await receive_until(second, "reply")
    snapshot = frames[-1]
    assert snapshot["message"]["content"].startswith("t0 t1 ")
    text, last_seq = snapshot["message"]["content"], snapshot["seq"]
    for frame in await receive_until(second, "done"):
        if frame["type"] == "token" and frame["seq"] > last_seq:
            assert frame["seq"] == last_seq + 1
            text, last_seq = text + frame["content"], frame["seq"]
        if frame["type"] == "done":
            assert frame["message"]["content"] == text

    assert text == "".join(f"t{i} " for i in range(12))
    await receive_until(first, "done")
    await first.disconnect()
    await second.disconnect()


async def test_two_tabs_both_stream_the_same_reply(ollama, alice, conversation):
    ollama.enqueue_chat("one ", "two ", "three", delay=0.05)
    first = await open_socket(alice, conversation.pk)
    second = await open_socket(alice, conversation.pk)
    await send(first, type="chat", content="count", client_id="tab1")

    frames_first = await receive_until(first, "done")
    frames_second = await receive_until(second, "done")

    assert frames_first == frames_second
    assert frames_second[0]["type"] == "message" and frames_second[0]["client_id"] == "tab1"
    assert text_of(frames_second) == "one two three"
    await first.disconnect()
    await second.disconnect()


async def test_a_second_chat_while_one_streams_is_busy(ollama, alice, conversation):
    ollama.enqueue_chat(*["x "] * 10, delay=0.05)
    first = await open_socket(alice, conversation.pk)
    second = await open_socket(alice, conversation.pk)
    await send(first, type="chat", content="one")
    await receive_until(second, "reply")

    await send(second, type="chat", content="two")
    frames = await receive_until(second, "error")

    assert frames[-1]["code"] == "busy"
    assert "message_id" not in frames[-1]
    await receive_until(first, "done")
    contents = [m async for m in Message.objects.filter(role="user").values_list("content", flat=True)]
    assert contents == ["one"]
    await first.disconnect()
    await second.disconnect()


async def test_sync_sends_what_the_tab_missed(ollama, alice, conversation):
    old = await Message.objects.acreate(conversation=conversation, role="user", content="old")
    await Message.objects.acreate(conversation=conversation, role="assistant", content="**new**")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="sync", after=str(old.pk))
    frame = await socket.receive_json_from(timeout=5)
    assert frame["type"] == "history" and frame["reset"] is False
    assert [m["content"] for m in frame["messages"]] == ["**new**"]
    assert frame["messages"][0]["html"] == "<p><strong>new</strong></p>\n"

    await send(socket, type="sync", after=None)
    frame = await socket.receive_json_from(timeout=5)
    assert frame["reset"] is True
    assert [m["content"] for m in frame["messages"]] == ["old", "**new**"]
    await socket.disconnect()


async def test_a_reply_left_streaming_by_a_dead_process_is_marked_interrupted(ollama, alice, conversation):
    from datetime import timedelta

    from django.utils import timezone

    long_ago = timezone.now() - timedelta(minutes=5)
    orphan = await Message.objects.acreate(
        conversation=conversation,
        role="assistant",
        content="half a rep",
        status="streaming",
        created_at=long_ago,
    )
    await Message.objects.filter(pk=orphan.pk).aupdate(saved_at=long_ago)  # its writer stopped saving
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="sync", after=None)
    history = await socket.receive_json_from(timeout=5)
    # Every tab on the conversation is told as well (this one after its history).
    notices = [await socket.receive_json_from(timeout=5) for _ in range(2)]

    assert history["type"] == "history"
    assert history["messages"][0]["status"] == "interrupted"
    assert history["messages"][0]["content"] == "half a rep"
    assert [frame["type"] for frame in notices] == ["error", "done"]
    assert notices[0]["code"] == "interrupted" and notices[0]["message_id"] == str(orphan.pk)
    assert notices[1]["message"]["status"] == "interrupted"
    await orphan.arefresh_from_db()
    assert orphan.status == "interrupted"
    ollama.enqueue_chat("fine")
    await send(socket, type="chat", content="again")
    assert (await receive_until(socket, "done"))[-1]["message"]["status"] == "complete"
    await socket.disconnect()


async def test_ping_gets_pong(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="ping")
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
    await socket.disconnect()


async def test_a_reply_starts_without_the_models_leading_whitespace(ollama, alice, conversation):
    ollama.enqueue_chat(" ", "\n ", " Here", ":\n\n", "    indented code\n", "  end")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="hi")

    frames = await receive_until(socket, "done")

    expected = "Here:\n\n    indented code\n  end"
    assert text_of(frames) == expected
    assert frames[-1]["message"]["content"] == expected
    reply = await Message.objects.aget(pk=frames[-1]["message"]["id"])
    assert reply.content == expected
    ollama.enqueue_chat("ok")
    await send(socket, type="chat", content="again")
    await receive_until(socket, "done")
    assert ollama.chat_requests()[-1].json["messages"][1] == {"role": "assistant", "content": expected}
    await socket.disconnect()
