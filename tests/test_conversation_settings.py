"""Per-conversation settings and the user's defaults, what reaches Ollama, and the context meter."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from conversations.models import Conversation, Message
from tests.helpers import open_socket, post_json, receive_until, send, signed_in

# Settings -------------------------------------------------------------------------


@pytest.mark.django_db
def test_settings_are_range_checked_and_nothing_is_saved_on_error(alice, conversation):
    client = signed_in(alice)
    response = post_json(
        client,
        f"/c/{conversation.pk}/settings/",
        {
            "options": {"temperature": 3, "top_k": 1.5, "num_ctx": "lots", "colour": 1, "stop": [""]},
            "keep_alive": "300x",
        },
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "temperature": "Must be between 0.0 and 2.0.",
        "top_k": "Must be a whole number.",
        "num_ctx": "Must be a number.",
        "colour": "Unknown option.",
        "stop": "Stop sequences must be a list of non-empty texts.",
        "keep_alive": "Use seconds (300) or a duration with a unit (5m, 1h, 0 to unload at once).",
    }
    conversation.refresh_from_db()
    assert conversation.options == {} and conversation.keep_alive == ""


@pytest.mark.django_db(transaction=True)
async def test_only_the_options_that_are_set_reach_ollama(ollama, alice, conversation):
    client = await sync_to_async(signed_in)(alice)
    response = await sync_to_async(post_json)(
        client,
        f"/c/{conversation.pk}/settings/",
        {
            "system_prompt": "Be brief.",
            "model": "qwen3:8b",
            "keep_alive": "10m",
            "options": {"temperature": "0.2", "top_p": "", "seed": 42, "num_ctx": None, "stop": ["END"]},
        },
    )
    assert response.status_code == 200
    ollama.enqueue_chat("ok")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="hi")
    await receive_until(socket, "done")

    request = ollama.chat_requests()[-1].json
    assert request["model"] == "qwen3:8b"
    assert request["options"] == {"temperature": 0.2, "seed": 42, "stop": ["END"]}
    assert request["keep_alive"] == "10m"
    assert request["messages"][0] == {"role": "system", "content": "Be brief."}
    await socket.disconnect()


@pytest.mark.django_db
def test_keep_alive_in_seconds_is_sent_as_a_number(alice, conversation):
    from conversations.chat.prompt import build_chat_request

    client = signed_in(alice)
    assert post_json(client, f"/c/{conversation.pk}/settings/", {"keep_alive": "300"}).status_code == 200
    conversation.refresh_from_db()
    reply = Message.objects.create(conversation=conversation, role="assistant", model="llama3.2")
    assert build_chat_request(conversation, before=reply)["keep_alive"] == 300


@pytest.mark.django_db
def test_new_conversations_start_from_the_users_defaults(alice):
    client = signed_in(alice)
    assert (
        post_json(
            client,
            "/settings/defaults/",
            {"model": "llava:7b", "system_prompt": "Hi.", "options": {"top_k": 20}},
        ).status_code
        == 200
    )
    created = post_json(client, "/c/new/", {}).json()
    conversation = Conversation.objects.get(pk=created["id"])
    assert (conversation.model, conversation.system_prompt, conversation.options) == (
        "llava:7b",
        "Hi.",
        {"top_k": 20},
    )
    assert client.get("/settings/defaults/").json()["options"] == {"top_k": 20}


@pytest.mark.django_db
def test_the_default_model_can_be_cleared(alice):
    client = signed_in(alice)
    assert post_json(client, "/settings/defaults/", {"model": "llava:7b"}).status_code == 200
    assert client.get("/").context["page_data"]["model"] == "llava:7b"

    cleared = post_json(client, "/settings/defaults/", {"model": "", "system_prompt": "Hi."})

    assert cleared.status_code == 200
    assert cleared.json()["model"] == ""
    assert client.get("/settings/defaults/").json()["model"] == ""
    assert client.get("/").context["page_data"]["model"] is None  # the chat's own pick is used
    created = post_json(client, "/c/new/", {}).json()
    assert Conversation.objects.get(pk=created["id"]).model == ""


# The context meter ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_context_meter_uses_num_ctx_then_the_loaded_model_then_the_maximum(
    ollama, alice, conversation
):
    from tests.fake_ollama import running_model

    await Message.objects.acreate(
        conversation=conversation,
        role="assistant",
        model="llama3.2",
        content="x",
        prompt_eval_count=3600,
        eval_count=300,
    )
    client = await sync_to_async(signed_in)(alice)

    async def meter() -> dict:
        return (await sync_to_async(client.get)(f"/c/{conversation.pk}/context/")).json()

    assert await meter() == {
        "prompt_tokens": 3600,
        "reply_tokens": 300,
        "used_tokens": 3900,
        "context_length": 131072,
        "source": "model",
        "full": False,
    }
    ollama.running = [running_model("llama3.2:latest")]  # loaded with 4096
    # The reply counts: 3,600 alone would be under 90 % of 4,096, with the reply it is over.
    assert await meter() == {
        "prompt_tokens": 3600,
        "reply_tokens": 300,
        "used_tokens": 3900,
        "context_length": 4096,
        "source": "loaded",
        "full": True,
    }
    conversation.options = {"num_ctx": 8192}
    await conversation.asave()
    assert await meter() == {
        "prompt_tokens": 3600,
        "reply_tokens": 300,
        "used_tokens": 3900,
        "context_length": 8192,
        "source": "num_ctx",
        "full": False,
    }


# A new chat's own settings, set before its first message ---------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_new_chat_is_created_with_its_own_settings_and_replays_them(ollama, alice):
    client = await sync_to_async(signed_in)(alice)
    await sync_to_async(post_json)(
        client, "/settings/defaults/", {"system_prompt": "Default.", "keep_alive": "5m"}
    )
    own = {"model": "llama3.2", "system_prompt": "Answer in French.", "options": {"temperature": 0.2}}
    response = await sync_to_async(post_json)(client, "/c/new/", own)
    assert response.status_code == 201
    created = response.json()

    socket = await open_socket(alice, created["id"])
    ollama.enqueue_chat("Bonjour")
    await send(socket, type="chat", content="Hello")
    await receive_until(socket, "done")
    request = ollama.chat_requests()[-1].json
    assert request["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert request["options"] == {"temperature": 0.2}
    assert "keep_alive" not in request  # the chat's own settings replace the defaults whole
    defaults = (await sync_to_async(client.get)("/settings/defaults/")).json()
    assert defaults["system_prompt"] == "Default."
    await socket.disconnect()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"system_prompt": "a\\u0000b"}', None),
        ('{"system_prompt": "\\ud800"}', None),
        ('{"system_prompt": 5}', "system_prompt"),
        ('{"system_prompt": "x", "options": {"temperature": 9}}', "temperature"),
        ('{"options": {"no_such_option": 1}}', "no_such_option"),
        ('{"options": {"temperature": NaN}}', None),
        ('{"keep_alive": "forever"}', "keep_alive"),
        ('["system_prompt"]', None),
    ],
)
@pytest.mark.django_db
def test_a_new_chat_with_bad_settings_is_refused_and_not_created(alice, body, field):
    response = signed_in(alice).post("/c/new/", body, content_type="application/json")
    assert response.status_code == 400
    if field is not None:
        assert field in response.json()["errors"]
    assert not Conversation.objects.exists()
