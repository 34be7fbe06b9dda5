"""A socket lives no longer than its session and its user's rights, and outlives no conversation."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete
from django.test import Client

from conversations import signals
from conversations.chat import liveness
from conversations.models import Conversation, Message
from tests.helpers import open_path, open_socket, receive_until, send, signed_in, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


async def socket_of(client: Client, path: str) -> WebsocketCommunicator:
    """A socket carrying this client's own session cookie (so that signing it out ends it)."""
    from chatsite.asgi import application

    cookie = client.cookies["sessionid"].value
    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    socket = WebsocketCommunicator(application, path, headers=headers)
    assert (await socket.connect(timeout=5))[0]
    return socket


async def closed_as_signed_out(socket: WebsocketCommunicator) -> None:
    assert await socket.receive_json_from(timeout=5) == {"type": "signed_out"}
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


async def still_open(socket: WebsocketCommunicator) -> None:
    await send(socket, type="ping")
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}


async def test_signing_out_closes_that_sessions_sockets_and_no_other(alice, conversation):
    laptop, phone = await sync_to_async(signed_in)(alice), await sync_to_async(signed_in)(alice)
    path = f"/ws/conversations/{conversation.pk}/"
    on_laptop, models_on_laptop = await socket_of(laptop, path), await socket_of(laptop, "/ws/models/")
    await receive_until(models_on_laptop, "pulls")
    on_phone = await socket_of(phone, path)

    assert (await sync_to_async(laptop.post)("/logout/")).status_code == 302

    await closed_as_signed_out(on_laptop)
    await closed_as_signed_out(models_on_laptop)
    await still_open(on_phone)
    await on_phone.disconnect()


def test_sockets_check_only_once_the_signed_out_session_is_gone(alice, monkeypatch):
    from django.contrib.sessions.models import Session

    laptop = signed_in(alice)
    key = laptop.cookies["sessionid"].value
    seen: list[bool] = []
    monkeypatch.setattr(
        signals, "_check_sockets", lambda user_id: seen.append(Session.objects.filter(pk=key).exists())
    )

    assert laptop.post("/logout/").status_code == 302

    assert seen == [False]


async def test_deactivating_a_user_closes_all_their_sockets(alice, bob, conversation):
    bobs = await Conversation.objects.acreate(owner=bob, model="llama3.2")
    sockets = [await open_socket(alice, conversation.pk), await open_socket(alice, conversation.pk)]
    bob_socket = await open_socket(bob, bobs.pk)

    alice.is_active = False
    await alice.asave()

    for socket in sockets:
        await closed_as_signed_out(socket)
    await still_open(bob_socket)
    await bob_socket.disconnect()


async def test_a_new_password_ends_the_other_sessions_sockets(alice, conversation):
    other = await open_socket(alice, conversation.pk)

    await sync_to_async(alice.set_password)("a-new-Password-2")
    await alice.asave()

    await closed_as_signed_out(other)


async def test_deleting_a_user_closes_their_sockets(alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    await get_user_model().objects.filter(pk=alice.pk).adelete()
    outputs = [await socket.receive_output(timeout=5)]
    while outputs[-1]["type"] != "websocket.close":
        outputs.append(await socket.receive_output(timeout=5))
    assert outputs[-1]["code"] in (4401, 4404)


async def test_staff_rights_are_checked_again_for_every_pull(admin, ollama):
    socket = await open_path(admin, "/ws/models/")
    await receive_until(socket, "pulls")
    # Changed without a signal (another process, a raw update): the frame itself checks.
    await get_user_model().objects.filter(pk=admin.pk).aupdate(is_staff=False)
    await send(socket, type="pull", model="llava:7b")
    refused = await socket.receive_json_from(timeout=5)

    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert ollama.requests_to("/api/pull") == []
    await socket.disconnect()


async def test_a_pull_from_a_signed_out_socket_is_refused(admin, ollama):
    client = await sync_to_async(signed_in)(admin)
    socket = await socket_of(client, "/ws/models/")
    await receive_until(socket, "pulls")
    session = client.session
    await sync_to_async(session.delete)()  # the session is gone, the event lost
    await send(socket, type="pull", model="llava:7b")

    await closed_as_signed_out(socket)
    assert ollama.requests_to("/api/pull") == []


async def test_deleting_in_the_admin_stops_the_reply_and_tells_the_tabs(ollama, alice, conversation):
    operator = await get_user_model().objects.acreate_superuser("operator", password="operator-password")
    ollama.enqueue_chat(*[f"w{i} " for i in range(100)], delay=0.05)
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="talk")
    await receive_until(socket, "token")

    admin_client = await sync_to_async(signed_in)(operator)
    response = await sync_to_async(admin_client.post)(
        f"/admin/conversations/conversation/{conversation.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302

    frames = await receive_until(socket, "deleted", timeout=10)
    assert frames[-1] == {"type": "deleted"}
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
    upstream = ollama.chat_requests()[-1]
    assert upstream.done.wait(5) and upstream.closed_by_client
    await wait_for(lambda: conversation.pk not in liveness.running)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "regenerate"},
        {"type": "edit", "content": "again"},
        {"type": "switch_version", "message_id": "00000000-0000-0000-0000-000000000001"},
        {"type": "chat", "content": "hello?"},
    ],
)
async def test_a_vanished_conversation_answers_deleted_never_a_crash(ollama, alice, conversation, frame):
    question = await Message.objects.acreate(conversation=conversation, role="user", content="q")
    await Message.objects.acreate(
        conversation=conversation,
        role="assistant",
        content="a",
        reply_to=question,
        exchange=question.exchange,
    )
    socket = await open_socket(alice, conversation.pk)
    post_delete.disconnect(signals.end_deleted_conversation, sender=Conversation)
    try:
        await conversation.adelete()  # gone without the tabs hearing of it
    finally:
        post_delete.connect(signals.end_deleted_conversation, sender=Conversation)

    await send(socket, **frame)
    assert await socket.receive_json_from(timeout=5) == {"type": "deleted"}
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
