"""Finding, tuning, tidying and taking out conversations."""

from __future__ import annotations

import base64
import io
import json
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


def copy_page_versions(client: Client, conversation: Conversation) -> list[list[str]]:
    page = client.get(f"/c/{conversation.pk}/").context["page_data"]
    return [m["version_ids"] for m in page["messages"] if m["role"] == "assistant"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
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


@pytest.mark.django_db(transaction=True)
async def test_a_deleted_conversation_while_streaming_does_not_crash_the_reply(ollama, alice, conversation):
    ollama.enqueue_chat(*["x "] * 20, delay=0.05)
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="go")
    await receive_until(socket, "token")
    client = await sync_to_async(signed_in)(alice)
    assert (await sync_to_async(client.post)(f"/c/{conversation.pk}/delete/")).status_code == 204
    await wait_for(lambda: not Message.objects.exists())
    from conversations import generation

    await wait_for(lambda: conversation.pk not in generation._running)
