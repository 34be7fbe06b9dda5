"""Pages and JSON endpoints over HTTP: first run, sign-in, ownership, the model list."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from conversations.middleware import FirstRunMiddleware
from conversations.models import Conversation, Message
from tests.helpers import closed_port_url, error_message, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_first_run_flag(monkeypatch):
    # The middleware remembers "there are users" per process; tests start empty.
    monkeypatch.setattr(FirstRunMiddleware, "__init__", _init_without_memory)


def _init_without_memory(self, get_response):
    self.get_response = get_response
    self.has_users = False


def test_with_no_users_every_page_leads_to_first_run(client):
    for path in ["/", "/login/", "/admin/", "/c/00000000-0000-0000-0000-000000000000/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/setup/", path


def test_first_run_creates_the_administrator_and_signs_in(client):
    response = client.post(
        "/setup/", {"username": "admin", "password1": "a-Long-pass-123", "password2": "a-Long-pass-123"}
    )

    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get()
    assert user.username == "admin" and user.is_superuser and user.is_staff
    assert client.get("/").status_code == 200


def test_first_run_shows_form_errors_and_creates_nothing(client):
    response = client.post("/setup/", {"username": "admin", "password1": "a", "password2": "b"})

    assert response.status_code == 200
    assert b"didn" in response.content  # "The two password fields didn't match."
    assert not get_user_model().objects.exists()


def test_first_run_is_closed_once_a_user_exists(client, alice):
    response = client.post("/setup/", {"username": "eve", "password1": "x-Long-pass-1", "password2": "x"})
    assert response.status_code == 302
    assert not get_user_model().objects.filter(username="eve").exists()


def test_pages_require_sign_in(client, alice, conversation):
    for path in ["/", f"/c/{conversation.pk}/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), path


def test_sign_in_and_out(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "alice-password"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_the_sidebar_lists_only_my_conversations_newest_first(client, alice, bob):
    older = Conversation.objects.create(owner=alice, title="Older")
    newer = Conversation.objects.create(owner=alice, title="Newer")
    secret = Conversation.objects.create(owner=bob, title="Bob's secret")
    for conversation in (older, newer, secret):
        Message.objects.create(conversation=conversation, role="user", content="Hello")
    # Set apart explicitly: two saves in a row may read the same time from the clock.
    Conversation.objects.filter(pk=older.pk).update(updated_at=datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
    Conversation.objects.filter(pk=newer.pk).update(updated_at=datetime(2026, 5, 1, 9, 1, tzinfo=UTC))
    client.force_login(alice)

    response = client.get("/")

    titles = [c.title for c in response.context["conversations"]]
    assert titles == ["Newer", "Older"]
    assert b"Bob&#x27;s secret" not in response.content and b"Bob's secret" not in response.content


def test_a_conversation_page_carries_its_messages(client, alice, conversation):
    Message.objects.create(conversation=conversation, role="user", content="hi <b>there</b>")
    Message.objects.create(conversation=conversation, role="assistant", content="**hello**")
    client.force_login(alice)

    response = client.get(f"/c/{conversation.pk}/")

    data = response.context["page_data"]
    assert data["conversation_id"] == str(conversation.pk)
    assert data["ws_path"] == f"/ws/conversations/{conversation.pk}/"
    assert [m["content"] for m in data["messages"]] == ["hi <b>there</b>", "**hello**"]
    assert data["messages"][1]["html"] == "<p><strong>hello</strong></p>\n"
    # The data island is escaped: user text cannot close the script element.
    assert b"hi <b>there</b>" not in response.content


def test_another_users_conversation_is_404(client, bob, conversation):
    client.force_login(bob)
    assert client.get(f"/c/{conversation.pk}/").status_code == 404


def test_opening_a_conversation_takes_a_constant_number_of_queries(client, alice, conversation):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)

    def queries_to_open() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/c/{conversation.pk}/").status_code == 200
        return len(captured)

    Message.objects.create(conversation=conversation, role="user", content="q")
    Message.objects.create(conversation=conversation, role="assistant", content="a")
    queries_to_open()  # the first request also checks whether any user exists
    few = queries_to_open()
    for index in range(40):
        Message.objects.create(conversation=conversation, role="user", content=f"q{index}")
        Message.objects.create(conversation=conversation, role="assistant", content=f"a{index}")
    for index in range(20):
        Conversation.objects.create(owner=alice, title=f"other {index}")

    assert queries_to_open() == few <= 10


def test_new_conversation(client, alice):
    client.force_login(alice)
    response = client.post(
        "/c/new/", json.dumps({"model": "llama3.2:latest"}), content_type="application/json"
    )

    assert response.status_code == 201
    conversation = Conversation.objects.get()
    assert response.json() == {
        "id": str(conversation.pk),
        "url": f"/c/{conversation.pk}/",
        "ws_path": f"/ws/conversations/{conversation.pk}/",
    }
    assert conversation.owner == alice and conversation.model == "llama3.2:latest"


@pytest.mark.parametrize("body", ["not json", '{"model": 5}', '{"model": "bad name!"}'])
def test_new_conversation_rejects_bad_input(client, alice, body):
    client.force_login(alice)
    response = client.post("/c/new/", body, content_type="application/json")
    assert response.status_code == 400 and error_message(response)
    assert not Conversation.objects.exists()


def test_new_conversation_needs_post_and_csrf(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/c/new/").status_code == 405
    assert client.post("/c/new/", "{}", content_type="application/json").status_code == 403


def test_the_model_list_comes_from_ollama(client, ollama, alice):
    client.force_login(alice)
    response = client.get("/api/models/")

    assert response.status_code == 200
    models = response.json()["models"]
    assert [m["name"] for m in models] == ["llama3.2:latest", "llava:7b", "qwen3:8b"]
    assert models[0] | {"modified_at": "", "digest": ""} == {
        "name": "llama3.2:latest",
        "size": 2019393189,
        "modified_at": "",
        "digest": "",
        "family": "llama",
        "parameter_size": "3.2B",
        "quantization": "Q4_K_M",
        "capabilities": ["completion", "tools"],
    }
    assert models[0]["digest"] and models[0]["modified_at"]
    assert "vision" in models[1]["capabilities"]


def test_the_model_list_explains_an_unreachable_ollama(client, settings, alice):
    settings.OLLAMA_HOST = closed_port_url()
    client.force_login(alice)

    response = client.get("/api/models/")

    assert response.status_code == 502
    assert error_of(response) == {
        "code": "unreachable",
        "message": f"Cannot reach Ollama at {settings.OLLAMA_HOST}. Is it running? Start it with `ollama serve`.",
    }


def test_pages_forbid_inline_scripts(client, alice):
    client.force_login(alice)
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_the_admin_lists_conversations_and_messages(client, alice, conversation):
    Message.objects.create(conversation=conversation, role="user", content="hello admin")
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)

    assert b"Test chat" in client.get("/admin/conversations/conversation/").content
    assert (
        b"hello admin" in client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").content
    )
    assert b"hello admin" in client.get("/admin/conversations/message/").content


def test_a_new_chat_starts_on_the_users_default_model(client, alice):
    from conversations.models import Preferences

    client.force_login(alice)
    assert client.get("/").context["page_data"]["model"] is None
    Preferences.objects.create(user=alice, model="llava:7b")
    assert client.get("/").context["page_data"]["model"] == "llava:7b"


def test_the_chat_page_links_to_the_models_page_and_staff_to_the_admin(client, alice):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'href="/models/"' in page and 'href="/admin/"' not in page
    alice.is_staff = True
    alice.save()
    assert 'href="/admin/"' in client.get("/").content.decode()
