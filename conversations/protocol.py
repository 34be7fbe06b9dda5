"""Shapes of socket frames and channel-layer events, and frame validation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypedDict

from django.conf import settings

from conversations.images import image_data
from conversations.markdown import render_markdown
from conversations.models import Image, Message
from conversations.ollama.client import model_name
from conversations.sockets import FrameError
from conversations.structured.form import render_form
from conversations.structured.formats import SchemaRejected, check_format, stored_result


class MessageData(TypedDict):
    id: str
    role: str
    model: str
    content: str
    thinking: str
    html: str
    status: str
    error: str
    created: str
    stats: dict[str, Any] | None
    images: list[dict[str, Any]]
    format: str | dict[str, Any] | None
    structured: dict[str, Any] | None
    structured_html: str
    version: int
    versions: int
    version_ids: list[str]


def message_data(
    message: Message, images: list[Image] | None = None, version_ids: list[str] | None = None
) -> MessageData:
    """A message as frames carry it.

    Pass `images` (or prefetch "images") to avoid a query. `version_ids` are the
    ids of all the replies of the exchange, oldest version first (shown as
    "< 2/3 >" and used to switch between them).
    """
    version_ids = version_ids if version_ids is not None else [str(message.pk)]
    stats = None
    if message.eval_count is not None or message.done_reason:
        stats = {
            "done_reason": message.done_reason,
            "prompt_eval_count": message.prompt_eval_count,
            "eval_count": message.eval_count,
            "total_duration": message.total_duration,
            "load_duration": message.load_duration,
            "prompt_eval_duration": message.prompt_eval_duration,
            "eval_duration": message.eval_duration,
            "tokens_per_second": message.tokens_per_second,
        }
    is_reply = message.role == Message.Role.ASSISTANT
    return {
        "id": str(message.pk),
        "role": message.role,
        "model": message.model,
        "content": message.content,
        "thinking": message.thinking,
        "html": render_markdown(message.content) if is_reply and message.is_final else "",
        "status": message.status,
        "error": message.error,
        "created": message.created_at.isoformat(),
        "stats": stats,
        "images": [image_data(image) for image in (message.images.all() if images is None else images)]
        if message.role == Message.Role.USER
        else [],
        "format": message.format,
        "structured": stored_result(message.structured),
        "structured_html": structured_html(message),
        "version": message.version,
        "versions": len(version_ids) if is_reply else 1,
        "version_ids": version_ids if is_reply else [],
    }


def structured_html(message: Message) -> str:
    result = stored_result(message.structured)
    if not result or result["data"] is None or not isinstance(message.format, dict):
        return ""
    return render_form(message.format, result["data"], id_prefix=f"sf-{message.pk}")


@dataclass(frozen=True)
class ChatRequest:
    content: str
    model: str
    client_id: str
    image_ids: tuple[uuid.UUID, ...] = ()
    format: str | dict[str, Any] | None = None


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
    return ChatRequest(content="", model=model, client_id="", format=parse_format(frame.get("format")))


def parse_message_id(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise FrameError("invalid", "message_id must be a message id.") from None


def reply_versions(conversation_id: Any, exchanges: set[Any]) -> dict[Any, list[str]]:
    """The reply ids of each exchange of a conversation, oldest version first, in one query."""
    grouped: dict[Any, list[str]] = {}
    rows = (
        Message.objects.filter(
            conversation_id=conversation_id, exchange__in=exchanges, role=Message.Role.ASSISTANT
        )
        .order_by("version", "created_at")
        .values_list("exchange", "pk")
    )
    for exchange, pk in rows if exchanges else []:
        grouped.setdefault(exchange, []).append(str(pk))
    return grouped
