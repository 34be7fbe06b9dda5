"""Taking conversations out (Markdown, JSON, zip) and bringing a JSON export back in."""

from __future__ import annotations

import base64
import binascii
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from conversations import images as image_files
from conversations.models import Conversation, Image, Message
from conversations.options import InvalidSettings, clean_settings
from conversations.replies import STATS_FIELDS
from conversations.structured import SchemaRejected, check_format

FORMAT = "ollama-chat-export"
VERSION = 1
MAX_IMPORT_BYTES = 200 * 1024 * 1024
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
# The largest value each integer column takes on every supported database.
COLUMN_LIMITS = {"PositiveIntegerField": 2**31 - 1, "PositiveBigIntegerField": 2**63 - 1}


class ImportRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _messages(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.order_by("created_at", "id").prefetch_related("images"))


def export_data(conversation: Conversation, *, embed_images: bool = True) -> dict[str, Any]:
    """Everything about a conversation; images as base64, or as file names for a zip."""
    messages = []
    for message in _messages(conversation):
        entry: dict[str, Any] = {
            "id": str(message.pk),
            "role": message.role,
            "content": message.content,
            "thinking": message.thinking,
            "model": message.model,
            "status": message.status,
            "error": message.error,
            "created_at": message.created_at.isoformat(),
            "exchange": str(message.exchange),
            "version": message.version,
            "active": message.active,
            "reply_to": str(message.reply_to_id) if message.reply_to_id else None,
            "stats": {"done_reason": message.done_reason, **{f: getattr(message, f) for f in STATS_FIELDS}},
            "format": message.format,
            "structured": message.structured,
            "images": [],
        }
        for image in message.images.all():
            described = {"content_type": image.content_type, "sha256": image.sha256, "width": image.width,
                         "height": image.height}  # fmt: skip
            if embed_images:
                with image.file.open("rb") as handle:
                    described["data"] = base64.b64encode(handle.read()).decode("ascii")
            else:
                described["file"] = f"images/{image.sha256}.{EXTENSIONS[image.content_type]}"
            entry["images"].append(described)
        messages.append(entry)
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "conversation": {
            "id": str(conversation.pk),
            "title": conversation.title,
            "model": conversation.model,
            "system_prompt": conversation.system_prompt,
            "options": conversation.options,
            "keep_alive": conversation.keep_alive,
            "pinned": conversation.pinned,
            "created_at": conversation.created_at.isoformat(),
            "updated_at": conversation.updated_at.isoformat(),
            "messages": messages,
        },
    }


def export_json(conversation: Conversation) -> bytes:
    return json.dumps(export_data(conversation), ensure_ascii=False, indent=2).encode()


def export_zip(conversation: Conversation) -> bytes:
    """conversation.json plus the images as separate files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        data = export_data(conversation, embed_images=False)
        archive.writestr("conversation.json", json.dumps(data, ensure_ascii=False, indent=2))
        for message in _messages(conversation):
            for image in message.images.all():
                with image.file.open("rb") as handle:
                    archive.writestr(f"images/{image.sha256}.{EXTENSIONS[image.content_type]}", handle.read())
    return buffer.getvalue()


def export_markdown(conversation: Conversation) -> str:
    lines = [f"# {conversation.title or 'Conversation'}", ""]
    lines.append(f"Model: {conversation.model or '—'} · Started {conversation.created_at:%Y-%m-%d %H:%M} UTC")
    if conversation.system_prompt:
        lines += ["", "## System", "", conversation.system_prompt]
    for message in _messages(conversation):
        if not message.active:
            continue
        heading = {"user": "You", "assistant": message.model or "Assistant"}.get(message.role, message.role)
        lines += ["", f"## {heading}", f"*{message.created_at:%Y-%m-%d %H:%M} UTC*", ""]
        if message.thinking:
            lines += ["<details><summary>Thinking</summary>", "", message.thinking, "", "</details>", ""]
        lines.append(message.content or f"*({message.status})*")
        lines += [f"![image {index}](images/{image.sha256}.{EXTENSIONS[image.content_type]})"
                  for index, image in enumerate(message.images.all(), start=1)]  # fmt: skip
    return "\n".join(lines) + "\n"


# Import ---------------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ImportRejected(message)


def _when(value: Any, where: str) -> datetime:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is not None:
            # An export always carries an offset; a time without one is read as UTC.
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        parsed = None
    _require(parsed is not None, f"{where}: created_at must be a date and time.")
    return parsed


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_count(value: Any, field: str, where: str, *, lowest: int = 0) -> None:
    """A value the message's integer column `field` can hold, on any database."""
    highest = COLUMN_LIMITS[Message._meta.get_field(field).get_internal_type()]
    _require(
        _whole_number(value) and lowest <= value <= highest,
        f"{where}: {field} must be a whole number from {lowest} to {highest}.",
    )


def _has_nul(data: Any) -> bool:
    """PostgreSQL stores no NUL character, in text or in JSON."""
    pending = [data]
    while pending:
        current = pending.pop()
        if isinstance(current, str) and "\x00" in current:
            return True
        if isinstance(current, dict):
            pending.extend(current.keys())
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return False


def import_json(*, owner_id: int, raw: bytes) -> Conversation:
    """Recreate an exported conversation for `owner_id`, all or nothing.

    Everything is checked before the first row is written, images by decoding
    them; if anything fails later, the rows are rolled back and the files removed.
    """
    _require(len(raw) <= MAX_IMPORT_BYTES, "The file is too large to import.")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ImportRejected(f"The file is not valid JSON ({exc}).") from None
    _require(isinstance(data, dict) and data.get("format") == FORMAT, "This is not a conversation export.")
    version = data.get("version")
    _require(_whole_number(version) and version == VERSION, f"Unsupported export version {version!r}.")
    source = data.get("conversation")
    _require(isinstance(source, dict), "The export has no conversation.")
    _require(not _has_nul(source), "The export contains a NUL character, which cannot be stored.")
    try:
        settings = clean_settings(source)
    except InvalidSettings as exc:
        raise ImportRejected(f"The conversation's settings are invalid: {exc}") from None
    messages = source.get("messages")
    _require(isinstance(messages, list), "The export has no list of messages.")
    checked = [_check_message(entry, index) for index, entry in enumerate(messages, start=1)]
    written: list[Image] = []
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                owner_id=owner_id,
                title=str(source.get("title") or "")[:200],
                title_source=Conversation.TitleSource.USER,
                model=settings.model,
                system_prompt=settings.system_prompt,
                options=settings.options,
                keep_alive=settings.keep_alive,
            )
            created: dict[str, Message] = {}
            exchanges: dict[uuid.UUID, uuid.UUID] = {}  # the copy gets ids of its own
            for entry, fields, pictures in checked:
                if "exchange" in fields:
                    fields["exchange"] = exchanges.setdefault(fields["exchange"], uuid.uuid4())
                reply_to = created.get(entry.get("reply_to") or "")
                message = Message.objects.create(conversation=conversation, reply_to=reply_to, **fields)
                created[str(entry.get("id"))] = message
                for picture in pictures:
                    written.append(
                        image_files.store_upload(owner_id=owner_id, upload=picture, message=message)
                    )
    except BaseException:
        for image in written:
            image_files.delete_files(image)
        raise
    return conversation


def _check_message(entry: Any, index: int) -> tuple[dict[str, Any], dict[str, Any], list[SimpleUploadedFile]]:
    where = f"Message {index}"
    _require(isinstance(entry, dict), f"{where} is not an object.")
    _require(entry.get("role") in Message.Role.values, f"{where}: unknown role {entry.get('role')!r}.")
    _require(isinstance(entry.get("content", ""), str), f"{where}: content must be text.")
    status = entry.get("status", Message.Status.COMPLETE)
    _require(status in Message.Status.values, f"{where}: unknown status {status!r}.")
    if status == Message.Status.STREAMING:
        status = Message.Status.INTERRUPTED
    stats = entry.get("stats") or {}
    _require(isinstance(stats, dict), f"{where}: stats must be an object.")
    version = 1 if entry.get("version") is None else entry["version"]
    _require_count(version, "version", where, lowest=1)
    reply_to = entry.get("reply_to")
    _require(reply_to is None or isinstance(reply_to, str), f"{where}: reply_to must be a message id.")
    images = entry.get("images") or []
    _require(isinstance(images, list), f"{where}: images must be a list.")
    _require(isinstance(entry.get("active", True), bool), f"{where}: active must be true or false.")
    fields: dict[str, Any] = {
        "role": entry["role"],
        "content": entry.get("content", ""),
        "thinking": str(entry.get("thinking") or ""),
        "model": str(entry.get("model") or "")[:200],
        "status": status,
        "error": str(entry.get("error") or ""),
        "created_at": _when(entry.get("created_at"), where),
        "version": version,
        "active": entry.get("active", True),
        "done_reason": str(stats.get("done_reason") or "")[:32],
        "structured": entry.get("structured") if isinstance(entry.get("structured"), dict) else None,
    }
    for name in STATS_FIELDS:
        value = stats.get(name)
        if value is not None:
            _require_count(value, name, where)
        fields[name] = value
    if entry.get("exchange"):
        try:
            fields["exchange"] = uuid.UUID(str(entry["exchange"]))
        except ValueError:
            raise ImportRejected(f"{where}: exchange must be an id.") from None
    if entry.get("format") is not None:
        try:
            fields["format"] = check_format(entry["format"])
        except SchemaRejected as exc:
            raise ImportRejected(f"{where}: {exc.message}") from None
    pictures = []
    for number, picture in enumerate(images, start=1):
        _require(isinstance(picture, dict) and isinstance(picture.get("data"), str),
                 f"{where}, image {number}: the image data is missing.")  # fmt: skip
        try:
            content = base64.b64decode(picture["data"], validate=True)
        except (binascii.Error, ValueError):
            raise ImportRejected(f"{where}, image {number}: the image data is not base64.") from None
        try:
            image_files.decode(content, f"image {number}")
        except image_files.ImageRejected as exc:
            raise ImportRejected(f"{where}: {exc.message}") from None
        pictures.append(SimpleUploadedFile(f"image-{number}", content))
    return entry, fields, pictures
