"""Keys (the page, the admin, the rate limit on an injected clock) and hostile input to /v1/,
in process: every refusal comes before anything is saved."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from conversations.models import ApiKey, Conversation, Image, Message
from openai_api import admission, keys
from tests.helpers import png, signed_in

CHAT = "/v1/chat/completions"

# The views are async: their database calls run on another thread, which needs committed data.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice_key(alice) -> str:
    return keys.create_key(owner_id=alice.pk, name="scripts")[1]


def caller(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def post(client: Client, url: str, body: str | bytes) -> object:
    return client.post(url, body, content_type="application/json")


def assert_openai_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def nothing_saved() -> bool:
    return not Conversation.objects.exists() and not Message.objects.exists() and not Image.objects.exists()


# Keys --------------------------------------------------------------------------------


def test_a_new_key_is_shown_once_and_only_its_hash_is_kept(alice):
    page = signed_in(alice)
    shown = page.post("/api-keys/", {"name": "laptop"})
    key = shown.context["new_key"]
    assert key.startswith(keys.KEY_START) and key in shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
    record = ApiKey.objects.get()
    assert record.hash == keys.digest(key) and key not in str(list(ApiKey.objects.values()))
    again = page.get("/api-keys/").content.decode()
    assert key not in again and record.prefix in again and "laptop" in again


def test_a_key_name_is_checked(alice):
    response = signed_in(alice).post("/api-keys/", {"name": "bad\x00name"})
    assert response.status_code == 400 and not ApiKey.objects.exists()


def test_one_user_cannot_revoke_anothers_key(alice, bob, alice_key):
    record = ApiKey.objects.get()
    assert signed_in(bob).post(f"/api-keys/{record.pk}/revoke/").status_code == 404
    assert caller(alice_key).get("/v1/models").status_code != 401
    assert signed_in(alice).post(f"/api-keys/{record.pk}/revoke/").status_code == 302
    assert_openai_error(caller(alice_key).get("/v1/models"), 401)


def test_staff_revoke_any_key_in_the_admin(alice_key, django_user_model):
    operator = django_user_model.objects.create_superuser("operator", password="operator-password")
    record = ApiKey.objects.get()
    listing = signed_in(operator).get("/admin/conversations/apikey/").content.decode()
    assert record.prefix in listing and record.hash not in listing
    response = signed_in(operator).post(
        "/admin/conversations/apikey/", {"action": "revoke_keys", "_selected_action": [record.pk]}
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.revoked
    assert_openai_error(caller(alice_key).get("/v1/models"), 401)


def test_a_deactivated_users_key_is_refused(alice, alice_key):
    alice.is_active = False
    alice.save()
    assert_openai_error(caller(alice_key).get("/v1/models"), 401)


def test_the_rate_limit_counts_calls_a_minute_on_the_callers_clock(alice_key, settings, monkeypatch):
    settings.API_RATE_LIMIT = 2
    now = [600.0]
    monkeypatch.setattr(admission, "clock", lambda: now[0])
    client = caller(alice_key)
    # A refused call is answered before any work: no Ollama is needed to see the limit.
    assert post(client, CHAT, "{}").status_code == 400
    assert post(client, CHAT, "{}").status_code == 400
    now[0] = 659.2
    refused = post(client, CHAT, "{}")
    assert assert_openai_error(refused, 429)["code"] == "rate_limit_exceeded"
    assert refused["Retry-After"] == "1"
    now[0] = 660.0  # the next minute
    assert post(client, CHAT, "{}").status_code == 400
    record = ApiKey.objects.get()
    assert record.calls == 3 and record.last_used_at.timestamp() == 660.0


def test_the_limit_is_shared_by_every_worker_through_the_database(alice, alice_key):
    record = ApiKey.objects.get()
    assert keys.admit_call(key_id=record.pk, now=0.0, limit=1) is None
    # Another worker, same key, same minute: the row says it is used up.
    assert keys.admit_call(key_id=record.pk, now=30.0, limit=1) == 30.0


def test_a_session_cookie_is_not_a_key(alice):
    response = signed_in(alice).post(CHAT, "{}", content_type="application/json")
    assert assert_openai_error(response, 401)["code"] == "invalid_api_key"


# Hostile input -----------------------------------------------------------------------


def chat_body(content) -> str:
    return json.dumps({"model": "llama3.2", "messages": [{"role": "user", "content": content}]})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (chat_body("a\x00b"), "NUL"),
        (chat_body("\ud800"), "surrogate"),
        ('{"model": "llama3.2", "temperature": NaN, "messages": []}', "not a number JSON allows"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "UTF-8"),
        ("[]", "JSON object"),
        (json.dumps({"model": "llama3.2", "messages": []}), "non-empty list"),
        (json.dumps({"model": "../etc", "messages": [{"role": "user", "content": "x"}]}), "model"),
        (json.dumps({"model": "llama3.2", "messages": [{"role": "wizard", "content": "x"}]}), "role"),
        (
            json.dumps({"model": "llama3.2", "messages": [{"role": "assistant", "content": "x"}]}),
            "last message",
        ),
        (chat_body([{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]), "data: URLs"),
        (chat_body([{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]), "base64"),
        (chat_body("x" * 100_001), "too long"),
        (
            json.dumps(
                {"model": "llama3.2", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}
            ),
            "stream",
        ),
        (
            json.dumps(
                {"model": "llama3.2", "max_tokens": 1e300, "messages": [{"role": "user", "content": "x"}]}
            ),
            "max_tokens",
        ),
    ],
)
def test_hostile_chat_bodies_are_refused_with_a_clear_message(alice_key, body, says):
    error = assert_openai_error(post(caller(alice_key), CHAT, body), 400)
    assert says in error["message"] or says == error["param"], error
    assert nothing_saved()


def tool(name: str = "f", **function) -> dict:
    return {"type": "function", "function": {"name": name, **function}}


def tools_body(tools, messages=None, **extra) -> str:
    return json.dumps(
        {
            "model": "llama3.2",
            "tools": tools,
            "messages": messages or [{"role": "user", "content": "x"}],
            **extra,
        }
    )


def called(arguments: str, call_id: str = "c1", name: str = "f") -> dict:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        ],
    }


def result(call_id: str = "c1", content: str = "ok") -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (tools_body({"f": 1}), "tools"),
        (tools_body([{"type": "function"}]), "tools[0]"),
        (tools_body([tool("bad name!")]), "tools[0].function.name"),
        (tools_body([tool("x" * 65)]), "tools[0].function.name"),
        (tools_body([tool("f\u0000")]), "NUL"),
        (tools_body([tool("f"), tool("f")]), "Two tools"),
        (tools_body([tool(f"f{i}") for i in range(65)]), "at most 64 tools"),
        (tools_body([tool(description="d" * 70_000)]), "characters of JSON"),
        (tools_body([tool(parameters=[1])]), "JSON Schema object"),
        (tools_body([tool()], tool_choice="required"), "tool_choice"),
        (
            json.dumps(
                {"model": "llama3.2", "functions": [{}], "messages": [{"role": "user", "content": "x"}]}
            ),
            "functions",
        ),
        (tools_body([tool()], [{"role": "user", "content": "x"}, called("[1]"), result()]), "JSON object"),
        (
            tools_body([tool()], [{"role": "user", "content": "x"}, called('{"a": "\\u0000"}'), result()]),
            "NUL",
        ),
        (
            tools_body([tool()], [{"role": "user", "content": "x"}, called('{"a": "\\ud800"}'), result()]),
            "surrogate",
        ),
        (tools_body([tool()], [{"role": "user", "content": "x"}, called("{"), result()]), "not valid JSON"),
        (
            tools_body([tool()], [{"role": "user", "content": "x"}, called("{}", name="a b"), result()]),
            "tool name",
        ),
        (tools_body([tool()], [{"role": "user", "content": "x"}, called("{}"), result("c2")]), "must answer"),
        (tools_body([tool()], [{"role": "user", "content": "x"}, result()]), "must answer"),
        (
            tools_body(
                [tool()], [{"role": "user", "content": "x"}, called("{}"), {"role": "tool", "content": "x"}]
            ),
            "tool_call_id",
        ),
        (
            tools_body(
                [tool()],
                [{"role": "user", "content": "x"}, {"role": "user", "content": "y", "tool_calls": []}],
            ),
            "Only the assistant",
        ),
    ],
)
def test_hostile_tools_and_tool_messages_are_refused_and_nothing_is_saved(alice_key, body, says):
    error = assert_openai_error(post(caller(alice_key), CHAT, body), 400)
    assert says in error["message"] or says == error["param"], error
    assert nothing_saved()


def test_results_must_answer_every_call_of_the_last_assistant_message(alice_key):
    messages = [{"role": "user", "content": "x"}, called("{}"), result()]
    messages[1]["tool_calls"].append(
        {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    )
    error = assert_openai_error(post(caller(alice_key), CHAT, tools_body([tool()], messages)), 400)
    assert "each of the last assistant message's tool calls" in error["message"]
    assert nothing_saved()


def test_the_responses_endpoint_takes_no_tool_messages(alice_key):
    body = json.dumps({"model": "llama3.2", "input": [result(), {"role": "user", "content": "x"}]})
    error = assert_openai_error(post(caller(alice_key), "/v1/responses", body), 400)
    assert "only taken by chat completions" in error["message"] and nothing_saved()


def test_a_body_over_the_limit_is_refused_before_it_is_read(alice_key, settings):
    settings.MAX_REQUEST_BYTES = 2048
    settings.MAX_IMAGE_BYTES = 1024
    settings.MAX_IMAGES_PER_MESSAGE = 1
    response = post(caller(alice_key), CHAT, chat_body("x" * 10_000))
    assert response.status_code == 413 and nothing_saved()


def test_ids_that_are_not_ids_are_not_found(alice_key):
    client = caller(alice_key)
    for value in ("conv_nothex", "conv_" + "0" * 32, "conv_%00", "conv_%ED%A0%80"):
        assert_openai_error(client.get(f"/v1/conversations/{value}"), 404)
    body = json.dumps({"model": "llama3.2", "input": "x", "conversation": "conv_zzz"})
    assert_openai_error(post(client, "/v1/responses", body), 404)
    assert_openai_error(client.get("/v1/conversations/conv_" + "0" * 32 + "/items"), 404)
    assert_openai_error(client.get("/v1/conversations/conv_" + "0" * 32 + "/items?limit=1e9"), 400)


def test_other_methods_are_refused_in_openais_shape(alice_key):
    assert_openai_error(caller(alice_key).get(CHAT), 405)


def test_an_image_that_is_not_one_is_refused_and_nothing_is_kept(alice_key, ollama):
    good = "data:image/png;base64," + base64.b64encode(png()).decode()
    bad = "data:image/png;base64," + base64.b64encode(b"not an image at all").decode()
    parts = [
        {"type": "text", "text": "What are these?"},
        {"type": "image_url", "image_url": {"url": good}},
        {"type": "image_url", "image_url": {"url": bad}},
    ]
    body = json.dumps({"model": "llava:7b", "messages": [{"role": "user", "content": parts}]})
    error = assert_openai_error(post(caller(alice_key), CHAT, body), 400)
    assert error["code"] == "invalid_image"
    assert nothing_saved() and ollama.chat_requests() == []


def test_a_refused_reply_leaves_the_conversation_as_the_scripts_retry_expects(alice):
    from openai_api import sessions
    from openai_api.requests import Said, Turn

    first = Turn(model="llama3.2", question=Said("user", "Hi"))
    placed = sessions.chat_conversation(user_id=alice.pk, turn=first)
    assert placed.created
    Message.objects.create(conversation_id=placed.conversation_id, role="user", content="Hi")
    Message.objects.create(conversation_id=placed.conversation_id, role="assistant", content="Hello!")
    second = Turn(
        model="llama3.2",
        question=Said("user", "Again"),
        earlier=[Said("user", "Hi"), Said("assistant", "Hello!")],
    )
    continued = sessions.chat_conversation(user_id=alice.pk, turn=second)
    assert continued.conversation_id == placed.conversation_id and not continued.created
    sessions.discard(user_id=alice.pk, image_ids=(), placed=continued)  # its reply was refused
    retried = sessions.chat_conversation(user_id=alice.pk, turn=second)
    assert retried.conversation_id == placed.conversation_id
    assert Conversation.objects.count() == 1


def test_an_unknown_api_path_is_a_404_in_openais_shape(alice_key):
    error = assert_openai_error(
        caller(alice_key).post("/v1/embeddings", "{}", content_type="application/json"), 404
    )
    assert "/v1/embeddings" in error["message"]
    assert_openai_error(Client().get("/v1/chat/completions/"), 404)
