"""Who may open a conversation's socket."""

from __future__ import annotations

import pytest

from tests.helpers import open_path, open_socket, receive_until, send

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


def both_sockets(conversation) -> list[str]:
    return [f"/ws/conversations/{conversation.pk}/", "/ws/models/"]


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://evil.example", "testserver"),
        ("http://testserver:9999", "testserver"),  # another port of the same host
        ("http://testserver", "testserver:8000"),
        ("https://testserver", "testserver"),  # another scheme
        ("null", "testserver"),  # sandboxed frames and file:// pages
        ("", "testserver"),
        ("http://testserver", "evil.example"),  # a Host the site does not answer to
    ],
)
async def test_any_other_origin_is_refused_at_the_handshake(alice, conversation, origin, host):
    for path in both_sockets(conversation):
        socket = await open_path(alice, path, origin=origin, host=host, connected=False)
        assert socket.accepted is False, path


async def test_the_sites_own_origin_with_its_port_is_admitted(alice, conversation, settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    for path in both_sockets(conversation):
        socket = await open_path(
            alice, path, origin="http://chat.example.com:8000", host="chat.example.com:8000"
        )
        await socket.disconnect()


async def test_a_trusted_proxy_origin_is_admitted(alice, conversation, settings):
    """Behind a TLS proxy the app sees ws:// while the page is on https://: CSRF_TRUSTED_ORIGINS says so."""
    settings.ALLOWED_HOSTS = ["chat.example.com", "team.example.org"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.example.org"]
    for path in both_sockets(conversation):
        for origin, host in [
            ("https://chat.example.com", "chat.example.com"),
            ("https://team.example.org", "team.example.org"),
        ]:
            socket = await open_path(alice, path, origin=origin, host=host)
            await socket.disconnect()
        refused = await open_path(
            alice, path, origin="http://other.example.org", host="team.example.org", connected=False
        )
        assert refused.accepted is False


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
