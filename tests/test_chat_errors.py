"""Every way a reply can fail: a clear message, a saved reply, and nothing typed lost."""

from __future__ import annotations

import pytest

from conversations.models import Message
from tests.helpers import closed_port_url, open_socket, receive_until, send

pytestmark = pytest.mark.django_db(transaction=True)


async def chat_and_fail(alice, conversation, content="hello"):
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content=content)
    frames = await receive_until(socket, "done")
    await socket.disconnect()
    errors = [frame for frame in frames if frame["type"] == "error"]
    assert len(errors) == 1
    reply = frames[-1]["message"]
    assert errors[0]["message_id"] == reply["id"]
    assert reply["status"] == "error" and reply["error"] == errors[0]["message"]
    saved = await Message.objects.aget(pk=reply["id"])
    assert saved.status == "error" and saved.error == reply["error"]
    # What the user typed is kept.
    assert await Message.objects.filter(conversation=conversation, role="user", content=content).aexists()
    return errors[0], saved


async def test_ollama_unreachable(ollama, settings, alice, conversation):
    settings.OLLAMA_HOST = closed_port_url()
    error, _ = await chat_and_fail(alice, conversation)

    assert error["code"] == "unreachable"
    assert error["message"] == (
        f"Cannot reach Ollama at {settings.OLLAMA_HOST}. Is it running? Start it with `ollama serve`."
    )


async def test_unknown_model_says_which_and_how_to_pull_it(ollama, alice, conversation):
    conversation.model = "mistral:7b"
    await conversation.asave()
    error, _ = await chat_and_fail(alice, conversation)

    assert error["code"] == "model_not_found"
    assert "'mistral:7b'" in error["message"]
    assert "ollama pull mistral:7b" in error["message"]


async def test_an_error_status_before_output(ollama, alice, conversation):
    ollama.enqueue_error(500, "model runner has unexpectedly stopped")
    error, _ = await chat_and_fail(alice, conversation)

    assert error["code"] == "upstream"
    assert "model runner has unexpectedly stopped" in error["message"]


async def test_an_error_line_in_the_middle_of_the_stream_keeps_the_partial_text(ollama, alice, conversation):
    ollama.enqueue_stream_error("Once ", "upon", error="an unknown error was encountered")
    error, saved = await chat_and_fail(alice, conversation)

    assert error["code"] == "upstream"
    assert "an unknown error was encountered" in error["message"]
    assert saved.content == "Once upon"


async def test_a_malformed_line(ollama, alice, conversation):
    ollama.enqueue_malformed("Partial ")
    error, saved = await chat_and_fail(alice, conversation)

    assert error["code"] == "bad_stream"
    assert saved.content == "Partial "


async def test_a_stream_that_ends_without_done(ollama, alice, conversation):
    ollama.enqueue_truncated("Cut ", "short")
    error, saved = await chat_and_fail(alice, conversation)

    assert error["code"] == "bad_stream"
    assert "before the reply was finished" in error["message"]
    assert saved.content == "Cut short"


async def test_an_upstream_read_timeout(ollama, settings, alice, conversation):
    settings.OLLAMA_READ_TIMEOUT = 0.3
    ollama.enqueue_chat("late", first_delay=2.0)
    error, _ = await chat_and_fail(alice, conversation)

    assert error["code"] == "timeout"
    assert "0.3 seconds" in error["message"]


async def test_a_failed_reply_is_not_replayed_but_the_question_is(ollama, alice, conversation):
    ollama.enqueue_stream_error("garbage", error="boom")
    await chat_and_fail(alice, conversation, content="first try")
    ollama.enqueue_chat("good")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="again")
    await receive_until(socket, "done")

    assert ollama.chat_requests()[-1].json["messages"] == [
        {"role": "user", "content": "first try"},
        {"role": "user", "content": "again"},
    ]
    await socket.disconnect()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "dance"}', "bad_frame"),
        ('{"type": "chat"}', "invalid"),
        ('{"type": "chat", "content": "   "}', "invalid"),
        ('{"type": "chat", "content": 42}', "invalid"),
        ('{"type": "chat", "content": "hi", "model": "bad model!"}', "invalid"),
        ('{"type": "chat", "content": "hi", "client_id": 7}', "invalid"),
        ('{"type": "sync", "after": 5}', "invalid"),
    ],
)
async def test_it_rejects_bad_frames_and_saves_nothing(ollama, alice, conversation, text, code):
    socket = await open_socket(alice, conversation.pk)
    await socket.send_to(text_data=text)
    frame = await socket.receive_json_from(timeout=5)

    assert frame["type"] == "error" and frame["code"] == code and frame["message"]
    assert not await Message.objects.filter(conversation=conversation).aexists()
    assert ollama.chat_requests() == []
    await socket.disconnect()


async def test_it_rejects_a_message_over_the_limit(ollama, settings, alice, conversation):
    settings.MAX_MESSAGE_CHARS = 10
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="x" * 11)
    frame = await socket.receive_json_from(timeout=5)

    assert frame["code"] == "invalid" and "too long" in frame["message"]
    await socket.disconnect()


async def test_it_rejects_binary_and_oversized_frames(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    await socket.send_to(bytes_data=b"\x00\x01")
    assert (await socket.receive_json_from(timeout=5))["code"] == "bad_frame"
    await socket.send_to(text_data='{"type": "chat", "content": "' + "x" * (2 * 1024 * 1024) + '"}')
    assert (await socket.receive_json_from(timeout=5))["code"] == "bad_frame"
    await socket.disconnect()


async def test_frame_size_is_counted_in_bytes(ollama, settings, alice, conversation):
    settings.MAX_FRAME_BYTES = 1000
    socket = await open_socket(alice, conversation.pk)
    # 600 characters, but 1,200 bytes of UTF-8.
    await send(socket, type="chat", content="é" * 600)
    refused = await socket.receive_json_from(timeout=5)

    assert refused["code"] == "bad_frame"
    assert "bytes; the limit is 1,000" in refused["message"]
    assert not await Message.objects.filter(conversation=conversation).aexists()
    await send(socket, type="ping")
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
    await socket.disconnect()


def test_the_transport_takes_the_longest_message_and_a_little_more(settings):
    """The longest message, escaped as a client may escape it, fits in a frame the app admits,
    and the server's limit is above the app's, so an oversized frame gets the app's error."""
    import json

    longest = json.dumps(
        {"type": "chat", "content": "😀" * settings.MAX_MESSAGE_CHARS, "client_id": "x" * 64}
    )
    assert len(longest.encode()) <= settings.MAX_FRAME_BYTES < settings.TRANSPORT_FRAME_BYTES
