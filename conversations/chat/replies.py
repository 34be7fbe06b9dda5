"""Plain synchronous database functions for a reply's life after it starts (starts.py): sweep, checkpoint, finish."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import Case, TextField, Value, When
from django.utils import timezone

from conversations.chat.timeline import MessageData, message_data, reply_versions
from conversations.models import Conversation, Message, ToolCall
from conversations.ollama.client import STATS_COUNTS
from conversations.structured.formats import evaluate

# Decides whether a reply marked "streaming" still has a live writer somewhere.
IsAlive = Callable[[Message], bool]
BUSY = "A reply is still being written in this conversation. Wait or stop it first."
DELETED = "This conversation was deleted."
INTERRUPTED = "The server stopped while this reply was being written; the text so far is kept."
# What went wrong is in the server's log; the person is told what they can do.
FAILED = "The reply failed because of a problem on the server; the text so far is kept. Try again."


class ReplyRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def lock_conversation(conversation_id: uuid.UUID) -> Conversation:
    """The conversation, locked for this transaction; ReplyRefused("deleted") if it is gone."""
    conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None:
        raise ReplyRefused("deleted", DELETED)
    return conversation


def owns_conversation(*, conversation_id: uuid.UUID, user_id: int) -> bool:
    return Conversation.objects.owned_by(user_id).filter(pk=conversation_id).exists()


def conversation_model(*, conversation_id: uuid.UUID) -> str:
    return Conversation.objects.filter(pk=conversation_id).values_list("model", flat=True).first() or ""


def interrupt_dead_replies(*, conversation_id: uuid.UUID | None, is_alive: IsAlive) -> list[dict[str, Any]]:
    """Mark replies left "streaming" by a writer that is gone as interrupted.

    Every worker may sweep at once: the conditional update lets exactly one of
    them mark (and announce) each reply. `conversation_id` None sweeps them all.
    """
    interrupted, _still_streaming = sweep(None if conversation_id is None else [conversation_id], is_alive)
    return [message for messages in interrupted.values() for message in messages]


def sweep(
    conversation_ids: list[uuid.UUID] | None, is_alive: IsAlive
) -> tuple[dict[uuid.UUID, list[dict[str, Any]]], set[uuid.UUID]]:
    """Replies marked interrupted (by conversation), and the conversations whose reply is still live.

    `conversation_ids` None looks at every conversation.
    """
    # Only what is_alive() reads, unordered: this runs before every reply starts.
    streaming = Message.objects.filter(status=Message.Status.STREAMING).order_by()
    if conversation_ids is not None:
        streaming = streaming.filter(conversation_id__in=conversation_ids)
    interrupted: dict[uuid.UUID, list[dict[str, Any]]] = {}
    still_streaming: set[uuid.UUID] = set()
    for pk, conversation_id, saved_at in streaming.values_list("id", "conversation_id", "saved_at"):
        message = Message(id=pk, conversation_id=conversation_id, saved_at=saved_at)
        if is_alive(message):
            still_streaming.add(message.conversation_id)
            continue
        marked = Message.objects.filter(pk=message.pk, status=Message.Status.STREAMING).update(
            status=Message.Status.INTERRUPTED, error=INTERRUPTED, saved_at=timezone.now()
        )
        if marked:
            # Calls the dead writer left waiting or running never return now.
            ToolCall.objects.filter(
                message_id=message.pk, status__in=[ToolCall.Status.ASKED, ToolCall.Status.RUNNING]
            ).update(status=ToolCall.Status.CANCELLED)
            message = Message.objects.get(pk=message.pk)  # the whole reply, for the tabs
            interrupted.setdefault(message.conversation_id, []).append(
                {**message_data(message), "conversation_id": str(message.conversation_id)}
            )
    return interrupted, still_streaming


def last_question(conversation: Conversation) -> Message | None:
    return (
        conversation.messages.filter(active=True, role=Message.Role.USER)
        .order_by("-created_at", "-id")
        .first()
    )


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


# The largest value each stats column holds on every supported database.
STATS_LIMITS = {name: 2**31 - 1 if name.endswith("_count") else 2**63 - 1 for name in STATS_COUNTS}


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
    calls: list[ToolCall] | None = None,
    notes: list[str] | None = None,
    earlier_calls: bool = False,
) -> MessageData | None:
    """Save the whole reply; None if it was deleted (with its conversation) meanwhile.

    `calls` are the reply's tool calls (already saved as they happened); those the
    end of the reply cancelled are saved as such here. `earlier_calls`: the reply went
    on after calls made before this task's, so what is announced reads them all.
    """
    stats = stats or {}
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        return None
    message.content = content
    message.thinking = thinking
    message.status = status
    message.error = error
    message.done_reason = str(stats.get("done_reason") or "")[:32]
    for name in STATS_COUNTS:
        setattr(message, name, _stat(stats.get(name), STATS_LIMITS[name]))
    if message.format is not None and status == Message.Status.COMPLETE:
        message.structured = evaluate(content, message.format)
    if notes:
        message.tool_notes = notes
    message.save()
    if calls:
        cancelled = [call for call in calls if call.status == ToolCall.Status.CANCELLED]
        ToolCall.objects.bulk_update(cancelled, ["status"])
    Conversation.objects.filter(pk=message.conversation_id).update(updated_at=timezone.now())
    if earlier_calls:
        calls = list(message.tool_calls.order_by("round", "position"))
    return _reply_data(message, calls or [])


def _reply_data(message: Message, calls: list[ToolCall] | None = None) -> MessageData:
    return message_data(
        message,
        version_ids=reply_versions(message.conversation_id, {message.exchange})[message.exchange],
        tool_calls=calls,
    )


def mark_failed(*, message_id: uuid.UUID, content: str, thinking: str, error: str) -> MessageData | None:
    """Save a reply whose full save failed as an error, with its text, in one plain statement."""
    Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(
        status=Message.Status.ERROR, content=content, thinking=thinking, error=error, saved_at=timezone.now()
    )
    message = Message.objects.filter(pk=message_id).first()
    return _reply_data(message) if message is not None else None


def streaming_reply_id(*, conversation_id: uuid.UUID) -> uuid.UUID | None:
    return (
        Message.objects.filter(conversation_id=conversation_id, status=Message.Status.STREAMING)
        .values_list("pk", flat=True)
        .first()
    )
