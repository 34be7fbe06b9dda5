"""Starting replies: new questions that arrive together start together, each on its own merits."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.chat.replies import ReplyRefused
from conversations.chat.starts import NewQuestion, StartedReply, start_new_replies
from conversations.models import Conversation, Image, Message
from tests.helpers import image_bytes, open_socket, receive_until, send, upload_image

pytestmark = pytest.mark.django_db(transaction=True)


def always_alive(message: Message) -> bool:
    return True


def test_a_refused_question_does_not_hold_up_the_others(alice, bob):
    fine, busy, no_model, gone, not_hers = (
        Conversation.objects.create(owner=alice, model="" if name == "no_model" else "llama3.2", title=name)
        for name in ("fine", "busy", "no_model", "gone", "not_hers")
    )
    Message.objects.create(conversation=busy, role="assistant", status="streaming")
    bobs_image = upload_image(bob, image_bytes())[1]["id"]

    outcomes = start_new_replies(
        [
            NewQuestion(fine.pk, "Hello?"),
            NewQuestion(busy.pk, "Me too?"),
            NewQuestion(no_model.pk, "Anyone?"),
            NewQuestion(gone.pk, "Look", image_ids=(uuid.UUID(int=7),)),
            NewQuestion(not_hers.pk, "Look", image_ids=(uuid.UUID(bobs_image),)),
        ],
        is_alive=always_alive,
    )

    started, *refused = outcomes
    assert isinstance(started, StartedReply)
    assert started.user_message["content"] == "Hello?" and started.reply["status"] == "streaming"
    assert started.payload["messages"] == [{"role": "user", "content": "Hello?"}]
    assert [(type(o), o.code) for o in refused] == [
        (ReplyRefused, code) for code in ("busy", "no_model", "invalid", "invalid")
    ]
    assert list(Message.objects.filter(role="user").values_list("conversation__title", flat=True)) == ["fine"]
    assert Image.objects.get(pk=bobs_image).message is None


def test_starting_many_costs_the_same_statements_as_starting_one(alice):
    # 19: as many questions and replies as one statement takes on SQLite (starts.py).
    conversations = [Conversation.objects.create(owner=alice, model="llama3.2") for _ in range(20)]

    with CaptureQueriesContext(connection) as one:
        start_new_replies([NewQuestion(conversations[0].pk, "One?")], is_alive=always_alive)
    with CaptureQueriesContext(connection) as twenty:
        start_new_replies(
            [NewQuestion(c.pk, f"Q{i}?") for i, c in enumerate(conversations[1:])], is_alive=always_alive
        )

    assert len(twenty) == len(one)
    assert Message.objects.filter(status="streaming").count() == 20
    titles = set(Conversation.objects.values_list("title", flat=True))
    assert titles == {"One?"} | {f"Q{i}?" for i in range(19)}


async def test_chats_sent_at_once_in_many_conversations_each_get_their_own_reply(ollama, alice):
    conversations = [await Conversation.objects.acreate(owner=alice, model="llama3.2") for _ in range(10)]
    sockets = [await open_socket(alice, c.pk) for c in conversations]
    for index in range(10):
        ollama.enqueue_chat("Reply ", str(index), delay=0.01)

    await asyncio.gather(*(send(s, type="chat", content=f"Question {i}") for i, s in enumerate(sockets)))
    done = await asyncio.gather(*(receive_until(s, "done") for s in sockets))

    assert all(frames[-1]["message"]["status"] == "complete" for frames in done)
    asked = sorted(request.json["messages"][0]["content"] for request in ollama.chat_requests())
    assert asked == sorted(f"Question {i}" for i in range(10))
    assert all(len(request.json["messages"]) == 1 for request in ollama.chat_requests())
    for s in sockets:
        await s.disconnect()
