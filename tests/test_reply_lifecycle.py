"""A reply's life at its edges: a failed save, a change of model, another answer to a schema."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async

from conversations.chat import liveness, replies
from conversations.models import Message
from tests.helpers import image_bytes, open_socket, receive_until, send, upload_image

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


async def test_a_reply_that_cannot_be_saved_leaves_the_conversation_usable(
    ollama, alice, conversation, monkeypatch
):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("Lost")

    def broken_save(**kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(replies, "finish_reply", broken_save)
        await send(socket, type="chat", content="First?")
        frames = await receive_until(socket, "error")
        done = await receive_until(socket, "done")

    assert frames[-1]["code"] == "upstream" and "could not be saved" in frames[-1]["message"]
    assert done[-1]["message"]["status"] == "error" and done[-1]["message"]["content"] == "Lost"
    assert conversation.pk not in liveness.running
    saved = await sync_to_async(Message.objects.get)(pk=frames[-1]["message_id"])
    assert (saved.status, saved.content, saved.error) == ("error", "Lost", "The reply could not be saved.")
    ollama.enqueue_chat("Answered")
    await send(socket, type="chat", content="Second?")
    done = (await receive_until(socket, "done"))[-1]["message"]
    assert done["content"] == "Answered"
    await socket.disconnect()


async def test_earlier_images_are_left_out_for_a_model_that_cannot_see(ollama, alice, conversation):
    status, uploaded = await sync_to_async(upload_image)(alice, image_bytes())
    assert status == 201
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("A red square.")
    await send(socket, type="chat", content="What is this?", model="llava:7b", images=[uploaded["id"]])
    await receive_until(socket, "done")
    assert "images" in ollama.chat_requests()[-1].json["messages"][0]

    ollama.enqueue_chat("Fine, thanks.")
    await send(socket, type="chat", content="And how are you?", model="llama3.2:latest")
    done = (await receive_until(socket, "done"))[-1]["message"]

    assert done["status"] == "complete" and done["content"] == "Fine, thanks."
    sent = ollama.chat_requests()[-1].json
    assert sent["model"] == "llama3.2:latest"
    assert [message.get("images") for message in sent["messages"]] == [None, None, None]
    assert [message["content"] for message in sent["messages"]] == [
        "What is this?",
        "A red square.",
        "And how are you?",
    ]
    await socket.disconnect()


async def test_another_answer_to_a_structured_question_keeps_its_schema(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat('{"name": "Ada"}')
    await send(socket, type="chat", content="Who?", format=SCHEMA)
    await receive_until(socket, "done")

    ollama.enqueue_chat('{"name": "Grace"}')
    await send(socket, type="regenerate")
    regenerated = (await receive_until(socket, "done"))[-1]["message"]
    ollama.enqueue_chat('{"name": "Edsger"}')
    await send(socket, type="edit", content="Who else?")
    edited = (await receive_until(socket, "done"))[-1]["message"]

    assert [request.json.get("format") for request in ollama.chat_requests()] == [SCHEMA, SCHEMA, SCHEMA]
    assert regenerated["format"] == SCHEMA and regenerated["structured"]["valid"] is True
    assert edited["format"] == SCHEMA and edited["structured"]["valid"] is True
    await socket.disconnect()


def test_figures_ollama_sends_out_of_range_are_stored_as_unknown(conversation):
    reply = Message.objects.create(conversation=conversation, role="assistant", status="streaming")
    replies.finish_reply(
        message_id=reply.pk,
        content="Done.",
        thinking="",
        status="complete",
        stats={
            "done_reason": "stop",
            "eval_count": 2**40,
            "prompt_eval_count": -3,
            "eval_duration": 1.5e9,
            "total_duration": float("nan"),
            "load_duration": True,
        },
    )
    reply.refresh_from_db()
    assert (reply.eval_count, reply.prompt_eval_count, reply.eval_duration) == (None, None, 1_500_000_000)
    assert (reply.total_duration, reply.load_duration) == (None, None)


def test_the_history_replayed_keeps_messages_that_share_a_timestamp(conversation):
    from django.utils import timezone

    from conversations.chat.prompt import build_chat_request

    moment = timezone.now()
    older = [
        Message.objects.create(conversation=conversation, role=role, content=text, created_at=moment)
        for role, text in (("user", "One"), ("assistant", "Two"), ("user", "Three"))
    ]
    # Ties are ordered by id, as the page orders them: the reply comes last.
    reply = Message.objects.create(
        id=uuid.UUID(int=2**128 - 1),
        conversation=conversation,
        role="assistant",
        status="streaming",
        created_at=moment,
    )
    expected = sorted(older, key=lambda m: m.pk)
    sent = build_chat_request(conversation, before=reply)["messages"]
    assert [m["content"] for m in sent] == [m.content for m in expected]
