"""Reading a conversation's messages for the page and for reconnecting tabs."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from conversations.models import Message
from conversations.protocol import MessageData, message_data, reply_versions

PAGE_SIZE = 50


def serialize(messages: list[Message]) -> list[MessageData]:
    """Messages as frames carry them, with their reply versions, in two queries at most."""
    if not messages:
        return []
    versions = reply_versions(
        messages[0].conversation_id,
        {message.exchange for message in messages if message.role == Message.Role.ASSISTANT},
    )
    return [message_data(message, version_ids=versions.get(message.exchange)) for message in messages]


def _shown(conversation_id: uuid.UUID) -> QuerySet[Message]:
    return Message.objects.filter(conversation_id=conversation_id, active=True).prefetch_related("images")


# Messages are ordered by (created_at, id): several can share a created_at, so
# paging compares both, as a range on created_at the message_history index serves.
def _before(anchor: dict[str, Any]) -> Q:
    return Q(created_at__lte=anchor["created_at"]) & (
        Q(created_at__lt=anchor["created_at"]) | Q(id__lt=anchor["id"])
    )


def _after(anchor: dict[str, Any]) -> Q:
    return Q(created_at__gte=anchor["created_at"]) & (
        Q(created_at__gt=anchor["created_at"]) | Q(id__gt=anchor["id"])
    )


def messages_after(
    *, conversation_id: uuid.UUID, after: str | None, limit: int = PAGE_SIZE
) -> tuple[list[MessageData], bool]:
    """Messages a (re)connecting tab is missing: those after `after`, oldest first.

    Returns (messages, reset): reset is true when `after` is unknown or no longer
    shown, and the list is then the most recent `limit` messages.
    """
    anchor = None
    if after:
        try:
            anchor = _shown(conversation_id).filter(pk=uuid.UUID(after)).values("created_at", "id").first()
        except ValueError:
            anchor = None
    if anchor is None:
        return recent_messages(conversation_id=conversation_id, limit=limit)[0], True
    newer = _shown(conversation_id).filter(_after(anchor)).order_by("created_at", "id")
    return serialize(list(newer)), False


def recent_messages(
    *, conversation_id: uuid.UUID, before: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[MessageData], bool]:
    """The latest `limit` messages (before a given one, for scrolling up), oldest first.

    Returns (messages, has_more).
    """
    shown = _shown(conversation_id)
    if before:
        anchor = shown.filter(pk=before).values("created_at", "id").first()
        if anchor is None:
            return [], False
        shown = shown.filter(_before(anchor))
    page = list(shown.order_by("-created_at", "-id")[: limit + 1])
    return serialize(page[:limit][::-1]), len(page) > limit
