"""Continue: a reply cut short goes on from where its text ends, in the same message."""

from __future__ import annotations

import pytest

from conversations.models import Conversation, Message
from tests.helpers import open_socket, receive_until, send, text_of


@pytest.mark.django_db(transaction=True)
async def test_a_reply_cut_at_the_length_limit_goes_on_in_the_same_message(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("Once upon", " a time", done_reason="length")
    await send(socket, type="chat", content="Tell a story")
    cut = (await receive_until(socket, "done"))[-1]["message"]
    assert cut["stats"]["done_reason"] == "length"

    ollama.enqueue_chat(" there was", " a fox.")
    await send(socket, type="continue", message_id=cut["id"])
    frames = await receive_until(socket, "done")

    # The partial reply is what the model is asked to go on with: last, as the assistant's.
    sent = ollama.chat_requests()[-1].json["messages"]
    assert sent == [
        {"role": "user", "content": "Tell a story"},
        {"role": "assistant", "content": "Once upon a time"},
    ]
    started = frames[0]
    assert started["type"] == "reply" and started["seq"] == 0
    assert started["message"]["id"] == cut["id"] and started["message"]["content"] == "Once upon a time"
    deltas = [frame for frame in frames if frame["type"] == "token"]
    assert [frame["seq"] for frame in deltas] == list(range(1, len(deltas) + 1))
    assert text_of(frames) == " there was a fox."
    done = frames[-1]["message"]
    assert (done["id"], done["status"], done["content"]) == (
        cut["id"],
        "complete",
        "Once upon a time there was a fox.",
    )
    saved = await Message.objects.aget(pk=cut["id"])
    assert (saved.content, saved.done_reason) == ("Once upon a time there was a fox.", "stop")
    assert await conversation.messages.acount() == 2
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_stopped_reply_goes_on_and_a_tab_that_syncs_meanwhile_sees_all_of_it(
    ollama, alice, conversation
):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("Half", " of it", " and more", " and more", delay=0.2)
    await send(socket, type="chat", content="Go")
    await receive_until(socket, "token")
    await send(socket, type="stop")
    stopped = (await receive_until(socket, "done"))[-1]["message"]
    assert stopped["status"] == "stopped" and stopped["content"]

    ollama.enqueue_chat(" rest", delay=0.3)
    await send(socket, type="continue", message_id=stopped["id"])
    await receive_until(socket, "reply")
    late = await open_socket(alice, conversation.pk)
    await send(late, type="sync", after=None)
    frames = await receive_until(late, "done")
    snapshot = next(frame for frame in frames if frame["type"] == "reply")
    assert snapshot["message"]["content"].startswith(stopped["content"])
    assert frames[-1]["message"]["content"] == stopped["content"] + " rest"
    await socket.disconnect()
    await late.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_continue_is_refused_for_a_finished_or_earlier_reply_or_someone_elses(
    ollama, alice, bob, conversation
):
    theirs = await Conversation.objects.acreate(owner=bob, model="llama3.2")
    their_reply = await Message.objects.acreate(
        conversation=theirs, role="assistant", content="Cut", status="stopped"
    )
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("Cut", done_reason="length")
    await send(socket, type="chat", content="One")
    first = await receive_until(socket, "done")
    ollama.enqueue_chat("Whole")
    await send(socket, type="chat", content="Two")
    second = await receive_until(socket, "done")

    refused = {
        first[-1]["message"]["id"]: "invalid",  # not the last reply
        second[-1]["message"]["id"]: "invalid",  # complete
        second[0]["message"]["id"]: "invalid",  # a question
        str(their_reply.pk): "invalid",
        "\x00": "invalid",
    }
    for message_id, code in refused.items():
        await send(socket, type="continue", message_id=message_id)
        assert (await receive_until(socket, "error"))[-1]["code"] == code, message_id
    await send(socket, type="continue")
    assert (await receive_until(socket, "error"))[-1]["code"] == "invalid"
    assert len(ollama.chat_requests()) == 2
    assert (await Message.objects.aget(pk=their_reply.pk)).status == "stopped"
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_continue_is_refused_while_a_reply_streams(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("Cut", done_reason="length")
    await send(socket, type="chat", content="One")
    cut = (await receive_until(socket, "done"))[-1]["message"]
    ollama.enqueue_chat(" more", " text", delay=0.3)
    await send(socket, type="continue", message_id=cut["id"])
    await receive_until(socket, "reply")
    await send(socket, type="continue", message_id=cut["id"])
    assert (await receive_until(socket, "error"))[-1]["code"] == "busy"
    assert (await receive_until(socket, "done"))[-1]["message"]["content"] == "Cut more text"
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_reply_interrupted_before_a_restart_goes_on(ollama, alice, conversation):
    from datetime import timedelta

    from django.utils import timezone

    long_ago = timezone.now() - timedelta(days=1)
    question = await Message.objects.acreate(
        conversation=conversation, role="user", content="Count", created_at=long_ago
    )
    reply = await Message.objects.acreate(
        conversation=conversation,
        role="assistant",
        content="1, 2,",
        status="interrupted",
        reply_to=question,
        parent=question,
        exchange=question.exchange,
        created_at=long_ago + timedelta(seconds=1),
    )
    await Message.objects.filter(pk=reply.pk).aupdate(saved_at=long_ago)
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat(" 3.")
    await send(socket, type="continue", message_id=str(reply.pk))
    done = (await receive_until(socket, "done"))[-1]["message"]
    assert (done["status"], done["content"]) == ("complete", "1, 2, 3.")
    await socket.disconnect()
