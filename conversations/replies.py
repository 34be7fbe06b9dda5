"""Plain synchronous database functions for a reply's life: start, checkpoint, finish."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from conversations.history import build_chat_request
from conversations.models import Conversation, Image, Message
from conversations.protocol import MessageData, message_data
from conversations.structured import evaluate

TITLE_CHARS = 60

# Decides whether a reply marked "streaming" still has a live writer somewhere.
IsAlive = Callable[[Message], bool]


class ReplyRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class StartedReply:
    user_message: MessageData
    reply: MessageData
    title: str
    payload: dict[str, Any]


def make_title(text: str) -> str:
    """The first words of a message, cut at a word boundary."""
    words = " ".join(text.split())
    if len(words) <= TITLE_CHARS:
        return words
    cut = words[:TITLE_CHARS].rsplit(" ", 1)[0] or words[:TITLE_CHARS]
    return cut + "…"


def owns_conversation(*, conversation_id: uuid.UUID, user_id: int) -> bool:
    return Conversation.objects.filter(pk=conversation_id, owner_id=user_id).exists()


def conversation_model(*, conversation_id: uuid.UUID) -> str:
    return Conversation.objects.filter(pk=conversation_id).values_list("model", flat=True).first() or ""


def interrupt_dead_replies(*, conversation_id: uuid.UUID, is_alive: IsAlive) -> list[Message]:
    """Mark replies left "streaming" by a writer that is gone as interrupted."""
    dead = [
        message
        for message in Message.objects.filter(
            conversation_id=conversation_id, status=Message.Status.STREAMING
        )
        if not is_alive(message)
    ]
    for message in dead:
        message.status = Message.Status.INTERRUPTED
        message.error = "The server stopped while this reply was being written."
        message.save(update_fields=["status", "error", "saved_at"])
    return dead


def start_reply(
    *,
    conversation_id: uuid.UUID,
    content: str,
    model: str,
    is_alive: IsAlive,
    image_ids: tuple[uuid.UUID, ...] = (),
    format: str | dict[str, Any] | None = None,
) -> StartedReply:
    """Save the user's message and an empty streaming reply in one transaction.

    The conversation row is locked, so two tabs (or two workers) racing to
    start a reply cannot both succeed: the second sees the first's reply.
    """
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        interrupt_dead_replies(conversation_id=conversation_id, is_alive=is_alive)
        if conversation.messages.filter(status=Message.Status.STREAMING).exists():
            raise ReplyRefused(
                "busy", "A reply is still being written in this conversation. Wait or stop it first."
            )
        model = model or conversation.model
        if not model:
            raise ReplyRefused("no_model", "Choose a model first.")
        now = timezone.now()
        images = list(
            Image.objects.filter(pk__in=image_ids, owner_id=conversation.owner_id, message__isnull=True)
        )
        if len(images) != len(image_ids):
            raise ReplyRefused(
                "invalid", "An attached image is missing or was already sent. Attach it again."
            )
        user_message = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, content=content, created_at=now
        )
        if images:
            Image.objects.filter(pk__in=image_ids).update(message=user_message)
            order = {image_id: index for index, image_id in enumerate(image_ids)}
            images.sort(key=lambda image: order[image.pk])
        reply = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            model=model,
            status=Message.Status.STREAMING,
            format=format,
            created_at=now + timedelta(microseconds=1),
        )
        conversation.model = model
        if not conversation.title:
            conversation.title = make_title(content)
        conversation.save(update_fields=["model", "title", "updated_at"])
    # Outside the transaction: reading and encoding images must not hold the lock.
    payload = build_chat_request(conversation, before=reply)
    return StartedReply(
        user_message=message_data(user_message, images=images),
        reply=message_data(reply),
        title=conversation.title,
        payload=payload,
    )


def checkpoint_reply(*, message_id: uuid.UUID, content: str, thinking: str) -> None:
    """Save a streaming reply's text so far (at most once a second)."""
    Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(
        content=content, thinking=thinking, saved_at=timezone.now()
    )


def finish_reply(
    *,
    message_id: uuid.UUID,
    content: str,
    thinking: str,
    status: str,
    error: str = "",
    stats: dict[str, Any] | None = None,
) -> MessageData:
    stats = stats or {}
    message = Message.objects.get(pk=message_id)
    message.content = content
    message.thinking = thinking
    message.status = status
    message.error = error
    message.done_reason = str(stats.get("done_reason") or "")[:32]
    for name in (
        "prompt_eval_count",
        "eval_count",
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
    ):
        value = stats.get(name)
        setattr(message, name, int(value) if isinstance(value, int | float) and value >= 0 else None)
    if message.format is not None and status == Message.Status.COMPLETE:
        message.structured = evaluate(content, message.format)
    message.save()
    Conversation.objects.filter(pk=message.conversation_id).update(updated_at=timezone.now())
    return message_data(message)


def streaming_reply_id(*, conversation_id: uuid.UUID) -> uuid.UUID | None:
    return (
        Message.objects.filter(conversation_id=conversation_id, status=Message.Status.STREAMING)
        .values_list("pk", flat=True)
        .first()
    )


def messages_after(
    *, conversation_id: uuid.UUID, after: str | None, is_alive: IsAlive, limit: int = 100
) -> tuple[list[MessageData], bool]:
    """Messages a (re)connecting tab is missing: those after `after`, oldest first.

    Returns (messages, reset): reset is true when `after` is unknown, and the
    list is then the most recent `limit` messages.
    """
    interrupt_dead_replies(conversation_id=conversation_id, is_alive=is_alive)
    messages = Message.objects.filter(conversation_id=conversation_id).prefetch_related("images")
    anchor = None
    if after:
        try:
            anchor = messages.filter(pk=uuid.UUID(after)).values("created_at", "id").first()
        except ValueError:
            anchor = None
    if anchor is None:
        recent = list(messages.order_by("-created_at", "-id")[:limit])
        return [message_data(message) for message in reversed(recent)], True
    newer = messages.filter(created_at__gt=anchor["created_at"]).order_by("created_at", "id")
    return [message_data(message) for message in newer], False


def recent_messages(*, conversation_id: uuid.UUID, is_alive: IsAlive, limit: int = 100) -> list[MessageData]:
    return messages_after(conversation_id=conversation_id, after=None, is_alive=is_alive, limit=limit)[0]
