"""Every JSON endpoint answers hostile bodies with a 400 naming the field, never an HTML 500."""

from __future__ import annotations

import pytest

from conversations.models import Conversation, Message, Preferences, SavedSchema
from tests.helpers import error_message, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = "[" * 100_000 + "]" * 100_000
# (body as sent, what the 400 must name)
HOSTILE = [
    (
        '{"title": "a\\ud800", "pinned": true, "model": "x\\ud800", "system_prompt": "\\ud800"}',
        "lone surrogate",
    ),
    (
        '{"title": "a\\u0000", "pinned": true, "model": "a\\u0000", "system_prompt": "a\\u0000"}',
        "NUL character",
    ),
    ('{"title": "t", "pinned": NaN, "options": {"temperature": NaN}, "keep_alive": NaN}', "NaN"),
    ('{"title": "t", "pinned": true, "options": {"top_p": Infinity}}', "Infinity"),
    ('{"title": "t", "options": {"top_p": 1e999}}', "out of range"),
    (DEEP, "nested too deeply"),
    ('{"title": ', "not valid JSON"),
]


def endpoints(conversation) -> list[str]:
    return [
        f"/c/{conversation.pk}/rename/",
        f"/c/{conversation.pk}/pin/",
        f"/c/{conversation.pk}/settings/",
        "/settings/defaults/",
        "/schemas/",
        "/c/new/",
        "/models/load/",
        "/models/unload/",
    ]


@pytest.mark.parametrize(("body", "named"), HOSTILE)
def test_hostile_bodies_get_a_json_400_naming_the_problem(alice, conversation, body, named):
    client = signed_in(alice)
    for url in endpoints(conversation):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, url
        assert response["Content-Type"] == "application/json", url
        data = response.json()
        text = data["error"]["message"] if "error" in data else data["errors"]["__all__"]
        assert named in text, (url, text)
    conversation.refresh_from_db()
    assert conversation.title == "Test chat" and not conversation.pinned and conversation.options == {}
    assert not SavedSchema.objects.exists()
    assert Conversation.objects.count() == 1
    assert not Preferences.objects.filter(user=alice).exclude(model="").exists()


def test_the_field_is_named_in_the_path(alice, conversation):
    response = signed_in(alice).post(
        f"/c/{conversation.pk}/rename/", '{"title": "bad \\u0000"}', content_type="application/json"
    )
    assert error_message(response) == "The request body contains a NUL character at $.title."


def test_a_nul_in_a_search_is_a_400(alice, conversation):
    Message.objects.create(conversation=conversation, role="user", content="hello")
    client = signed_in(alice)
    response = client.get("/c/", {"q": "hel\x00lo"})

    assert response.status_code == 400
    assert error_message(response) == "q contains a NUL character."
    assert client.get("/c/", {"q": "hello"}).status_code == 200


@pytest.mark.parametrize(
    "keep_alive", ["NaN", "Infinity", "-Infinity", "1e308", '"nan"', '"99999999h"', "-1e20"]
)
def test_keep_alive_out_of_range_is_refused(alice, conversation, keep_alive):
    client = signed_in(alice)
    for url in (f"/c/{conversation.pk}/settings/", "/settings/defaults/"):
        response = client.post(url, f'{{"keep_alive": {keep_alive}}}', content_type="application/json")
        assert response.status_code == 400, url
        data = response.json()
        assert "keep_alive" in data["errors"] or "__all__" in data["errors"], data
    conversation.refresh_from_db()
    assert conversation.keep_alive == ""


@pytest.mark.parametrize(
    ("keep_alive", "sent"), [("-1", -1), ("1h30m", "1h30m"), ("8784h", "8784h"), ("0", 0)]
)
def test_keep_alive_within_range_is_kept(alice, conversation, keep_alive, sent):
    from conversations.chat.prompt import build_chat_request

    client = signed_in(alice)
    response = client.post(
        f"/c/{conversation.pk}/settings/", {"keep_alive": keep_alive}, content_type="application/json"
    )
    assert response.status_code == 200
    conversation.refresh_from_db()
    reply = Message(conversation=conversation, role="assistant", model="llama3.2")
    assert build_chat_request(conversation, before=reply)["keep_alive"] == sent


def test_a_bad_keep_alive_stored_earlier_is_left_out_rather_than_failing_every_reply(alice, conversation):
    from conversations.chat.prompt import build_chat_request

    Conversation.objects.filter(pk=conversation.pk).update(keep_alive="nan")
    conversation.refresh_from_db()
    reply = Message(conversation=conversation, role="assistant", model="llama3.2")

    assert "keep_alive" not in build_chat_request(conversation, before=reply)
