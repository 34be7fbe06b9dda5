"""The chat socket's frames from a tab: each kind parsed and checked, or FrameError saying why."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from conversations.ollama.client import model_name
from conversations.sockets import FrameError
from conversations.structured.errors import SchemaRejected
from conversations.structured.formats import check_format


@dataclass(frozen=True)
class ChatRequest:
    content: str
    model: str
    client_id: str
    image_ids: tuple[uuid.UUID, ...] = ()
    format: str | dict[str, Any] | None = None
    message_id: uuid.UUID | None = None  # the message an edit or a regenerate is about; None: the last


def parse_chat_frame(frame: dict[str, Any]) -> ChatRequest:
    content = frame.get("content")
    if not isinstance(content, str):
        raise FrameError("invalid", "The message must be text.")
    if not content.strip():
        raise FrameError("invalid", "The message is empty.")
    if len(content) > settings.MAX_MESSAGE_CHARS:
        raise FrameError(
            "invalid",
            f"The message is too long ({len(content):,} characters; "
            f"the limit is {settings.MAX_MESSAGE_CHARS:,}).",
        )
    try:
        model = model_name(frame.get("model"), optional=True)
    except ValueError as exc:
        raise FrameError("invalid", str(exc)) from None
    client_id = frame.get("client_id") or ""
    if not isinstance(client_id, str) or len(client_id) > 64:
        raise FrameError("invalid", "client_id must be a string of at most 64 characters.")
    return ChatRequest(
        content=content,
        model=model,
        client_id=client_id,
        image_ids=parse_image_ids(frame.get("images")),
        format=parse_format(frame.get("format")),
        message_id=parse_optional_message_id(frame.get("message_id")),
    )


def parse_format(value: Any) -> str | dict[str, Any] | None:
    try:
        return check_format(value)
    except SchemaRejected as exc:
        raise FrameError("invalid_schema", exc.message) from None


def parse_image_ids(value: Any) -> tuple[uuid.UUID, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FrameError("invalid", "images must be a list of uploaded image ids.")
    if len(value) > settings.MAX_IMAGES_PER_MESSAGE:
        raise FrameError(
            "invalid",
            f"A message can carry at most {settings.MAX_IMAGES_PER_MESSAGE} images; "
            f"this one has {len(value)}.",
        )
    try:
        ids = tuple(dict.fromkeys(uuid.UUID(item) for item in value))
    except ValueError:
        raise FrameError("invalid", "images must be a list of uploaded image ids.") from None
    return ids


def parse_sync_frame(frame: dict[str, Any]) -> str | None:
    after = frame.get("after")
    if after is None:
        return None
    if not isinstance(after, str) or len(after) > 64:
        raise FrameError("invalid", "after must be a message id or null.")
    return after


def parse_regenerate_frame(frame: dict[str, Any]) -> ChatRequest:
    try:
        model = model_name(frame.get("model"), optional=True)
    except ValueError as exc:
        raise FrameError("invalid", str(exc)) from None
    return ChatRequest(
        content="",
        model=model,
        client_id="",
        format=parse_format(frame.get("format")),
        message_id=parse_optional_message_id(frame.get("message_id")),
    )


def parse_message_id(value: Any) -> uuid.UUID:
    if not isinstance(value, str) or len(value) > 64:
        raise FrameError("invalid", "message_id must be a message id.")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise FrameError("invalid", "message_id must be a message id.") from None


def parse_approval_frame(frame: dict[str, Any]) -> uuid.UUID:
    """The tool call an `approve` or `deny` frame answers."""
    try:
        return uuid.UUID(str(frame.get("call_id")))
    except ValueError:
        raise FrameError("invalid", "call_id must be the id of a tool call.") from None


def parse_optional_message_id(value: Any) -> uuid.UUID | None:
    return None if value is None else parse_message_id(value)
