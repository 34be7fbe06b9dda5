"""What an imported message must be before it is written: the same limits as a message sent in the chat."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from conversations.json_input import problem
from conversations.models import Message, ToolCall
from conversations.ollama.client import STATS_COUNTS
from conversations.structured.formats import SchemaRejected, check_format, evaluate

# The largest value each integer column takes on every supported database.
COLUMN_LIMITS = {"PositiveIntegerField": 2**31 - 1, "PositiveBigIntegerField": 2**63 - 1}
# Roles whose text a person wrote, held to MAX_MESSAGE_CHARS as in the chat.
WRITTEN_ROLES = (Message.Role.USER, Message.Role.SYSTEM)
# Reads images/<sha256>.<ext> out of a zip export: (file name, where) → bytes.
ReadFile = Callable[[Any, str], bytes]


class ImportRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class CheckedMessage:
    where: str  # "Message 3", for refusals
    export_id: str
    reply_to: str | None  # the export id of the question it answers
    parent: str | None  # the export id of the message it follows (chat/branches.py)
    linked: bool  # the export says which message each follows (older exports do not)
    exchange: uuid.UUID | None  # the export's; the copy gets ids of its own
    fields: dict[str, Any]
    images: list[tuple[str, bytes]]  # (name, the image's bytes), not decoded yet
    tool_calls: list[dict[str, Any]]  # ToolCall fields, without the message and user


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ImportRejected(message)


def shown(value: Any) -> str:
    """A value from the file, quoted in a refusal, never at length."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def read_when(value: Any, where: str, field: str = "created_at") -> datetime:
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is not None:
            # An export always carries an offset; a time without one is read as UTC.
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        parsed = None
    require(parsed is not None, f"{where}: {field} must be a date and time.")
    return parsed


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_count(value: Any, field: str, where: str, *, lowest: int = 0) -> None:
    """A value the message's integer column `field` can hold, on any database."""
    highest = COLUMN_LIMITS[Message._meta.get_field(field).get_internal_type()]
    require(
        _whole_number(value) and lowest <= value <= highest,
        f"{where}: {field} must be a whole number from {lowest} to {highest}.",
    )


def _text(entry: dict[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    require(value is None or isinstance(value, str), f"{where}: {field} must be text.")
    return value or ""


def check_message(entry: Any, *, number: int, read_file: ReadFile | None) -> CheckedMessage:
    """One message of an export, checked; `read_file` reads the images of a zip export."""
    where = f"Message {number}"
    require(isinstance(entry, dict), f"{where} is not an object.")
    role = entry.get("role")
    require(isinstance(role, str) and role in Message.Role.values, f"{where}: unknown role {shown(role)}.")
    content = _text(entry, "content", where)
    if role in WRITTEN_ROLES and len(content) > settings.MAX_MESSAGE_CHARS:
        raise ImportRejected(
            f"{where}: content is too long ({len(content):,} characters; "
            f"the limit is {settings.MAX_MESSAGE_CHARS:,})."
        )
    status = entry.get("status", Message.Status.COMPLETE)
    require(
        isinstance(status, str) and status in Message.Status.values,
        f"{where}: unknown status {shown(status)}.",
    )
    if status == Message.Status.STREAMING:  # its writer is not coming back
        status = Message.Status.INTERRUPTED
    stats = entry.get("stats") or {}
    require(isinstance(stats, dict), f"{where}: stats must be an object.")
    version = 1 if entry.get("version") is None else entry["version"]
    _require_count(version, "version", where, lowest=1)
    reply_to = entry.get("reply_to")
    require(reply_to is None or isinstance(reply_to, str), f"{where}: reply_to must be a message id.")
    active = entry.get("active", True)
    require(isinstance(active, bool), f"{where}: active must be true or false.")
    parent = entry.get("parent")
    require(parent is None or isinstance(parent, str), f"{where}: parent must be a message id.")
    chosen = entry.get("chosen", active)
    require(isinstance(chosen, bool), f"{where}: chosen must be true or false.")
    done_reason = stats.get("done_reason")
    require(done_reason is None or isinstance(done_reason, str), f"{where}: done_reason must be text.")
    fields: dict[str, Any] = {
        "role": role,
        "content": content,
        "thinking": _text(entry, "thinking", where),
        "model": _text(entry, "model", where)[:200],
        "status": status,
        "error": _text(entry, "error", where),
        "created_at": read_when(entry.get("created_at"), where),
        "version": version,
        "active": active,
        "chosen": chosen,
        "done_reason": (done_reason or "")[:32],
        "tool_notes": _notes(entry.get("tool_notes"), where),
    }
    for name in STATS_COUNTS:
        value = stats.get(name)
        if value is not None:
            _require_count(value, name, where)
        fields[name] = value
    exchange = None
    if entry.get("exchange"):
        try:
            exchange = uuid.UUID(str(entry["exchange"]))
        except ValueError:
            raise ImportRejected(f"{where}: exchange must be an id.") from None
    try:
        fields["format"] = check_format(entry.get("format"))
    except SchemaRejected as exc:
        raise ImportRejected(f"{where}: {exc.message}") from None
    # The result is worked out again, as for a reply just finished, never taken from the file.
    judged = (
        role == Message.Role.ASSISTANT and status == Message.Status.COMPLETE and fields["format"] is not None
    )
    fields["structured"] = evaluate(content, fields["format"]) if judged else None
    return CheckedMessage(
        where=where,
        export_id=str(entry.get("id")),
        reply_to=reply_to,
        parent=parent,
        linked="parent" in entry,
        exchange=exchange,
        fields=fields,
        images=_image_bytes(entry.get("images"), where=where, read_file=read_file),
        tool_calls=_tool_calls(entry.get("tool_calls"), where=where)
        if role == Message.Role.ASSISTANT
        else [],
    )


def _notes(notes: Any, where: str) -> list[str]:
    notes = notes or []
    require(
        isinstance(notes, list)
        and len(notes) <= 20
        and all(isinstance(n, str) and len(n) <= 1000 for n in notes),
        f"{where}: tool_notes must be a short list of texts.",
    )
    return notes


# A reply makes at most MAX_TOOL_ROUNDS rounds; a round, a few calls.
MAX_IMPORTED_CALLS = 256
OPEN_CALLS = (ToolCall.Status.ASKED, ToolCall.Status.RUNNING)


def _tool_calls(calls: Any, *, where: str) -> list[dict[str, Any]]:
    calls = calls or []
    require(isinstance(calls, list), f"{where}: tool_calls must be a list.")
    require(len(calls) <= MAX_IMPORTED_CALLS, f"{where}: at most {MAX_IMPORTED_CALLS} tool calls.")
    checked = []
    places = set()
    for number, call in enumerate(calls, start=1):
        label = f"{where}, tool call {number}"
        require(isinstance(call, dict), f"{label} is not an object.")
        for field, highest in (("round", 2**15 - 1), ("position", 2**15 - 1), ("content_offset", 2**31 - 1)):
            value = call.get(field, 0)
            require(
                _whole_number(value) and 0 <= value <= highest,
                f"{label}: {field} must be a whole number from 0 to {highest}.",
            )
        place = (call.get("round", 0), call.get("position", 0))
        require(place not in places, f"{label}: two calls at round {place[0]}, position {place[1]}.")
        places.add(place)
        name = _text(call, "name", label)
        require(bool(name), f"{label}: name is missing.")
        arguments = call.get("arguments") or {}
        require(
            isinstance(arguments, dict) and problem(arguments) is None,
            f"{label}: arguments must be an object.",
        )
        status = call.get("status")
        require(status in ToolCall.Status.values, f"{label}: unknown status {shown(status)}.")
        duration = call.get("duration_ms")
        require(
            duration is None or (_whole_number(duration) and 0 <= duration <= 2**31 - 1),
            f"{label}: duration_ms must be a whole number.",
        )
        checked.append(
            {
                "round": place[0],
                "position": place[1],
                "content_offset": call.get("content_offset", 0),
                "call_id": _text(call, "call_id", label)[:64],
                "name": name[:200],
                "source": _text(call, "source", label)[:100],
                "arguments": arguments,
                # A call that was waiting or running when exported will never return.
                "status": ToolCall.Status.CANCELLED if status in OPEN_CALLS else status,
                "result": _text(call, "result", label)[: settings.TOOL_RESULT_MAX_CHARS * 2],
                "error": _text(call, "error", label)[:10_000],
                "duration_ms": duration,
            }
        )
    return checked


def _image_bytes(images: Any, *, where: str, read_file: ReadFile | None) -> list[tuple[str, bytes]]:
    images = images or []
    require(isinstance(images, list), f"{where}: images must be a list.")
    most = settings.MAX_IMAGES_PER_MESSAGE
    require(len(images) <= most, f"{where} carries {len(images)} images; a message may carry at most {most}.")
    # Base64 of MAX_IMAGE_BYTES, with room for padding.
    longest = (settings.MAX_IMAGE_BYTES + 2) // 3 * 4
    found = []
    for number, picture in enumerate(images, start=1):
        label = f"{where}, image {number}"
        require(isinstance(picture, dict), f"{label}: the image data is missing.")
        if isinstance(picture.get("data"), str):
            data = picture["data"]
            require(
                len(data) <= longest,
                f"{label} is larger than {settings.MAX_IMAGE_BYTES:,} bytes, the most an image may be.",
            )
            try:
                found.append((f"image {number}", base64.b64decode(data, validate=True)))
            except (binascii.Error, ValueError):
                raise ImportRejected(f"{label}: the image data is not base64.") from None
        elif "file" in picture and read_file is not None:
            found.append((f"image {number}", read_file(picture["file"], label)))
        else:
            raise ImportRejected(
                f"{label}: the image data is missing"
                + (
                    " (images given as files can only be imported with the zip export)."
                    if "file" in picture
                    else "."
                )
            )
    return found
