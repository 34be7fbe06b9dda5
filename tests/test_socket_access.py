"""Who may open a conversation's socket."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from tests.conftest import open_socket, receive_until, send

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_anonymous_socket_is_closed_with_4401(conversation):
    socket = await open_socket(None, conversation.pk)
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


async def test_another_users_conversation_is_closed_with_4404(bob, conversation):
    socket = await open_socket(bob, conversation.pk)
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}


async def test_a_missing_conversation_is_closed_with_4404(alice):
    socket = await open_socket(alice, "00000000-0000-0000-0000-000000000000")
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}


async def test_a_foreign_origin_is_refused_at_the_handshake(alice, conversation):
    from channels.testing import WebsocketCommunicator

    from chatsite.asgi import application
    from tests.conftest import session_cookie

    cookie = await sync_to_async(session_cookie)(alice)
    headers = [(b"origin", b"http://evil.example"), (b"cookie", f"sessionid={cookie}".encode())]
    socket = WebsocketCommunicator(application, f"/ws/conversations/{conversation.pk}/", headers=headers)
    accepted, _ = await socket.connect(timeout=5)

    assert accepted is False


async def test_bob_does_not_see_alices_reply(ollama, alice, bob, conversation):
    from conversations.models import Conversation

    bobs = await Conversation.objects.acreate(owner=bob, model="llama3.2")
    alice_socket = await open_socket(alice, conversation.pk)
    bob_socket = await open_socket(bob, bobs.pk)
    ollama.enqueue_chat("secret")
    await send(alice_socket, type="chat", content="tell me")
    await receive_until(alice_socket, "done")

    assert await bob_socket.receive_nothing(timeout=0.3)
    await alice_socket.disconnect()
    await bob_socket.disconnect()
