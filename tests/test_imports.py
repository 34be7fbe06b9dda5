"""Importing a conversation: refusals that name the problem and leave nothing behind, staging that
nobody sees, the zip export coming back whole, and dates kept."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conversations import sidebar
from conversations.models import Conversation, Image, Message
from conversations.transfer import imports
from tests.helpers import error_message, open_socket, png, signed_in
from tests.import_files import STARTED, export, import_file, message, zip_of

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def stored_files(settings) -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def assert_refused(response, expected: str, settings) -> None:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert expected in error_message(response), error_message(response)
    assert not Conversation.objects.exists() and not Message.objects.exists() and not Image.objects.exists()
    assert not stored_files(settings)


def with_raw(field_json: str) -> bytes:
    """An export whose second message's content is written as raw JSON text (what json.dumps cannot make)."""
    text = export(message(0), message(1, content="PLACEHOLDER")).decode()
    return text.replace('"PLACEHOLDER"', field_json).encode()


PNG = base64.b64encode(png("blue")).decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            with_raw('"a \\ud800 b"'),
            "Message 2 contains a lone surrogate (text that is not valid Unicode) at $.content.",
        ),
        (
            with_raw('"\\ud800\\u0041"'),
            "Message 2 contains a lone surrogate (text that is not valid Unicode) at $.content.",
        ),
        (
            with_raw('"a \\udc00"'),
            "Message 2 contains a lone surrogate (text that is not valid Unicode) at $.content.",
        ),
        (with_raw('"a \\u0000 b"'), "Message 2 contains a NUL character at $.content."),
        (
            with_raw("NaN"),
            "Message 2 is not valid JSON (an unexpected character; NaN and Infinity, for one, are not JSON).",
        ),
        (with_raw("Infinity"), "Message 2 is not valid JSON (an unexpected character"),
        (with_raw("-Infinity"), "Message 2 is not valid JSON"),
        (
            with_raw('"x", "stats": {"eval_count": 1e400}'),
            "Message 2 holds a number out of range (inf) at $.stats.eval_count.",
        ),
        (
            with_raw('"x", "structured": ' + "[" * 100_000 + "]" * 100_000),
            "Message 2 is nested too deeply (the limit is 128 levels).",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "The file is nested too deeply (the limit is 128 levels)."),
        (with_raw("1e99999999999999999999"), "The file holds a number too large to read."),
        (
            export(message(0), message(1, role="system", content="x" * 101)),
            "Message 2: content is too long (101 characters; the limit is 100).",
        ),
        (
            export(message(0), message(1, content="x" * 101)),
            "Message 2: content is too long (101 characters; the limit is 100).",
        ),
        (
            export(message(0, images=[{"data": PNG}] * 3)),
            "Message 1 carries 3 images; a message may carry at most 2.",
        ),
        (export(message(0, images=[{"data": "A" * 2000}])), "Message 1, image 1 is larger than 1,000 bytes"),
        (
            export(message(0, images=[{"file": "images/" + "a" * 64 + ".png"}])),
            "images given as files can only be imported with the zip export",
        ),
        (
            export(*[message(n) for n in range(4)]),
            "The export has more than 3 messages, the most an import may hold.",
        ),
        (export(message(0), title=5), "The conversation's title must be text."),
        (export(message(0), title="a\x00b"), "The conversation's title contains a NUL character"),
        (export(message(0), created_at="yesterday"), "The conversation: created_at must be a date and time."),
        (export(message(0))[:-3], "The file is not valid JSON (it ends too early)."),
        (export(message(0)) + b" {}", "The file is not valid JSON (there is more after its end)."),
        (b"", "The file is not valid JSON (it ends too early)."),
        (
            b'{"format": "ollama-chat-export", "version": 1, "conversation": {"messages": 5}}',
            "The export has no list of messages.",
        ),
        (
            b'{"format": "ollama-chat-export", "version": 1, "conversation": []}',
            "The export has no conversation.",
        ),
        (b'{"conversation": {"messages": [], "messages": []}}', 'The file holds "messages" twice.'),
    ],
)
def test_a_refused_import_names_the_problem_and_leaves_nothing(alice, settings, content, expected):
    settings.MAX_MESSAGE_CHARS = 100
    settings.MAX_IMPORT_MESSAGES = 3
    settings.MAX_IMAGES_PER_MESSAGE = 2
    settings.MAX_IMAGE_BYTES = 1000

    assert_refused(import_file(signed_in(alice), content), expected, settings)


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused_with_the_limit(alice, settings):
    settings.MAX_IMPORT_BYTES = 2 * 2**20
    content = export(message(0, role="assistant", content="x" * (settings.MAX_IMPORT_BYTES + 1000)))
    response = import_file(signed_in(alice), content)
    assert_refused(response, "MB; an import may be at most 2.0 MB.", settings)


@pytest.mark.django_db
def test_a_request_over_the_size_limit_is_refused_before_it_is_parsed(alice, settings):
    settings.MAX_IMPORT_BYTES = 2 * 2**20
    content = export(message(0, role="assistant", content="x" * (settings.MAX_IMPORT_BYTES + 2**20)))
    response = import_file(signed_in(alice), content)
    assert response.status_code == 413
    assert error_message(response) == "An import may be at most 2.0 MB."
    assert not Conversation.objects.exists() and not stored_files(settings)


@pytest.mark.django_db
def test_a_stream_longer_than_the_limit_is_refused_when_read(alice, settings):
    """Whatever size an upload or a zip declares, no more than the limit is read."""
    settings.MAX_IMPORT_BYTES = 100_000
    content = export(message(0, role="assistant", content="x" * 150_000))
    with pytest.raises(imports.ImportRejected) as refused:
        imports.import_upload(owner_id=alice.pk, upload=io.BytesIO(content))
    assert refused.value.message == "The file is larger than 100,000 bytes."
    assert not Conversation.objects.exists() and not Message.objects.exists()


@pytest.mark.django_db
def test_a_failure_half_way_removes_the_batches_and_files_already_written(alice, settings, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_MESSAGES", 2)
    written = []
    original = imports.Message.objects.bulk_create

    def bulk_create(objs, *args, **kwargs):
        written.append(len(objs))
        return original(objs, *args, **kwargs)

    monkeypatch.setattr(imports.Message.objects, "bulk_create", bulk_create)
    messages = [message(n, images=[{"data": PNG}]) for n in range(7)]
    messages.append(message(7, role="wizard"))

    response = import_file(signed_in(alice), export(*messages))

    assert written == [2, 2, 2]  # three batches were in the database before message 8 was read
    assert_refused(response, "Message 8: unknown role 'wizard'.", settings)


@pytest.mark.django_db
def test_settings_after_the_messages_are_read_too(alice):
    text = json.dumps(
        {
            "conversation": {"messages": [message(0)], "system_prompt": "Be brief.", "model": "qwen3:8b"},
            "version": 1,
            "format": "ollama-chat-export",
        }
    ).encode()
    response = import_file(signed_in(alice), text)
    assert response.status_code == 201
    copy = Conversation.objects.get()
    assert (copy.system_prompt, copy.model, copy.messages.count()) == ("Be brief.", "qwen3:8b", 1)


@pytest.mark.django_db
def test_structured_results_are_worked_out_again_not_taken_from_the_file(alice):
    content = export(
        message(0, content="Give me a"),
        message(1, role="assistant", content='{"a": 1}', format=SCHEMA, structured={"errors": 5}),
        message(2, role="assistant", content='{"a": "x"}', format=SCHEMA, structured={"valid": True}),
        message(3, role="assistant", content="plain", structured={"valid": True, "data": 1, "errors": []}),
        message(4, role="assistant", content='{"a"', format="json", status="stopped", structured={"x": 1}),
    )
    assert import_file(signed_in(alice), content).status_code == 201

    results = [m.structured for m in Message.objects.order_by("created_at")]
    assert results[0] is None and results[3] is None and results[4] is None
    assert results[1] == {"valid": True, "data": {"a": 1}, "errors": []}
    assert results[2]["valid"] is False and results[2]["errors"][0]["path"] == "$.a"


BAD_SHAPES = [
    {"errors": 5},
    {"valid": "yes", "errors": [1, "x", {"path": 5}]},
    [],
    "text",
    5,
    {"data": {"a": 1}},
]


@pytest.mark.django_db
@pytest.mark.parametrize("shape", BAD_SHAPES, ids=[json.dumps(s)[:20] for s in BAD_SHAPES])
def test_pages_tolerate_a_structured_result_of_any_shape(alice, conversation, shape):
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser("operator", password="operator-password")
    question = Message.objects.create(conversation=conversation, role="user", content="a?")
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content='{"a": 1}',
        reply_to=question,
        format=SCHEMA,
        structured=shape,
    )
    admin = signed_in(operator)

    assert admin.get(f"/admin/conversations/message/{reply.pk}/change/").status_code == 200
    assert admin.get(f"/admin/conversations/conversation/{conversation.pk}/change/").status_code == 200
    page = signed_in(alice).get(f"/c/{conversation.pk}/")
    assert page.status_code == 200
    shown = page.context["page_data"]["messages"][-1]["structured"]
    assert shown is None or (
        isinstance(shown["valid"], bool)
        and all(isinstance(p["path"], str) and isinstance(p["message"], str) for p in shown["errors"])
    )


@pytest.mark.django_db
def test_the_zip_export_imports_back_with_its_images_and_dates(alice, bob, conversation, settings):
    conversation.created_at = STARTED
    conversation.save()
    image_id = (
        signed_in(alice).post("/images/", {"file": SimpleUploadedFile("a.png", png("red"))}).json()["id"]
    )
    question = Message.objects.create(
        conversation=conversation, role="user", content="Colour?", created_at=STARTED
    )
    Image.objects.filter(pk=image_id).update(message=question)
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="Red",
        reply_to=question,
        created_at=STARTED + timedelta(minutes=1),
    )
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=STARTED, updated_at=STARTED + timedelta(minutes=1)
    )
    archive = signed_in(alice).get(f"/c/{conversation.pk}/export.zip").content

    created = import_file(signed_in(bob), archive, "chat.zip")

    assert created.status_code == 201, created.content
    copy = Conversation.objects.get(pk=created.json()["id"])
    assert (copy.owner, copy.title, copy.created_at, copy.updated_at) == (
        bob,
        "Test chat",
        STARTED,
        STARTED + timedelta(minutes=1),
    )
    question_copy, reply_copy = copy.messages.order_by("created_at")
    assert (question_copy.content, reply_copy.content, reply_copy.reply_to) == (
        "Colour?",
        "Red",
        question_copy,
    )
    image = question_copy.images.get()
    with image.file.open("rb") as handle:
        assert image.owner == bob and handle.read() == png("red")


@pytest.mark.django_db
def test_an_imported_conversation_lands_in_its_own_date_group(alice):
    recent = Conversation.objects.create(owner=alice, title="Recent")
    Message.objects.create(conversation=recent, role="user", content="Hello")
    content = export(
        message(0), created_at=STARTED.isoformat(), updated_at=(STARTED + timedelta(days=2)).isoformat()
    )
    assert import_file(signed_in(alice), content).status_code == 201

    listed = sidebar.page(owner_id=alice.pk).conversations
    assert [c.title for c in listed] == ["Recent", "Imported"]
    assert listed[1].updated_at == STARTED + timedelta(days=2)
    later = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)
    assert [g["label"] for g in sidebar.grouped(listed[1:], now=later)] == ["Previous 30 days"]


def image_name(data: bytes) -> str:
    return f"images/{hashlib.sha256(data).hexdigest()}.png"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"conversation.json": b" " * 3_000_000},
            "The export: conversation.json unpacks to 3,000,000 bytes; the limit is 2,000,000.",
        ),
        ({"other.json": export(message(0))}, "The export: the zip file has no conversation.json."),
        (
            {"conversation.json": export(message(0, images=[{"file": "../../etc/passwd"}]))},
            "Message 1, image 1: the file must be named images/<sha256>.<png|jpg|webp|gif>.",
        ),
        (
            {"conversation.json": export(message(0, images=[{"file": "images/../conversation.json"}]))},
            "Message 1, image 1: the file must be named",
        ),
        (
            {"conversation.json": export(message(0, images=[{"file": image_name(b"gone")}]))},
            f"Message 1, image 1: the zip file has no {image_name(b'gone')}.",
        ),
        (
            {
                "conversation.json": export(message(0, images=[{"file": image_name(b"big")}])),
                image_name(b"big"): b"\0" * 5000,
            },
            f"Message 1, image 1: {image_name(b'big')} unpacks to 5,000 bytes; the limit is 1,000.",
        ),
        (
            {
                "conversation.json": export(message(0, images=[{"file": image_name(b"x")}] * 2)),
                image_name(b"x"): b"not a png",
            },
            "Message 1: “image 1” is not an image",
        ),
        (
            {"conversation.json": export(message(0)), **{f"junk/{n}": b"" for n in range(20)}},
            "The zip file holds more files than an export can (13 at most).",
        ),
        ({"conversation.json": with_raw('"\\ud800"')}, "Message 2 contains a lone surrogate"),
    ],
)
def test_a_zip_that_is_not_an_export_is_refused_before_it_is_unpacked(alice, settings, files, expected):
    settings.MAX_IMPORT_BYTES = 2_000_000
    settings.MAX_IMAGE_BYTES = 1000
    settings.MAX_IMPORT_MESSAGES = 3
    assert_refused(import_file(signed_in(alice), zip_of(files), "chat.zip"), expected, settings)


@pytest.mark.django_db
def test_a_zip_of_many_copies_of_one_image_stops_at_the_import_limit(alice, settings):
    settings.MAX_IMPORT_BYTES = 20_000
    picture = png("green")
    messages = [message(n, images=[{"file": image_name(picture)}]) for n in range(3)]
    settings.MAX_IMPORT_BYTES = len(export(*messages)) + 2 * len(picture) + 10
    files = {"conversation.json": export(*messages), image_name(picture): picture}

    response = import_file(signed_in(alice), zip_of(files), "chat.zip")

    assert_refused(response, "Message 3, image 1: the zip file unpacks to more than", settings)


@pytest.mark.django_db
def test_a_damaged_zip_is_refused(alice, settings):
    archive = zip_of(
        {"conversation.json": export(message(0, content="x" * 5000))}, compression=zipfile.ZIP_STORED
    )
    assert_refused(
        import_file(signed_in(alice), archive[:-30], "chat.zip"),
        "The zip file is damaged or cannot be read (its end is missing).",
        settings,
    )
    # Still valid JSON, but not what was packed: the checksum at the end of the file says so.
    changed = archive.replace(b"x" * 100, b"y" * 100, 1)
    assert_refused(import_file(signed_in(alice), changed, "chat.zip"), "The zip file is damaged", settings)


def staged(owner, *, since: datetime) -> Conversation:
    conversation = Conversation.objects.create(owner=owner, title="Half imported", importing_since=since)
    Message.objects.create(conversation=conversation, role="user", content="staged words")
    return conversation


@pytest.mark.django_db
def test_a_staged_import_is_out_of_its_owners_reach(alice):
    hidden = staged(alice, since=timezone.now())
    client = signed_in(alice)

    for path in ("", "messages/", "export.json", "export.zip", "settings/", "context/"):
        assert client.get(f"/c/{hidden.pk}/{path}").status_code == 404, path
    for path in ("rename/", "pin/", "delete/"):
        assert client.post(f"/c/{hidden.pk}/{path}", "{}", content_type="application/json").status_code == 404
    assert client.get("/c/").json()["groups"] == []
    assert client.get("/c/", {"q": "staged"}).json()["groups"] == []
    assert client.get("/").context["conversations"] == []
    assert Conversation.objects.filter(pk=hidden.pk).exists()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_to_a_staged_import_is_closed_with_4404(alice):
    from asgiref.sync import sync_to_async

    hidden = await sync_to_async(staged)(alice, since=timezone.now())
    socket = await open_socket(alice, hidden.pk)
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}


@pytest.mark.django_db
def test_an_import_left_staged_by_a_dead_worker_is_removed_after_an_hour(alice, settings):
    old = staged(alice, since=timezone.now() - timedelta(hours=2))
    image_id = signed_in(alice).post("/images/", {"file": SimpleUploadedFile("a.png", png())}).json()["id"]
    Image.objects.filter(pk=image_id).update(message=old.messages.get())
    recent = staged(alice, since=timezone.now() - timedelta(minutes=10))
    assert len(stored_files(settings)) == 2  # the original and its thumbnail

    assert import_file(signed_in(alice), export(message(0))).status_code == 201  # an import starts by tidying

    assert not Conversation.objects.filter(pk=old.pk).exists() and not Image.objects.exists()
    assert not stored_files(settings)
    assert Conversation.objects.filter(pk=recent.pk).exists()  # may still be being written


@pytest.mark.django_db
def test_an_import_whose_staging_was_removed_meanwhile_is_refused(alice, settings, monkeypatch):
    """The sweeper took an import for abandoned: the import must not publish what is left."""
    monkeypatch.setattr(imports, "BATCH_MESSAGES", 1)
    original = imports._Staging.write

    def write_then_lose(self):
        original(self)
        if self.conversation_id is not None:
            imports.discard_import(conversation_id=self.conversation_id)

    monkeypatch.setattr(imports._Staging, "write", write_then_lose)
    response = import_file(signed_in(alice), export(message(0), message(1)))
    assert_refused(response, "The import took too long and was stopped; try again.", settings)


@pytest.mark.django_db(transaction=True)
async def test_the_sweeper_removes_an_abandoned_import_without_waiting_for_the_next_one(
    alice, settings, monkeypatch
):
    import asyncio
    import threading

    from asgiref.sync import sync_to_async

    from conversations.chat import liveness

    settings.REPLY_CHECKPOINT_SECONDS = 0.02
    old = await sync_to_async(staged)(alice, since=timezone.now() - timedelta(hours=2))
    swept = threading.Event()
    remove = imports.remove_abandoned_imports

    def remove_and_tell() -> None:
        try:
            remove()
        finally:
            swept.set()

    monkeypatch.setattr(imports, "remove_abandoned_imports", remove_and_tell)
    sweeper = asyncio.create_task(liveness._sweep_forever())
    try:
        assert await asyncio.to_thread(swept.wait, 10)
    finally:
        sweeper.cancel()
    assert not await sync_to_async(Conversation.objects.filter(pk=old.pk).exists)()
    assert not await sync_to_async(Message.objects.exists)()


@pytest.mark.django_db
def test_a_damaged_upload_or_none_at_all_is_refused(alice, settings):
    client = signed_in(alice)
    broken = client.post("/c/import/", b"--x\r\n", content_type="multipart/form-data; boundary=")
    assert_refused(broken, "The upload is damaged", settings)
    assert_refused(client.post("/c/import/", {}), "Choose an exported .json or .zip file.", settings)


@pytest.mark.django_db
def test_an_exported_conversation_imports_back_with_its_branches(alice, conversation):
    from conversations.chat import branches

    def add(content, role, parent=None, *, active=True, minute=0):
        return Message.objects.create(
            conversation=conversation,
            role=role,
            content=content,
            parent=parent,
            reply_to=parent if role == "assistant" else None,
            exchange=parent.exchange if role == "assistant" else Message().exchange,
            active=active,
            chosen=active,
            created_at=STARTED + timedelta(minutes=minute),
        )

    q1 = add("Q1", "user")
    a1 = add("A1", "assistant", q1, minute=1)
    q2 = add("Q2", "user", a1, active=False, minute=2)
    add("A2", "assistant", q2, active=False, minute=3)
    edited = add("Q2 edited", "user", a1, minute=4)
    Message.objects.filter(pk=edited.pk).update(exchange=q2.exchange)
    add("B2", "assistant", Message.objects.get(pk=edited.pk), minute=5)
    client = signed_in(alice)
    exported = client.get(f"/c/{conversation.pk}/export.json").content

    copy = Conversation.objects.get(pk=import_file(client, exported).json()["id"])
    a2_copy = copy.messages.get(content="A2")
    branches.switch_version(conversation_id=copy.pk, reply_id=a2_copy.pk)
    shown = list(copy.messages.filter(active=True).values_list("content", flat=True))
    assert shown == ["Q1", "A1", "Q2", "A2"]
    parents = {
        m.content: m.parent.content if m.parent else None for m in copy.messages.select_related("parent")
    }
    assert parents == {"Q1": None, "A1": "Q1", "Q2": "A1", "A2": "Q2", "Q2 edited": "A1", "B2": "Q2 edited"}


@pytest.mark.django_db
def test_an_export_from_before_branches_imports_as_one_branch(alice):
    content = export(
        message(0),
        message(1, role="assistant", content="answer 1", reply_to="m0"),
        message(2),
        message(3, role="assistant", content="answer 3", reply_to="m2"),
    )
    copy = Conversation.objects.get(pk=import_file(signed_in(alice), content).json()["id"])
    parents = {
        m.content: m.parent.content if m.parent else None for m in copy.messages.select_related("parent")
    }
    assert parents == {
        "question 0": None,
        "answer 1": "question 0",
        "question 2": "answer 1",
        "answer 3": "question 2",
    }
