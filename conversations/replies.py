"""Plain synchronous database functions for a reply's life: start, checkpoint, finish."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from django.db import transaction
from django.db.models import Case, TextField, Value, When
from django.utils import timezone

from conversations.history import build_chat_request
from conversations.models import Conversation, Image, Message
from conversations.protocol import MessageData, message_data, reply_versions
from conversations.structured import evaluate
from conversations.titles import first_words

# Decides whether a reply marked "streaming" still has a live writer somewhere.
IsAlive = Callable[[Message], bool]
# "new": a new question; "regenerate": another answer to the last question;
# "edit": a changed last question and a new answer to it.
Mode = Literal["new", "regenerate", "edit"]
BUSY = "A reply is still being written in this conversation. Wait or stop it first."
INTERRUPTED = "The server stopped while this reply was being written; the text so far is kept."


class ReplyRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class StartedReply:
    user_message: MessageData | None  # None when regenerating: the question stays
    reply: MessageData
    title: str
    payload: dict[str, Any]
    replaced: list[str] = field(default_factory=list)  # ids of messages no longer shown
    interrupted: list[dict[str, Any]] = field(default_factory=list)  # dead replies found on the way


def owns_conversation(*, conversation_id: uuid.UUID, user_id: int) -> bool:
    return Conversation.objects.filter(pk=conversation_id, owner_id=user_id).exists()


def conversation_model(*, conversation_id: uuid.UUID) -> str:
    return Conversation.objects.filter(pk=conversation_id).values_list("model", flat=True).first() or ""


def interrupt_dead_replies(*, conversation_id: uuid.UUID | None, is_alive: IsAlive) -> list[dict[str, Any]]:
    """Mark replies left "streaming" by a writer that is gone as interrupted.

    Every worker may sweep at once: the conditional update lets exactly one of
    them mark (and announce) each reply. `conversation_id` None sweeps them all.
    """
    interrupted, _still_streaming = _sweep(conversation_id, is_alive)
    return interrupted


def _sweep(conversation_id: uuid.UUID | None, is_alive: IsAlive) -> tuple[list[dict[str, Any]], bool]:
    """The replies marked interrupted, and whether a live reply is still streaming."""
    streaming = Message.objects.filter(status=Message.Status.STREAMING)
    if conversation_id is not None:
        streaming = streaming.filter(conversation_id=conversation_id)
    interrupted, still_streaming = [], False
    for message in streaming:
        if is_alive(message):
            still_streaming = True
            continue
        marked = Message.objects.filter(pk=message.pk, status=Message.Status.STREAMING).update(
            status=Message.Status.INTERRUPTED, error=INTERRUPTED, saved_at=timezone.now()
        )
        if marked:
            message.status, message.error = Message.Status.INTERRUPTED, INTERRUPTED
            interrupted.append({**message_data(message), "conversation_id": str(message.conversation_id)})
    return interrupted, still_streaming


def last_question(conversation: Conversation) -> Message | None:
    return (
        conversation.messages.filter(active=True, role=Message.Role.USER)
        .order_by("-created_at", "-id")
        .first()
    )


def start_reply(
    *,
    conversation_id: uuid.UUID,
    content: str,
    model: str,
    is_alive: IsAlive,
    mode: Mode = "new",
    image_ids: tuple[uuid.UUID, ...] = (),
    format: str | dict[str, Any] | None = None,
) -> StartedReply:
    """Save the question (unless regenerating) and an empty streaming reply in one transaction.

    The conversation row is locked, so two tabs (or two workers) racing to
    start a reply cannot both succeed: the second sees the first's reply.
    """
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        interrupted, busy = _sweep(conversation_id, is_alive)
        if busy:
            raise ReplyRefused("busy", BUSY)
        model = model or conversation.model
        if not model:
            raise ReplyRefused("no_model", "Choose a model first.")
        now = timezone.now()
        replaced: list[str] = []
        images: list[Image] = []
        if mode == "new":
            images = _unsent_images(conversation, image_ids)
            question = Message.objects.create(
                conversation=conversation, role=Message.Role.USER, content=content, created_at=now
            )
            Image.objects.filter(pk__in=[image.pk for image in images]).update(message=question)
            exchange, version = question.exchange, 1
        else:
            previous = last_question(conversation)
            if previous is None:
                raise ReplyRefused("invalid", "There is no question to answer again yet.")
            exchange = previous.exchange
            latest = (
                conversation.messages.filter(exchange=exchange, role=Message.Role.ASSISTANT)
                .order_by("-version")
                .values("version", "format")
                .first()
            ) or {"version": 0, "format": None}
            version = latest["version"] + 1
            if format is None:  # another answer to the question keeps its structured output
                format = latest["format"]
            shown = conversation.messages.filter(exchange=exchange, active=True)
            if mode == "regenerate":
                shown = shown.filter(role=Message.Role.ASSISTANT)
                question = previous
            else:
                question = Message.objects.create(
                    conversation=conversation,
                    role=Message.Role.USER,
                    content=content,
                    exchange=exchange,
                    version=version,
                    created_at=now,
                )
            replaced = [str(pk) for pk in shown.exclude(pk=question.pk).values_list("pk", flat=True)]
            shown.exclude(pk=question.pk).update(active=False)
            images = list(question.images.all()) if mode == "regenerate" else []
        reply = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            model=model,
            status=Message.Status.STREAMING,
            format=format,
            exchange=exchange,
            version=version,
            reply_to=question,
            created_at=now + timedelta(microseconds=1),
        )
        conversation.model = model
        if not conversation.title:
            conversation.title = first_words(question.content)
        conversation.save(update_fields=["model", "title", "updated_at"])
    # Outside the transaction: reading and encoding images must not hold the lock.
    payload = build_chat_request(conversation, before=reply)
    if mode == "new":
        version_ids = [str(reply.pk)]
    else:
        version_ids = reply_versions(conversation.pk, {reply.exchange})[reply.exchange]
    return StartedReply(
        user_message=None if mode == "regenerate" else message_data(question, images=images),
        reply=message_data(reply, version_ids=version_ids),
        title=conversation.title,
        payload=payload,
        replaced=replaced,
        interrupted=interrupted,
    )


def _unsent_images(conversation: Conversation, image_ids: tuple[uuid.UUID, ...]) -> list[Image]:
    images = {
        image.pk: image
        for image in Image.objects.filter(
            pk__in=image_ids, owner_id=conversation.owner_id, message__isnull=True
        )
    }
    if len(images) != len(image_ids):
        raise ReplyRefused("invalid", "An attached image is missing or was already sent. Attach it again.")
    return [images[image_id] for image_id in image_ids]


# A checkpoint statement takes five placeholders per reply; SQLite allows 32,766.
CHECKPOINT_BATCH = 1000


def checkpoint_replies(*, texts: dict[uuid.UUID, tuple[str, str]]) -> None:
    """Save the text so far (content, thinking) of streaming replies, in one statement per batch."""
    pending = list(texts.items())
    now = timezone.now()
    for start in range(0, len(pending), CHECKPOINT_BATCH):
        batch = pending[start : start + CHECKPOINT_BATCH]
        Message.objects.filter(pk__in=[pk for pk, _ in batch], status=Message.Status.STREAMING).update(
            content=Case(*(When(pk=pk, then=Value(text[0])) for pk, text in batch), output_field=TextField()),
            thinking=Case(
                *(When(pk=pk, then=Value(text[1])) for pk, text in batch), output_field=TextField()
            ),
            saved_at=now,
        )


STATS_FIELDS = (
    "prompt_eval_count",
    "eval_count",
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
)


# The largest value each stats column holds on every supported database.
STATS_LIMITS = {name: 2**31 - 1 if name.endswith("_count") else 2**63 - 1 for name in STATS_FIELDS}


def _stat(value: Any, limit: int) -> int | None:
    """One of Ollama's figures as stored: a whole number in the column's range, else unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= limit:
        return None
    return int(value)


def finish_reply(
    *,
    message_id: uuid.UUID,
    content: str,
    thinking: str,
    status: str,
    error: str = "",
    stats: dict[str, Any] | None = None,
) -> MessageData | None:
    """Save the whole reply; None if it was deleted (with its conversation) meanwhile."""
    stats = stats or {}
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return None
    message.content = content
    message.thinking = thinking
    message.status = status
    message.error = error
    message.done_reason = str(stats.get("done_reason") or "")[:32]
    for name in STATS_FIELDS:
        setattr(message, name, _stat(stats.get(name), STATS_LIMITS[name]))
    if message.format is not None and status == Message.Status.COMPLETE:
        message.structured = evaluate(content, message.format)
    message.save()
    Conversation.objects.filter(pk=message.conversation_id).update(updated_at=timezone.now())
    return message_data(
        message, version_ids=reply_versions(message.conversation_id, {message.exchange})[message.exchange]
    )


def mark_failed(*, message_id: uuid.UUID, content: str, thinking: str, error: str) -> None:
    """Save a reply whose full save failed as an error, with its text, in one plain statement."""
    Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(
        status=Message.Status.ERROR, content=content, thinking=thinking, error=error, saved_at=timezone.now()
    )


def streaming_reply_id(*, conversation_id: uuid.UUID) -> uuid.UUID | None:
    return (
        Message.objects.filter(conversation_id=conversation_id, status=Message.Status.STREAMING)
        .values_list("pk", flat=True)
        .first()
    )


def switch_version(*, conversation_id: uuid.UUID, reply_id: uuid.UUID) -> None:
    """Show another version of the last exchange (its reply and the question it answered)."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.messages.filter(status=Message.Status.STREAMING).exists():
            raise ReplyRefused("busy", BUSY)
        target = conversation.messages.filter(pk=reply_id, role=Message.Role.ASSISTANT).first()
        previous = last_question(conversation)
        if target is None or previous is None or target.exchange != previous.exchange:
            raise ReplyRefused("invalid", "Only the versions of the last reply can be switched.")
        conversation.messages.filter(exchange=target.exchange).update(active=False)
        conversation.messages.filter(pk__in=[target.pk, target.reply_to_id]).update(active=True)
