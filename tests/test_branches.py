"""Branches: edit any question, switch versions at any exchange, delete a question and its replies."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from conversations.models import Conversation, Message
from tests.helpers import error_of, open_socket, receive_until, send, signed_in


async def ask(socket, ollama, question: str, answer: str) -> tuple[dict, dict]:
    """Send a question, let the fake answer it; the saved (question, reply)."""
    ollama.enqueue_chat(answer)
    await send(socket, type="chat", content=question)
    frames = await receive_until(socket, "done")
    return frames[0]["message"], frames[-1]["message"]


def replayed(ollama) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in ollama.chat_requests()[-1].json["messages"]]


def contents(history: dict) -> list[str]:
    assert history["type"] == "history" and history["reset"] is True
    return [m["content"] for m in history["messages"]]


@pytest.mark.django_db(transaction=True)
async def test_an_earlier_question_edited_starts_a_branch_and_each_branch_keeps_its_own_history(
    ollama, alice, conversation
):
    socket = await open_socket(alice, conversation.pk)
    await ask(socket, ollama, "Q1", "A1")
    q2, a2 = await ask(socket, ollama, "Q2", "A2")
    q3, a3 = await ask(socket, ollama, "Q3", "A3")

    ollama.enqueue_chat("B2")
    await send(socket, type="edit", content="Q2 edited", message_id=q2["id"], client_id="e")
    frames = await receive_until(socket, "done")
    assert frames[0]["type"] == "message" and frames[0]["message"]["content"] == "Q2 edited"
    assert set(frames[1]["replaces"]) == {q2["id"], a2["id"], q3["id"], a3["id"]}
    b2 = frames[-1]["message"]
    assert (b2["version"], b2["versions"], b2["version_ids"]) == (2, 2, [a2["id"], b2["id"]])
    # Only the new branch's history goes to the model.
    assert replayed(ollama) == [("user", "Q1"), ("assistant", "A1"), ("user", "Q2 edited")]

    await ask(socket, ollama, "Q4", "B4")
    assert replayed(ollama)[-3:] == [("user", "Q2 edited"), ("assistant", "B2"), ("user", "Q4")]

    # Back to the first branch at that exchange: exactly what followed it there.
    await send(socket, type="switch_version", message_id=a2["id"])
    assert contents(await socket.receive_json_from(timeout=5)) == ["Q1", "A1", "Q2", "A2", "Q3", "A3"]
    await ask(socket, ollama, "Q5", "A5")
    assert replayed(ollama) == [
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q2"),
        ("assistant", "A2"),
        ("user", "Q3"),
        ("assistant", "A3"),
        ("user", "Q5"),
    ]

    # And to the second one again, as it was left.
    await send(socket, type="switch_version", message_id=b2["id"])
    assert contents(await socket.receive_json_from(timeout=5)) == ["Q1", "A1", "Q2 edited", "B2", "Q4", "B4"]
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_branch_inside_a_branch_is_restored_as_it_was_left(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    q1, a1 = await ask(socket, ollama, "Q1", "A1")
    q2, a2 = await ask(socket, ollama, "Q2", "A2")
    ollama.enqueue_chat("A2 again")
    await send(socket, type="regenerate", message_id=a2["id"])
    a2b = (await receive_until(socket, "done"))[-1]["message"]
    await send(socket, type="switch_version", message_id=a2["id"])  # the first answer, chosen again
    await socket.receive_json_from(timeout=5)

    ollama.enqueue_chat("B1")
    await send(socket, type="edit", content="Q1 edited", message_id=q1["id"])
    b1 = (await receive_until(socket, "done"))[-1]["message"]
    await send(socket, type="switch_version", message_id=a1["id"])
    history = await socket.receive_json_from(timeout=5)
    assert contents(history) == ["Q1", "A1", "Q2", "A2"]
    assert history["messages"][-1]["version_ids"] == [a2["id"], a2b["id"]]
    assert b1["version_ids"] == [a1["id"], b1["id"]]
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_every_tab_is_shown_the_branch_switched_to(ollama, alice, conversation):
    first = await open_socket(alice, conversation.pk)
    second = await open_socket(alice, conversation.pk)
    q1, a1 = await ask(first, ollama, "Q1", "A1")
    await ask(first, ollama, "Q2", "A2")
    ollama.enqueue_chat("B1")
    await send(first, type="edit", content="Q1 again", message_id=q1["id"])
    await receive_until(first, "done")
    await receive_until(second, "done")
    await receive_until(second, "done")
    await receive_until(second, "done")

    await send(first, type="switch_version", message_id=a1["id"])
    for socket in (first, second):
        assert contents(await socket.receive_json_from(timeout=5)) == ["Q1", "A1", "Q2", "A2"]
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_edits_are_refused_while_a_reply_streams_and_for_what_is_not_a_shown_question(
    ollama, alice, bob, conversation
):
    theirs = await Conversation.objects.acreate(owner=bob, model="llama3.2")
    their_question = await Message.objects.acreate(conversation=theirs, role="user", content="Bob's")
    socket = await open_socket(alice, conversation.pk)
    q1, a1 = await ask(socket, ollama, "Q1", "A1")
    ollama.enqueue_chat("B1")
    await send(socket, type="edit", content="Q1 edited", message_id=q1["id"])
    await receive_until(socket, "done")
    hidden = q1["id"]  # no longer shown

    for message_id in (str(their_question.pk), a1["id"], hidden, "not an id", 7, "\x00"):
        await send(socket, type="edit", content="Changed", message_id=message_id)
        error = (await receive_until(socket, "error"))[-1]
        assert error["code"] == "invalid", message_id
    for content in ("a\x00b", "\ud800", "   "):
        await send(socket, type="edit", content=content, message_id=q1["id"])
        assert (await receive_until(socket, "error"))[-1]["code"] == "invalid"

    ollama.enqueue_chat("slow", " reply", delay=0.3)
    await send(socket, type="chat", content="Q2")
    shown = await receive_until(socket, "reply")
    await send(socket, type="edit", content="Q2 edited", message_id=shown[0]["message"]["id"])
    assert (await receive_until(socket, "error"))[-1]["code"] == "busy"
    await receive_until(socket, "done")

    assert await Message.objects.filter(content__in=["Changed", "Q2 edited"]).acount() == 0
    assert await theirs.messages.acount() == 1
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_earlier_reply_is_regenerated_with_another_model_which_it_records(
    ollama, alice, conversation
):
    socket = await open_socket(alice, conversation.pk)
    q1, a1 = await ask(socket, ollama, "Q1", "A1")
    await ask(socket, ollama, "Q2", "A2")

    ollama.enqueue_chat("A1 by qwen")
    await send(socket, type="regenerate", message_id=a1["id"], model="qwen3:8b")
    frames = await receive_until(socket, "done")
    assert frames[0]["type"] == "reply" and len(frames[0]["replaces"]) == 3
    reply = frames[-1]["message"]
    assert (reply["model"], reply["content"], reply["versions"]) == ("qwen3:8b", "A1 by qwen", 2)
    request = ollama.chat_requests()[-1].json
    assert request["model"] == "qwen3:8b"
    assert [(m["role"], m["content"]) for m in request["messages"]] == [("user", "Q1")]
    saved = await Message.objects.aget(pk=reply["id"])
    assert saved.model == "qwen3:8b"

    for model in ("bad name!", "x" * 500, "\ud800", 5):
        await send(socket, type="regenerate", model=model)
        assert (await receive_until(socket, "error"))[-1]["code"] == "invalid"
    assert len(ollama.chat_requests()) == 3
    await socket.disconnect()


# Deleting a question and its replies ------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_question_and_its_replies_are_deleted_and_every_tab_is_told(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    other_tab = await open_socket(alice, conversation.pk)
    await ask(socket, ollama, "Q1", "A1")
    q2, a2 = await ask(socket, ollama, "Q2", "A2")
    await ask(socket, ollama, "Q3", "A3")
    ollama.enqueue_chat("A2 again")
    await send(socket, type="regenerate", message_id=a2["id"])
    await receive_until(socket, "done")
    # A branch that starts from a version of that exchange goes with it.
    await send(socket, type="switch_version", message_id=a2["id"])
    await socket.receive_json_from(timeout=5)
    for _ in range(4):
        await receive_until(other_tab, "done")
    await receive_until(other_tab, "history")

    await send(socket, type="delete", message_id=q2["id"])
    for tab in (socket, other_tab):
        assert contents(await tab.receive_json_from(timeout=5)) == ["Q1", "A1", "Q3", "A3"]
    assert await Message.objects.filter(content__in=["Q2", "A2", "A2 again"]).acount() == 0

    await ask(socket, ollama, "Q4", "A4")
    assert replayed(ollama) == [
        ("user", "Q1"),
        ("assistant", "A1"),
        ("user", "Q3"),
        ("assistant", "A3"),
        ("user", "Q4"),
    ]
    await socket.disconnect()
    await other_tab.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_deleting_is_refused_while_a_reply_streams_and_for_others_messages(
    ollama, alice, bob, conversation
):
    theirs = await Conversation.objects.acreate(owner=bob, model="llama3.2")
    their_question = await Message.objects.acreate(conversation=theirs, role="user", content="Bob's")
    socket = await open_socket(alice, conversation.pk)
    await ask(socket, ollama, "Q1", "A1")
    for message_id in (str(their_question.pk), None, "nope", "\ud800"):
        await send(socket, type="delete", message_id=message_id)
        assert (await receive_until(socket, "error"))[-1]["code"] == "invalid"

    ollama.enqueue_chat("slow", " reply", delay=0.3)
    await send(socket, type="chat", content="Q2")
    started = await receive_until(socket, "reply")
    await send(socket, type="delete", message_id=started[0]["message"]["id"])
    assert (await receive_until(socket, "error"))[-1]["code"] == "busy"
    await receive_until(socket, "done")
    assert await conversation.messages.acount() == 4
    assert await theirs.messages.acount() == 1
    assert await theirs.messages.acount() == 1
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_question_and_its_replies_are_deleted_over_http(ollama, alice, bob, conversation):
    socket = await open_socket(alice, conversation.pk)
    q1, a1 = await ask(socket, ollama, "Q1", "A1")
    await ask(socket, ollama, "Q2", "A2")

    def delete_as(user, conversation_id, message_id) -> int:
        return signed_in(user).post(f"/c/{conversation_id}/messages/{message_id}/delete/").status_code

    def error_as(user, conversation_id, message_id) -> tuple[int, str]:
        response = signed_in(user).post(f"/c/{conversation_id}/messages/{message_id}/delete/")
        return response.status_code, error_of(response)["code"]

    theirs = await Conversation.objects.acreate(owner=bob, model="llama3.2")
    their_question = await Message.objects.acreate(conversation=theirs, role="user", content="Bob's")
    assert await sync_to_async(delete_as)(bob, conversation.pk, a1["id"]) == 404
    assert await sync_to_async(delete_as)(alice, theirs.pk, their_question.pk) == 404
    assert await sync_to_async(delete_as)(bob, theirs.pk, a1["id"]) == 404
    wrong = await sync_to_async(error_as)(alice, conversation.pk, their_question.pk)
    assert wrong == (404, "not_found")
    get = await sync_to_async(
        lambda: signed_in(alice).get(f"/c/{conversation.pk}/messages/{a1['id']}/delete/")
    )()
    assert get.status_code == 405
    assert await conversation.messages.acount() == 4
    assert await theirs.messages.acount() == 1

    assert await sync_to_async(delete_as)(alice, conversation.pk, a1["id"]) == 204
    assert contents(await socket.receive_json_from(timeout=5)) == ["Q2", "A2"]
    await socket.disconnect()


@pytest.mark.django_db
def test_conversations_from_before_branches_become_one_branch_with_their_versions_beside_it(conversation):
    import importlib
    from datetime import timedelta

    from django.apps import apps
    from django.utils import timezone

    from conversations.chat import branches

    migration = importlib.import_module("conversations.migrations.0007_branches")
    start = timezone.now()
    made: dict[str, Message] = {}

    def add(name, role, *, active=True, exchange=None, reply_to=None):
        made[name] = Message.objects.create(
            conversation=conversation,
            role=role,
            content=name,
            active=active,
            exchange=exchange or (made[reply_to].exchange if reply_to else Message().exchange),
            reply_to=made.get(reply_to),
            created_at=start + timedelta(seconds=len(made)),
        )

    add("Q1", "user")
    add("A1", "assistant", reply_to="Q1")
    add("A1 regenerated", "assistant", active=False, reply_to="Q1")
    add("Q2", "user", active=False)
    add("A2", "assistant", active=False, reply_to="Q2")
    add("Q2 edited", "user", exchange=made["Q2"].exchange)
    add("A2 edited", "assistant", reply_to="Q2 edited")

    migration.link_existing(apps, None)

    parents = {
        m.content: m.parent.content if m.parent else None for m in Message.objects.select_related("parent")
    }
    assert parents == {
        "Q1": None,
        "A1": "Q1",
        "A1 regenerated": "Q1",
        "Q2": "A1",
        "A2": "Q2",
        "Q2 edited": "A1",
        "A2 edited": "Q2 edited",
    }

    def shown() -> list[str]:
        return list(conversation.messages.filter(active=True).values_list("content", flat=True))

    branches.switch_version(conversation_id=conversation.pk, reply_id=made["A2"].pk)
    assert shown() == ["Q1", "A1", "Q2", "A2"]
    branches.switch_version(conversation_id=conversation.pk, reply_id=made["A1 regenerated"].pk)
    assert shown() == ["Q1", "A1 regenerated"]
    branches.switch_version(conversation_id=conversation.pk, reply_id=made["A1"].pk)
    assert shown() == ["Q1", "A1", "Q2", "A2"]


@pytest.mark.django_db
def test_deleting_over_http_waits_for_the_reply_that_streams(alice, conversation):
    question = Message.objects.create(conversation=conversation, role="user", content="Q")
    Message.objects.create(
        conversation=conversation, role="assistant", status="streaming", reply_to=question, parent=question
    )
    response = signed_in(alice).post(f"/c/{conversation.pk}/messages/{question.pk}/delete/")
    assert (response.status_code, error_of(response)["code"]) == (409, "busy")
    assert conversation.messages.count() == 2
