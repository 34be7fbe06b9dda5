"""Reading a conversation's messages for the page and for reconnecting tabs."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from conversations.models import Message
from conversations.protocol import MessageData, message_data, reply_versions

PAGE_SIZE = 50
# A page of messages is also cut by size: a page of long replies (with their
# highlighted HTML) would otherwise make a frame or page of tens of megabytes.
# A page holds at least one message, however large.
PAGE_BYTES = 1024 * 1024


def size_of(message: MessageData) -> int:
    """About how many bytes a message takes in a frame: its texts, as UTF-8."""
    return sum(
        len(text.encode("utf-8", "surrogatepass"))
        for text in (message["content"], message["thinking"], message["html"], message["structured_html"])
    )


def _fit(newest_first: list[MessageData]) -> tuple[list[MessageData], bool]:
    """The newest messages that fit in PAGE_BYTES (at least one), oldest first; and whether any were left out."""
    kept, total = [], 0
    for message in newest_first:
        total += size_of(message)
        if kept and total > PAGE_BYTES:
            break
        kept.append(message)
    return kept[::-1], len(kept) < len(newest_first)


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
) -> tuple[list[MessageData], bool, bool]:
    """Messages a (re)connecting tab is missing: those after `after`, oldest first.

    Returns (messages, reset, has_more): reset is true when `after` is unknown or
    no longer shown, or when more is missing than one page holds (by count or by
    size); the list is then the most recent page, and has_more says whether older
    messages are left to load.
    """
    anchor = None
    if after:
        try:
            anchor = _shown(conversation_id).filter(pk=uuid.UUID(after)).values("created_at", "id").first()
        except ValueError:
            anchor = None
    if anchor is not None:
        newer = list(_shown(conversation_id).filter(_after(anchor)).order_by("created_at", "id")[: limit + 1])
        missing = serialize(newer)
        if len(newer) <= limit and sum(map(size_of, missing)) <= PAGE_BYTES:
            return missing, False, False
    latest, has_more = recent_messages(conversation_id=conversation_id, limit=limit)
    return latest, True, has_more


def recent_messages(
    *, conversation_id: uuid.UUID, before: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[MessageData], bool]:
    """The latest `limit` messages (before a given one, for scrolling up), oldest first,
    as many as fit in PAGE_BYTES.

    Returns (messages, has_more).
    """
    shown = _shown(conversation_id)
    if before:
        anchor = shown.filter(pk=before).values("created_at", "id").first()
        if anchor is None:
            return [], False
        shown = shown.filter(_before(anchor))
    page = list(shown.order_by("-created_at", "-id")[: limit + 1])
    fitting, cut = _fit(serialize(page[:limit]))
    return fitting, cut or len(page) > limit
