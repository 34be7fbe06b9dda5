"""Export a conversation as Markdown, JSON or zip, and import it back, or refuse a malformed file."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import Client

from conversations.models import Conversation, Image, Message
from tests.helpers import error_message, png, signed_in


@pytest.mark.django_db
def test_export_and_import_round_trip_with_byte_identical_images(alice, bob, conversation):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = signed_in(alice)
    conversation.system_prompt, conversation.options = "Be kind.", {"temperature": 0.5}
    conversation.save()
    image_id = client.post("/images/", {"file": SimpleUploadedFile("a.png", png("blue"))}).json()["id"]
    question = Message.objects.create(conversation=conversation, role="user", content="What colour?")
    Image.objects.filter(pk=image_id).update(message=question)
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="**Blue**",
        model="llava:7b",
        eval_count=2,
        eval_duration=20_000_000,
        reply_to=question,
    )

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
        (
            export_of({"stats": {"eval_count": 2**31}}),
            "Message 1: eval_count must be a whole number from 0 to 2147483647.",
        ),
        (
            export_of({"stats": {"total_duration": 2**63}}),
            "Message 1: total_duration must be a whole number from 0 to 9223372036854775807.",
        ),
        (
            export_of({"stats": {"prompt_eval_count": -1}}),
            "Message 1: prompt_eval_count must be a whole number",
        ),
        (export_of({"stats": {"eval_count": True}}), "Message 1: eval_count must be a whole number"),
        (export_of({"stats": {"eval_count": "12"}}), "Message 1: eval_count must be a whole number"),
        (
            export_of({"created_at": "2026-02-30T00:00:00+00:00"}),
            "Message 1: created_at must be a date and time.",
        ),
        (
            export_of({"created_at": "2026-01-01T00:00:00+25:00"}),
            "Message 1: created_at must be a date and time.",
        ),
        (
            export_of({"created_at": "0001-01-01T00:00:00+05:00"}),
            "Message 1: created_at must be a date and time.",
        ),
        (export_of({"images": 5}), "Message 1: images must be a list."),
        (export_of({"active": "false"}), "Message 1: active must be true or false."),
        (export_of({"reply_to": ["x"]}), "Message 1: reply_to must be a message id."),
        (export_of({"content": "nul \x00 here"}), "Message 1 contains a NUL character at $.content."),
        (
            export_of({"structured": {"data": {"a\x00": 1}}}),
            "Message 1 contains a NUL character in a key at $.structured.data.",
        ),
        (
            export_of({"format": {"properties": {"a": {"$ref": "#/$defs/missing"}}}}),
            "Message 1: The schema refers to '#/$defs/missing'",
        ),
        (b"{not json", "The file is not valid JSON"),
        (b'{"format": "something-else"}', "This is not a conversation export."),
        (json.dumps({"format": "ollama-chat-export", "version": 9}).encode(), "Unsupported export version 9"),
        (
            json.dumps(
                {
                    "format": "ollama-chat-export",
                    "version": 1,
                    "conversation": {
                        "messages": [
                            {"role": "user", "content": "hi", "created_at": "2026-01-01T00:00:00+00:00"},
                            {"role": "wizard", "content": "x", "created_at": "2026-01-01T00:00:01+00:00"},
                        ]
                    },
                }
            ).encode(),
            "Message 2: unknown role 'wizard'.",
        ),
        (
            json.dumps(
                {
                    "format": "ollama-chat-export",
                    "version": 1,
                    "conversation": {
                        "messages": [
                            {
                                "role": "user",
                                "content": "hi",
                                "created_at": "2026-01-01T00:00:00+00:00",
                                "images": [{"data": base64.b64encode(b"not an image").decode()}],
                            }
                        ]
                    },
                }
            ).encode(),
            "is not an image",
        ),
        (
            json.dumps(
                {
                    "format": "ollama-chat-export",
                    "version": 1,
                    "conversation": {"options": {"temperature": 9}, "messages": []},
                }
            ).encode(),
            "settings are invalid",
        ),
    ],
)
def test_a_malformed_import_explains_itself_and_creates_nothing(alice, settings, content, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = signed_in(alice).post("/c/import/", {"file": SimpleUploadedFile("x.json", content)})

    assert response.status_code == 400 and message in error_message(response)
    assert not Conversation.objects.exists() and not Message.objects.exists() and not Image.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


@pytest.mark.django_db
def test_an_import_reads_a_time_without_offset_as_utc_and_keeps_versions_and_counts(alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = export_of(
        {
            "created_at": "2026-03-01T10:30:00",
            "version": 2,
            "active": False,
            "stats": {"eval_count": 2**31 - 1, "total_duration": 2**63 - 1},
        }
    )
    response = signed_in(alice).post("/c/import/", {"file": SimpleUploadedFile("x.json", content)})

    assert response.status_code == 201
    message = Message.objects.get()
    assert message.created_at == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert (message.version, message.active) == (2, False)
    assert (message.eval_count, message.total_duration) == (2**31 - 1, 2**63 - 1)
