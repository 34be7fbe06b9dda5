"""Export files made by hand, and the upload the Import button makes, for the import tests."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile

STARTED = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def message(number: int = 0, **fields) -> dict:
    return {
        "id": f"m{number}",
        "role": "user",
        "content": f"question {number}",
        "created_at": (STARTED + timedelta(minutes=number)).isoformat(),
        **fields,
    }


def export(*messages: dict, **conversation) -> bytes:
    body = {"title": "Imported", "model": "llama3.2", "messages": list(messages), **conversation}
    return json.dumps({"format": "ollama-chat-export", "version": 1, "conversation": body}).encode()


def import_file(client, content: bytes, name: str = "chat.json"):
    return client.post("/c/import/", {"file": SimpleUploadedFile(name, content)})


def zip_of(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
