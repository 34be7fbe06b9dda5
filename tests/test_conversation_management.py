"""Finding, tuning, tidying and taking out conversations."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone
from PIL import Image as Pillow

from conversations import sidebar
from conversations.models import Conversation, Image, Message
from tests.conftest import open_socket, receive_until, send, wait_for


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client: Client, url: str, body) -> object:
    return client.post(url, json.dumps(body), content_type="application/json")


def png(color: str = "green") -> bytes:
    buffer = io.BytesIO()
    Pillow.new("RGB", (8, 6), color).save(buffer, format="PNG")
    return buffer.getvalue()


# Search and the sidebar ------------------------------------------------------


@pytest.mark.django_db
def test_search_matches_titles_and_message_text_of_my_conversations_only(alice, bob):
    recipes = Conversation.objects.create(owner=alice, title="Pasta recipes")
    physics = Conversation.objects.create(owner=alice, title="Physics")
    Message.objects.create(conversation=physics, role="user", content="Explain QUANTUM tunnelling")
    Conversation.objects.create(owner=bob, title="Bob's quantum notes")
    hidden = Conversation.objects.create(owner=alice, title="Old")
    Message.objects.create(conversation=hidden, role="user", content="quantum", active=False)
    client = signed_in(alice)

    def titles(query: str) -> list[str]:
        groups = client.get("/c/", {"q": query}).json()["groups"]
        return [c["title"] for group in groups for c in group["conversations"]]

    assert titles("pasta") == ["Pasta recipes"]
    assert titles("quantum") == ["Physics"]
    assert sorted(titles("")) == ["Old", "Pasta recipes", "Physics"]
    assert titles("nothing like this") == []
    assert recipes.pk


def test_conversations_are_grouped_by_date_with_pinned_first():
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)

    def conversation(title: str, age: timedelta, pinned: bool = False) -> Conversation:
        return Conversation(title=title, updated_at=now - age, pinned=pinned)

    groups = sidebar.grouped(
        [
            conversation("Pinned old", timedelta(days=400), pinned=True),
            conversation("Now", timedelta(hours=1)),
            conversation("Last night", timedelta(days=1)),
            conversation("Monday", timedelta(days=3)),
            conversation("Earlier this month", timedelta(days=20)),
            conversation("September", timedelta(days=70)),
            conversation("Also September", timedelta(days=75)),
        ],
        now=now,
    )

    assert [(g["label"], [c.title for c in g["conversations"]]) for g in groups] == [
        ("Pinned", ["Pinned old"]),
        ("Today", ["Now"]),
        ("Yesterday", ["Last night"]),
        ("Previous 7 days", ["Monday"]),
        ("Previous 30 days", ["Earlier this month"]),
        ("September 2026", ["September", "Also September"]),
    ]


@pytest.mark.django_db
def test_the_sidebar_follows_the_browsers_time_zone(alice):
    # A moment whose day differs between UTC and the browser's zone. Which zone
    # shows it depends on the hour now, so both halves of the day are covered.
    now = timezone.now()
    midnight_utc = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now.hour < 10:  # still today in Kiritimati (UTC+14)
        moment, zone, expected = (
            midnight_utc - timedelta(minutes=30),
            "Pacific/Kiritimati",
            ("Yesterday", "Today"),
        )
    else:  # already today in Honolulu (UTC-10)
        moment, zone, expected = (
            midnight_utc + timedelta(minutes=30),
            "Pacific/Honolulu",
            ("Today", "Yesterday"),
        )
    conversation = Conversation.objects.create(owner=alice, title="Late")
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=moment)
    client = signed_in(alice)
    utc = client.get("/c/").json()["groups"][0]["label"]
    client.cookies["tz"] = zone
    in_zone = client.get("/c/").json()["groups"][0]["label"]
    assert (utc, in_zone) == expected
    client.cookies["tz"] = "Not/AZone"
    assert client.get("/c/").status_code == 200


# Rename, pin, delete ----------------------------------------------------------


@pytest.mark.django_db
def test_rename_pin_and_delete(alice, bob, conversation, settings):
    client = signed_in(alice)
    assert post_json(client, f"/c/{conversation.pk}/rename/", {"title": "  Trip   plans "}).status_code == 200
    assert post_json(client, f"/c/{conversation.pk}/pin/", {"pinned": True}).json()["pinned"] is True
    conversation.refresh_from_db()
    assert (conversation.title, conversation.title_source, conversation.pinned) == (
        "Trip plans",
        "user",
        True,
    )

    assert post_json(client, f"/c/{conversation.pk}/rename/", {"title": ""}).status_code == 400
    assert post_json(client, f"/c/{conversation.pk}/pin/", {"pinned": "yes"}).status_code == 400
    intruder = signed_in(bob)
    assert post_json(intruder, f"/c/{conversation.pk}/rename/", {"title": "Mine"}).status_code == 404
    assert intruder.post(f"/c/{conversation.pk}/delete/").status_code == 404

    message = Message.objects.create(conversation=conversation, role="user", content="look")
    from django.core.files.uploadedfile import SimpleUploadedFile

    image_id = client.post("/images/", {"file": SimpleUploadedFile("a.png", png())}).json()["id"]
    Image.objects.filter(pk=image_id).update(message=message)
    media = Path(settings.MEDIA_ROOT)
    assert any(media.rglob("*.png"))

    assert client.post(f"/c/{conversation.pk}/delete/").status_code == 204
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Image.objects.exists() and not [p for p in media.rglob("*") if p.is_file()]


@pytest.mark.django_db(transaction=True)
async def test_open_tabs_learn_of_a_rename_and_a_delete(alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    client = await sync_to_async(signed_in)(alice)
    await sync_to_async(post_json)(client, f"/c/{conversation.pk}/rename/", {"title": "New name"})
    assert await socket.receive_json_from(timeout=5) == {"type": "title", "title": "New name"}

    await sync_to_async(client.post)(f"/c/{conversation.pk}/delete/")
    assert await socket.receive_json_from(timeout=5) == {"type": "deleted"}
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}


# Titles -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_title_is_generated_after_the_first_reply(ollama, settings, alice):
    settings.GENERATE_TITLES = True
    conversation = await Conversation.objects.acreate(owner=alice, model="llama3.2")
    ollama.enqueue_chat("Sure, here is a plan.")
    ollama.enqueue_completion('"Weekend Trip to Lisbon."')
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="Help me plan a weekend in Lisbon with two kids")
    frames = await receive_until(socket, "done")
    assert frames[0]["title"] == "Help me plan a weekend in Lisbon with two kids"

    assert await socket.receive_json_from(timeout=5) == {"type": "title", "title": "Weekend Trip to Lisbon"}
    request = ollama.completion_requests()[-1].json
    assert request["stream"] is False and request["options"]["num_predict"] == 24
    assert "Help me plan a weekend in Lisbon" in request["messages"][0]["content"]
    await conversation.arefresh_from_db()
    assert (conversation.title, conversation.title_source) == ("Weekend Trip to Lisbon", "generated")
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_manual_rename_is_never_overwritten_and_a_failure_keeps_the_first_words(
    ollama, settings, alice
):
    settings.GENERATE_TITLES = True
    renamed = await Conversation.objects.acreate(
        owner=alice, model="llama3.2", title="Mine", title_source="user"
    )
    failing = await Conversation.objects.acreate(owner=alice, model="llama3.2")
    for conversation in (renamed, failing):
        ollama.enqueue_chat("ok")
        ollama.enqueue_completion(error="model runner has unexpectedly stopped")
        socket = await open_socket(alice, conversation.pk)
        await send(socket, type="chat", content="first words of the question")
        await receive_until(socket, "done")
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    await renamed.arefresh_from_db()
    await failing.arefresh_from_db()
    assert (renamed.title, renamed.title_source) == ("Mine", "user")
    assert (failing.title, failing.title_source) == ("first words of the question", "first_words")
    assert len(ollama.completion_requests()) == 1  # none was asked for the renamed one


# Versions ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_regenerate_keeps_the_earlier_reply_as_a_version(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("First answer")
    await send(socket, type="chat", content="Question?")
    first = (await receive_until(socket, "done"))[-1]["message"]
    ollama.enqueue_chat("Second answer")
    await send(socket, type="regenerate")
    frames = await receive_until(socket, "done")

    assert frames[0]["type"] == "reply" and frames[0]["replaces"] == [first["id"]]
    second = frames[-1]["message"]
    assert (second["content"], second["version"], second["versions"]) == ("Second answer", 2, 2)
    assert ollama.chat_requests()[-1].json["messages"] == [{"role": "user", "content": "Question?"}]

    assert second["version_ids"] == [first["id"], second["id"]]
    await send(socket, type="switch_version", message_id=second["version_ids"][0])
    history = await socket.receive_json_from(timeout=5)
    assert history["type"] == "history" and history["reset"] is True
    assert [(m["content"], m["version"], m["versions"]) for m in history["messages"]] == [
        ("Question?", 1, 1),
        ("First answer", 1, 2),
    ]
    ollama.enqueue_chat("Follow-up answer")
    await send(socket, type="chat", content="And then?")
    await receive_until(socket, "done")
    assert ollama.chat_requests()[-1].json["messages"] == [
        {"role": "user", "content": "Question?"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "And then?"},
    ]
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_edit_the_last_question_and_flip_back(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("Paris")
    await send(socket, type="chat", content="Capital of France?")
    original = await receive_until(socket, "done")
    ollama.enqueue_chat("Rome")
    await send(socket, type="edit", content="Capital of Italy?", client_id="e1")
    frames = await receive_until(socket, "done")

    question = frames[0]
    assert question["type"] == "message" and question["message"]["content"] == "Capital of Italy?"
    assert set(frames[1]["replaces"]) == {original[0]["message"]["id"], original[-1]["message"]["id"]}
    assert ollama.chat_requests()[-1].json["messages"] == [{"role": "user", "content": "Capital of Italy?"}]
    assert frames[-1]["message"]["versions"] == 2

    await send(socket, type="switch_version", message_id=original[-1]["message"]["id"])
    history = await socket.receive_json_from(timeout=5)
    assert [m["content"] for m in history["messages"]] == ["Capital of France?", "Paris"]
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_versions_are_refused_while_streaming_and_for_older_exchanges(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    ollama.enqueue_chat("one")
    await send(socket, type="chat", content="first")
    old = (await receive_until(socket, "done"))[-1]["message"]
    ollama.enqueue_chat("two", delay=0.3)
    ollama.enqueue_chat("two!")
    await send(socket, type="chat", content="second")
    await receive_until(socket, "reply")

    await send(socket, type="regenerate")
    assert (await receive_until(socket, "error"))[-1]["code"] == "busy"
    await receive_until(socket, "done")
    await send(socket, type="switch_version", message_id=old["id"])
    assert (await receive_until(socket, "error"))[-1]["code"] == "invalid"
    await socket.disconnect()


# Settings -------------------------------------------------------------------------


@pytest.mark.django_db
def test_settings_are_range_checked_and_nothing_is_saved_on_error(alice, conversation):
    client = signed_in(alice)
    response = post_json(
        client,
        f"/c/{conversation.pk}/settings/",
        {"options": {"temperature": 3, "top_k": 1.5, "num_ctx": "lots", "colour": 1, "stop": [""]},
         "keep_alive": "300x"},
    )  # fmt: skip

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
        {"system_prompt": "Be brief.", "model": "qwen3:8b", "keep_alive": "10m",
         "options": {"temperature": "0.2", "top_p": "", "seed": 42, "num_ctx": None, "stop": ["END"]}},
    )  # fmt: skip
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
    from conversations.history import build_chat_request

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

    await Message.objects.acreate(conversation=conversation, role="assistant", model="llama3.2",
                                  content="x", prompt_eval_count=3900)  # fmt: skip
    client = await sync_to_async(signed_in)(alice)

    async def meter() -> dict:
        return (await sync_to_async(client.get)(f"/c/{conversation.pk}/context/")).json()

    assert await meter() == {
        "prompt_tokens": 3900,
        "context_length": 131072,
        "source": "model",
        "full": False,
    }
    ollama.running = [running_model("llama3.2:latest")]  # loaded with 4096
    assert await meter() == {"prompt_tokens": 3900, "context_length": 4096, "source": "loaded", "full": True}
    conversation.options = {"num_ctx": 8192}
    await conversation.asave()
    assert await meter() == {
        "prompt_tokens": 3900,
        "context_length": 8192,
        "source": "num_ctx",
        "full": False,
    }


# Paging ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_long_conversation_opens_with_its_latest_messages_and_pages_back(alice, conversation):
    start = timezone.now() - timedelta(hours=1)
    Message.objects.bulk_create(
        Message(conversation=conversation, role="user" if i % 2 == 0 else "assistant", content=f"m{i}",
                created_at=start + timedelta(seconds=i))
        for i in range(2000)
    )  # fmt: skip
    client = signed_in(alice)

    page = client.get(f"/c/{conversation.pk}/").context["page_data"]
    assert [m["content"] for m in page["messages"]] == [f"m{i}" for i in range(1950, 2000)]
    assert page["has_more"] is True
    older = client.get(f"/c/{conversation.pk}/messages/", {"before": page["messages"][0]["id"]}).json()
    assert [m["content"] for m in older["messages"]] == [f"m{i}" for i in range(1900, 1950)]
    assert older["has_more"] is True
    assert client.get(f"/c/{conversation.pk}/messages/", {"before": "nope"}).status_code == 400


@pytest.mark.django_db
def test_messages_sharing_one_timestamp_all_load_when_scrolling_up(alice, conversation):
    moment = timezone.now() - timedelta(hours=1)
    Message.objects.bulk_create(
        Message(conversation=conversation, role="user", content=f"m{i}", created_at=moment)
        for i in range(120)
    )
    in_order = [str(pk) for pk in Message.objects.order_by("created_at", "id").values_list("pk", flat=True)]
    client = signed_in(alice)

    page = client.get(f"/c/{conversation.pk}/").context["page_data"]
    shown = [m["id"] for m in page["messages"]]
    while True:
        older = client.get(f"/c/{conversation.pk}/messages/", {"before": shown[0]}).json()
        shown = [m["id"] for m in older["messages"]] + shown
        if not older["has_more"]:
            break

    assert shown == in_order


@pytest.mark.django_db(transaction=True)
async def test_a_reconnecting_tab_gets_the_messages_that_share_its_last_ones_timestamp(alice, conversation):
    moment = timezone.now() - timedelta(minutes=5)
    await Message.objects.abulk_create(
        Message(conversation=conversation, role="user", content=f"m{i}", created_at=moment) for i in range(6)
    )
    in_order = [
        str(pk) async for pk in Message.objects.order_by("created_at", "id").values_list("pk", flat=True)
    ]
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="sync", after=in_order[2])
    frame = await socket.receive_json_from(timeout=5)

    assert frame["type"] == "history" and frame["reset"] is False
    assert [m["id"] for m in frame["messages"]] == in_order[3:]
    await socket.disconnect()


# Export and import ------------------------------------------------------------------


@pytest.mark.django_db
def test_export_and_import_round_trip_with_byte_identical_images(alice, bob, conversation):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = signed_in(alice)
    conversation.system_prompt, conversation.options = "Be kind.", {"temperature": 0.5}
    conversation.save()
    image_id = client.post("/images/", {"file": SimpleUploadedFile("a.png", png("blue"))}).json()["id"]
    question = Message.objects.create(conversation=conversation, role="user", content="What colour?")
    Image.objects.filter(pk=image_id).update(message=question)
    Message.objects.create(conversation=conversation, role="assistant", content="**Blue**", model="llava:7b",
                           eval_count=2, eval_duration=20_000_000, reply_to=question)  # fmt: skip

    exported = client.get(f"/c/{conversation.pk}/export.json")
    assert exported["Content-Disposition"] == 'attachment; filename="test-chat.json"'
    data = json.loads(exported.content)
    assert data["conversation"]["messages"][0]["images"][0]["data"] == base64.b64encode(png("blue")).decode()

    other = signed_in(bob)
    from django.core.files.uploadedfile import SimpleUploadedFile as Upload

    created = other.post("/c/import/", {"file": Upload("chat.json", exported.content)})
    assert created.status_code == 201
    copy = Conversation.objects.get(pk=created.json()["id"])
    assert copy.owner == bob and copy.system_prompt == "Be kind." and copy.options == {"temperature": 0.5}
    messages = list(copy.messages.order_by("created_at"))
    assert [(m.role, m.content, m.eval_count) for m in messages] == [
        ("user", "What colour?", None),
        ("assistant", "**Blue**", 2),
    ]
    assert messages[1].reply_to == messages[0]
    # The copy's versions are its own: a regenerated copy never lists the original's replies.
    original = Message.objects.get(conversation=conversation, role="assistant")
    assert messages[1].exchange != original.exchange
    assert copy_page_versions(other, copy) == [[str(messages[1].pk)]]
    imported = messages[0].images.get()
    with imported.file.open("rb") as handle:
        assert imported.owner == bob and handle.read() == png("blue")

    markdown = client.get(f"/c/{conversation.pk}/export.md").content.decode()
    assert "## You" in markdown and "What colour?" in markdown and "**Blue**" in markdown
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/c/{conversation.pk}/export.zip").content))
    names = archive.namelist()
    assert "conversation.json" in names
    assert archive.read(next(n for n in names if n.startswith("images/"))) == png("blue")
    assert other.get(f"/c/{conversation.pk}/export.json").status_code == 404


@pytest.mark.django_db
def test_only_the_documented_export_formats_are_served(alice, bob, conversation):
    Message.objects.create(conversation=conversation, role="user", content="hi")
    client = signed_in(alice)
    for kind in ("md", "json", "zip"):
        response = client.get(f"/c/{conversation.pk}/export.{kind}")
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="test-chat.{kind}"'
    for kind in ("exe", "html", "txt", "zipx", "ZIP", "md.zip"):
        assert client.get(f"/c/{conversation.pk}/export.{kind}").status_code == 404, kind
    assert signed_in(bob).get(f"/c/{conversation.pk}/export.md").status_code == 404


def copy_page_versions(client: Client, conversation: Conversation) -> list[list[str]]:
    page = client.get(f"/c/{conversation.pk}/").context["page_data"]
    return [m["version_ids"] for m in page["messages"] if m["role"] == "assistant"]


def export_of(message: dict | None = None, **top) -> bytes:
    """An export holding one message with `message`'s fields changed, or with top-level keys changed."""
    entry = {"role": "user", "content": "hi", "created_at": "2026-01-01T00:00:00+00:00", **(message or {})}
    data = {"format": "ollama-chat-export", "version": 1, "conversation": {"messages": [entry]}, **top}
    return json.dumps(data).encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (export_of(version="1"), "Unsupported export version '1'"),
        (export_of(version=True), "Unsupported export version True"),
        (export_of({"version": "x"}), "Message 1: version must be a whole number from 1 to 2147483647."),
        (export_of({"version": [1]}), "Message 1: version must be a whole number"),
        (export_of({"version": 1.5}), "Message 1: version must be a whole number"),
        (export_of({"version": -1}), "Message 1: version must be a whole number"),
        (export_of({"version": 0}), "Message 1: version must be a whole number"),
        (export_of({"version": 2**31}), "Message 1: version must be a whole number"),
        (export_of({"stats": {"eval_count": 2**31}}), "Message 1: eval_count must be a whole number from 0 to 2147483647."),
        (export_of({"stats": {"total_duration": 2**63}}), "Message 1: total_duration must be a whole number from 0 to 9223372036854775807."),
        (export_of({"stats": {"prompt_eval_count": -1}}), "Message 1: prompt_eval_count must be a whole number"),
        (export_of({"stats": {"eval_count": True}}), "Message 1: eval_count must be a whole number"),
        (export_of({"stats": {"eval_count": "12"}}), "Message 1: eval_count must be a whole number"),
        (export_of({"created_at": "2026-02-30T00:00:00+00:00"}), "Message 1: created_at must be a date and time."),
        (export_of({"created_at": "2026-01-01T00:00:00+25:00"}), "Message 1: created_at must be a date and time."),
        (export_of({"created_at": "0001-01-01T00:00:00+05:00"}), "Message 1: created_at must be a date and time."),
        (export_of({"images": 5}), "Message 1: images must be a list."),
        (export_of({"active": "false"}), "Message 1: active must be true or false."),
        (export_of({"reply_to": ["x"]}), "Message 1: reply_to must be a message id."),
        (export_of({"content": "nul \x00 here"}), "The export contains a NUL character"),
        (export_of({"structured": {"data": {"a\x00": 1}}}), "The export contains a NUL character"),
        (export_of({"format": {"properties": {"a": {"$ref": "#/$defs/missing"}}}}),
         "Message 1: The schema refers to '#/$defs/missing'"),
        (b"{not json", "The file is not valid JSON"),
        (b'{"format": "something-else"}', "This is not a conversation export."),
        (json.dumps({"format": "ollama-chat-export", "version": 9}).encode(), "Unsupported export version 9"),
        (json.dumps({"format": "ollama-chat-export", "version": 1, "conversation": {"messages": [
            {"role": "user", "content": "hi", "created_at": "2026-01-01T00:00:00+00:00"},
            {"role": "wizard", "content": "x", "created_at": "2026-01-01T00:00:01+00:00"}]}}).encode(),
         "Message 2: unknown role 'wizard'."),
        (json.dumps({"format": "ollama-chat-export", "version": 1, "conversation": {"messages": [
            {"role": "user", "content": "hi", "created_at": "2026-01-01T00:00:00+00:00",
             "images": [{"data": base64.b64encode(b"not an image").decode()}]}]}}).encode(),
         "is not an image"),
        (json.dumps({"format": "ollama-chat-export", "version": 1, "conversation": {
            "options": {"temperature": 9}, "messages": []}}).encode(), "settings are invalid"),
    ],
)  # fmt: skip
def test_a_malformed_import_explains_itself_and_creates_nothing(alice, settings, content, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = signed_in(alice).post("/c/import/", {"file": SimpleUploadedFile("x.json", content)})

    assert response.status_code == 400 and message in response.json()["error"]
    assert not Conversation.objects.exists() and not Message.objects.exists() and not Image.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


@pytest.mark.django_db
def test_an_import_reads_a_time_without_offset_as_utc_and_keeps_versions_and_counts(alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = export_of(
        {"created_at": "2026-03-01T10:30:00", "version": 2, "active": False,
         "stats": {"eval_count": 2**31 - 1, "total_duration": 2**63 - 1}}
    )  # fmt: skip
    response = signed_in(alice).post("/c/import/", {"file": SimpleUploadedFile("x.json", content)})

    assert response.status_code == 201
    message = Message.objects.get()
    assert message.created_at == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert (message.version, message.active) == (2, False)
    assert (message.eval_count, message.total_duration) == (2**31 - 1, 2**63 - 1)


# The admin ---------------------------------------------------------------------------


@pytest.fixture
def operator(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("operator", password="operator-password")


@pytest.mark.django_db
def test_the_admin_list_search_filters_and_detail(operator, alice, bob, conversation):
    Message.objects.create(conversation=conversation, role="user", content="the zebra question")
    Message.objects.create(
        conversation=conversation, role="assistant", content="zebra answer", thinking="hmm"
    )
    Conversation.objects.create(owner=bob, title="Bob's chat", model="qwen3:8b")
    client = signed_in(operator)

    listing = client.get("/admin/conversations/conversation/")
    assert listing.status_code == 200
    rows = {(c.title, c.number_of_messages) for c in listing.context["cl"].result_list}
    assert rows == {("Test chat", 2), ("Bob's chat", 0)}
    searched = client.get("/admin/conversations/conversation/", {"q": "zebra"}).context["cl"].result_list
    assert [c.title for c in searched] == ["Test chat"]
    filtered = (
        client.get("/admin/conversations/conversation/", {"model": "qwen3:8b"}).context["cl"].result_list
    )
    assert [c.title for c in filtered] == ["Bob's chat"]
    by_owner = client.get("/admin/conversations/conversation/", {"owner__id__exact": alice.pk})
    assert [c.title for c in by_owner.context["cl"].result_list] == ["Test chat"]
    detail = client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").content.decode()
    assert "zebra answer" in detail and "hmm" in detail
    messages = client.get("/admin/conversations/message/", {"role__exact": "assistant"})
    assert [m.content for m in messages.context["cl"].result_list] == ["zebra answer"]
    assert f"/admin/conversations/conversation/{conversation.pk}/change/" in messages.content.decode()


@pytest.mark.django_db
def test_the_admin_list_takes_the_same_queries_for_many_rows(operator, alice, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(operator)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/conversations/conversation/").status_code == 200
        return len(captured)

    Conversation.objects.create(owner=alice, title="one")
    queries()
    few = queries()
    for index in range(60):
        conversation = Conversation.objects.create(owner=alice, title=f"c{index}")
        Message.objects.create(conversation=conversation, role="user", content="x")
    assert queries() == few


@pytest.mark.django_db
def test_the_admin_export_action(operator, conversation):
    Message.objects.create(conversation=conversation, role="user", content="exported text")
    response = signed_in(operator).post(
        "/admin/conversations/conversation/",
        {"action": "export_conversations", "_selected_action": [str(conversation.pk)]},
    )
    data = json.loads(response.content)
    assert data[0]["conversation"]["messages"][0]["content"] == "exported text"


@pytest.mark.django_db
def test_staff_see_conversations_only_with_the_view_permission(alice, conversation):
    from django.contrib.auth.models import Permission

    alice.is_staff = True
    alice.save()
    client = signed_in(alice)
    assert client.get("/admin/conversations/conversation/").status_code == 403
    alice.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    assert client.get("/admin/conversations/conversation/").status_code == 200
    assert client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").status_code == 200


@pytest.mark.django_db
def test_the_admin_searches_by_owner_and_filters_by_model_owner_and_dates(operator, alice, bob):
    def made(owner, title: str, model: str, created: datetime, updated: datetime) -> None:
        conversation = Conversation.objects.create(owner=owner, title=title, model=model)
        Conversation.objects.filter(pk=conversation.pk).update(created_at=created, updated_at=updated)

    now = timezone.now()
    made(alice, "Old llama", "llama3.2", datetime(2020, 6, 15, 12, tzinfo=UTC), now - timedelta(days=30))
    made(alice, "Old qwen", "qwen3:8b", datetime(2021, 6, 15, 12, tzinfo=UTC), now - timedelta(days=3))
    made(bob, "Bob's llama", "llama3.2", datetime(2021, 8, 15, 12, tzinfo=UTC), now - timedelta(days=60))
    Conversation.objects.create(owner=bob, title="Fresh", model="llama3.2")
    client = signed_in(operator)

    def titles(query: str) -> set[str]:
        response = client.get(f"/admin/conversations/conversation/{query}")
        assert response.status_code == 200
        return {c.title for c in response.context["cl"].result_list}

    def links(query: str = "") -> dict[str, str]:
        """The page's filter and date links: where they go, and their text."""
        page = client.get(f"/admin/conversations/conversation/{query}").content.decode()
        found = re.findall(r'<a href="(\?[^"]*)"[^>]*>([^<]+)</a>', page)
        return {html.unescape(href): text.strip() for href, text in found}

    assert titles("?q=bob") == {"Bob's llama", "Fresh"}  # no title or message says "bob"
    assert titles("?q=alice") == {"Old llama", "Old qwen"}
    shown = links()
    by_model = next(href for href, text in shown.items() if text == "qwen3:8b")
    assert titles(by_model) == {"Old qwen"}
    by_owner = next(href for href, text in shown.items() if text == "alice")
    assert titles(by_owner) == {"Old llama", "Old qwen"}
    assert titles(f"?model=llama3.2&owner__id__exact={bob.pk}") == {"Bob's llama", "Fresh"}
    week = [href for href, text in shown.items() if text == "Past 7 days"]
    created_week = next(href for href in week if "created_at__gte" in href)
    updated_week = next(href for href in week if "updated_at__gte" in href)
    assert titles(created_week) == {"Fresh"}
    assert titles(updated_week) == {"Old qwen", "Fresh"}

    # The date hierarchy: years, then a year's months, then a month's days.
    assert {"?created_at__year=2020", "?created_at__year=2021"} <= set(shown)
    assert titles("?created_at__year=2021") == {"Old qwen", "Bob's llama"}
    months = links("?created_at__year=2021")
    assert months["?created_at__month=6&created_at__year=2021"] == "June 2021"
    assert titles("?created_at__month=8&created_at__year=2021") == {"Bob's llama"}
    days = links("?created_at__month=8&created_at__year=2021")
    assert titles(next(href for href, text in days.items() if text == "August 15")) == {"Bob's llama"}


@pytest.mark.django_db
def test_the_admin_message_list_filters_by_status_and_searches_text(operator, conversation):
    Message.objects.create(conversation=conversation, role="user", content="Where is the zebra?")
    Message.objects.create(conversation=conversation, role="assistant", content="Partial", status="stopped")
    Message.objects.create(
        conversation=conversation, role="assistant", content="No zebra here", status="error"
    )
    client = signed_in(operator)

    def contents(**query) -> set[str]:
        response = client.get("/admin/conversations/message/", query)
        assert response.status_code == 200
        return {m.content for m in response.context["cl"].result_list}

    assert contents(status__exact="error") == {"No zebra here"}
    assert contents(status__exact="stopped") == {"Partial"}
    assert contents(q="zebra") == {"Where is the zebra?", "No zebra here"}
    assert contents(q="zebra", status__exact="complete") == {"Where is the zebra?"}
    assert "?status__exact=error" in client.get("/admin/conversations/message/").content.decode()


PROTECTED = {
    "role": "system", "status": "error", "version": "9", "exchange": "00000000-0000-0000-0000-000000000009",
    "format": '"json"', "structured": '{"valid": true, "data": 1, "errors": []}', "model": "other",
    "error": "made up", "done_reason": "length", "prompt_eval_count": "1", "eval_count": "999",
    "total_duration": "5", "load_duration": "5", "prompt_eval_duration": "5", "eval_duration": "5",
    "created_at_0": "2020-01-01", "created_at_1": "00:00:00",
}  # fmt: skip


def message_record(message: Message) -> tuple:
    message.refresh_from_db()
    return (message.conversation_id, message.reply_to_id, message.role, message.status, message.version,
            message.active, message.exchange, message.format, message.structured, message.model,
            message.error, message.done_reason, message.prompt_eval_count, message.eval_count,
            message.total_duration, message.eval_duration, message.created_at)  # fmt: skip


@pytest.mark.django_db
def test_the_admin_edits_only_a_messages_text(operator, alice, conversation):
    question = Message.objects.create(conversation=conversation, role="user", content="Q")
    reply = Message.objects.create(
        conversation=conversation, role="assistant", content="rude answer", thinking="rude thought",
        reply_to=question, format="json", structured={"valid": True, "data": 1, "errors": []},
        eval_count=12, eval_duration=10**9, model="llama3.2",
    )  # fmt: skip
    other = Conversation.objects.create(owner=alice, title="Other")
    before = message_record(reply)
    client = signed_in(operator)
    url = f"/admin/conversations/message/{reply.pk}/change/"

    page = client.get(url)
    assert set(page.context["adminform"].form.fields) == {"content", "thinking"}
    shown = page.content.decode()
    for name in (*PROTECTED, "conversation", "reply_to", "active"):
        assert f'name="{name}"' not in shown
    assert "rude answer" in shown and "llama3.2" in shown  # the record is shown, read-only

    response = client.post(url, {
        **PROTECTED, "conversation": str(other.pk), "reply_to": "", "active": "",
        "content": "[removed]", "thinking": "", "images-TOTAL_FORMS": "0", "images-INITIAL_FORMS": "0",
    })  # fmt: skip

    assert response.status_code == 302
    assert message_record(reply) == before
    assert (reply.content, reply.thinking) == ("[removed]", "")


@pytest.mark.django_db
def test_the_admin_cannot_touch_a_streaming_reply_or_add_messages(operator, conversation):
    streaming = Message.objects.create(conversation=conversation, role="assistant", status="streaming")
    client = signed_in(operator)

    page = client.get(f"/admin/conversations/message/{streaming.pk}/change/")
    assert page.status_code == 200 and not page.context["adminform"].form.fields

    assert client.get("/admin/conversations/message/add/").status_code == 403
    added = client.post("/admin/conversations/message/add/", {
        "conversation": str(conversation.pk), "role": "user", "content": "forged",
        "images-TOTAL_FORMS": "0", "images-INITIAL_FORMS": "0",
    })  # fmt: skip
    assert added.status_code == 403 and list(Message.objects.all()) == [streaming]
    listing = client.get("/admin/conversations/message/").content.decode()
    assert "/admin/conversations/message/add/" not in listing


def conversation_form(conversation: Conversation, **changes: str) -> dict[str, str]:
    return {
        "title": conversation.title, "title_source": conversation.title_source, "model": conversation.model,
        "system_prompt": conversation.system_prompt, "options": json.dumps(conversation.options),
        "keep_alive": conversation.keep_alive, "messages-TOTAL_FORMS": "0", "messages-INITIAL_FORMS": "0",
        **changes,
    }  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"options": '{"temperature": 9}'}, "options", "temperature: Must be between 0.0 and 2.0."),
        ({"options": '{"colour": "blue"}'}, "options", "colour: Unknown option."),
        ({"options": '{"num_ctx": 100.5}'}, "options", "num_ctx: Must be a whole number."),
        ({"options": "[1, 2]"}, "options", "Must be an object."),
        ({"keep_alive": "a while"}, "keep_alive", "Use seconds (300) or a duration with a unit"),
        ({"model": "no such model!"}, "model", "That is not a valid model name."),
    ],
)
def test_the_admin_checks_conversation_settings_like_the_chat_does(
    operator, conversation, changes, field, message
):
    conversation.options = {"temperature": 0.5}
    conversation.save()
    client = signed_in(operator)
    url = f"/admin/conversations/conversation/{conversation.pk}/change/"

    response = client.post(url, conversation_form(conversation, title="Renamed", **changes))

    assert response.status_code == 200
    assert message in response.context["adminform"].form.errors[field][0]
    assert message in response.content.decode()
    conversation.refresh_from_db()
    assert (conversation.title, conversation.options) == ("Test chat", {"temperature": 0.5})


@pytest.mark.django_db
def test_the_admin_saves_settings_in_the_form_the_chat_uses(operator, conversation):
    client = signed_in(operator)
    url = f"/admin/conversations/conversation/{conversation.pk}/change/"
    changes = {"options": '{"temperature": "0.7", "top_k": 40.0, "stop": "END\\nSTOP", "seed": ""}',
               "keep_alive": " 5m ", "model": "qwen3:8b"}  # fmt: skip

    assert client.post(url, conversation_form(conversation, **changes)).status_code == 302

    conversation.refresh_from_db()
    assert conversation.options == {"temperature": 0.7, "top_k": 40, "stop": ["END", "STOP"]}
    assert (conversation.keep_alive, conversation.model) == ("5m", "qwen3:8b")


@pytest.mark.django_db(transaction=True)
async def test_a_deleted_conversation_while_streaming_does_not_crash_the_reply(ollama, alice, conversation):
    ollama.enqueue_chat(*["x "] * 20, delay=0.05)
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="go")
    await receive_until(socket, "token")
    client = await sync_to_async(signed_in)(alice)
    assert (await sync_to_async(client.post)(f"/c/{conversation.pk}/delete/")).status_code == 204
    await wait_for(lambda: not Message.objects.exists())
    from conversations import liveness

    await wait_for(lambda: conversation.pk not in liveness.running)
