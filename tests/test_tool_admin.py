"""The admin's tool pages: adding a tool server (headers never shown again in full), refreshing its
tools, and the list of calls with constant queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Conversation, Message, ToolCall, ToolServer
from tests.helpers import closed_port_url, signed_in


@pytest.fixture
def operator(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("operator", password="operator-password")


def server_form(**fields) -> dict:
    return {"name": "fake", "url": "http://127.0.0.1:1/mcp", "enabled": "on", "new_headers": "", **fields}


@pytest.mark.django_db(transaction=True)
def test_staff_add_a_server_whose_headers_are_never_shown_again(operator, alice, fake_mcp):
    client = signed_in(operator)
    secret = "Bearer sk-live-0123456789abcdef"

    response = client.post(
        "/admin/conversations/toolserver/add/",
        server_form(url=fake_mcp.url, new_headers=f"Authorization: {secret}\nX-Team: blue", users=[alice.pk]),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    server = ToolServer.objects.get()
    assert server.headers == {"Authorization": secret, "X-Team": "blue"}
    assert (
        "sk-live" not in server.sealed_headers and "X-Team" not in server.sealed_headers
    )  # encrypted at rest
    assert server.state == "up" and [tool["name"] for tool in server.tools] == [
        "echo",
        "slow",
        "fail",
        "big",
        "nul",
    ]
    assert fake_mcp.headers[0]["authorization"] == secret
    page = client.get(f"/admin/conversations/toolserver/{server.pk}/change/").content.decode()
    assert "sk-live-0123456789abcdef" not in page and "Bea…ef" in page
    assert 'value="slow"' in page  # ask first is offered per listed tool

    client.post(
        f"/admin/conversations/toolserver/{server.pk}/change/",
        server_form(url=fake_mcp.url, users=[alice.pk], ask_first=["slow"]),
    )
    server.refresh_from_db()
    assert server.headers == {"Authorization": secret, "X-Team": "blue"} and server.ask_first == ["slow"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"new_headers": "Authorization Bearer x"}, "is not a header name"),
        ({"new_headers": "X-Bad\u00e9: 1"}, "is not a header name"),
        ({"url": "file:///etc/passwd"}, "Enter a valid URL"),
        ({"url": "ftp://example.com/mcp"}, "Use an http:// or https:// URL."),
    ],
)
def test_bad_servers_are_refused(operator, fields, error):
    response = signed_in(operator).post("/admin/conversations/toolserver/add/", server_form(**fields))
    assert response.status_code == 200 and error in response.content.decode()
    assert not ToolServer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_refreshing_a_server_that_is_down_marks_it(operator):
    server = ToolServer.objects.create(name="gone", url=closed_port_url() + "/mcp")
    response = signed_in(operator).post(
        "/admin/conversations/toolserver/",
        {"action": "refresh_tools", "_selected_action": [str(server.pk)]},
        follow=True,
    )
    assert "Gone is down: The tool server could not be reached." in response.content.decode()
    server.refresh_from_db()
    assert server.state == "down" and server.last_error == "The tool server could not be reached."


@pytest.mark.django_db
def test_the_list_of_calls_takes_the_same_queries_for_many_rows(operator, alice, bob):
    client = signed_in(operator)

    def add_calls(user, count: int) -> None:
        conversation = Conversation.objects.create(owner=user)
        reply = Message.objects.create(conversation=conversation, role="assistant")
        for position in range(count):
            ToolCall.objects.create(
                message=reply,
                user=user,
                round=0,
                position=position,
                name="calculator",
                source="built-in",
                status="ok",
                duration_ms=3,
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/conversations/toolcall/").status_code == 200
        return len(captured)

    add_calls(alice, 1)
    queries()
    few = queries()
    add_calls(bob, 40)
    add_calls(alice, 40)
    assert queries() == few
    listing = client.get("/admin/conversations/toolcall/", {"status__exact": "ok"}).content.decode()
    assert "calculator" in listing and "bob" in listing
    reply = ToolCall.objects.first().message_id
    assert "calculator" in client.get(f"/admin/conversations/message/{reply}/change/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_headers_sealed_under_another_secret_key_are_reported_not_sent(operator, settings, fake_mcp):
    server = ToolServer.objects.create(name="fake", url=fake_mcp.url, headers={"Authorization": "Bearer k"})
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789"

    response = signed_in(operator).post(
        "/admin/conversations/toolserver/",
        {"action": "refresh_tools", "_selected_action": [str(server.pk)]},
        follow=True,
    )

    assert "can no longer be read" in response.content.decode()
    server.refresh_from_db()
    assert server.state == "down" and fake_mcp.headers == []
