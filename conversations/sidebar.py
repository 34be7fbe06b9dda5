"""The sidebar: a user's conversations, searched, grouped by date and read a page at a time."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from conversations.models import Conversation, Message

PAGE_SIZE = 100
ORDER = ("-pinned", "-updated_at", "-id")

# A cursor is the position of the last conversation of a page: "<pinned 0|1>.<updated_at
# in microseconds since 1970, UTC>.<id>". The chat page carries the one after its
# first page (views._chat_page, data-next in templates/conversations/chat.html).
CURSOR = re.compile(r"([01])\.(\d{1,17})\.([0-9a-fA-F-]{32,36})")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Position:
    """Where a conversation sits in the sidebar's order."""

    pinned: bool
    updated_at: datetime
    id: uuid.UUID


@dataclass
class Page:
    conversations: list[Conversation]
    next: str | None  # the cursor of the following page; None on the last one


def cursor(conversation: Conversation) -> str:
    micros = (conversation.updated_at - EPOCH) // MICROSECOND
    return f"{int(conversation.pinned)}.{micros}.{conversation.pk}"


def parse_cursor(text: str) -> Position:
    match = CURSOR.fullmatch(text)
    if match is None:
        raise BadCursor(text)
    try:
        return Position(
            pinned=match[1] == "1",
            updated_at=EPOCH + int(match[2]) * MICROSECOND,
            id=uuid.UUID(match[3]),
        )
    except (ValueError, OverflowError) as exc:
        raise BadCursor(text) from exc


def _after(position: Position) -> Q:
    """Conversations after `position` in (pinned, updated_at, id) order, all descending.

    Written as a range on updated_at so the database can seek in the
    (owner, pinned, updated_at) index instead of reading every earlier row.
    `pinned__in` because `pinned=False` becomes `NOT pinned`, which no index serves.
    """
    later = Q(pinned__in=[position.pinned], updated_at__lte=position.updated_at) & (
        Q(updated_at__lt=position.updated_at) | Q(id__lt=position.id)
    )
    return (later | Q(pinned=False)) if position.pinned else later


def _find(
    *, owner_id: int, query: str = "", after: Position | None = None, limit: int = PAGE_SIZE
) -> QuerySet[Conversation]:
    """The owner's conversations that have a message, pinned first then newest; `query` matches
    titles and message text.

    One started for a send that was refused (a bad schema, a model that cannot see
    the images) has none, and is not listed: no empty "New chat" is left behind.
    """
    conversations = Conversation.objects.owned_by(owner_id).filter(
        Exists(Message.objects.filter(conversation=OuterRef("pk")))
    )
    query = query.strip()
    if query:
        mentioned = Message.objects.filter(conversation=OuterRef("pk"), active=True, content__icontains=query)
        conversations = conversations.filter(Q(title__icontains=query) | Exists(mentioned))
    if after is not None:
        conversations = conversations.filter(_after(after))
    return conversations.only("id", "title", "pinned", "updated_at").order_by(*ORDER)[:limit]


def page(*, owner_id: int, query: str = "", after: Position | None = None, size: int = PAGE_SIZE) -> Page:
    """One page of `_find`, in one query, with the cursor of the next page if there is one."""
    found = list(_find(owner_id=owner_id, query=query, after=after, limit=size + 1))
    shown = found[:size]
    return Page(conversations=shown, next=cursor(shown[-1]) if len(found) > size else None)


def group_label(updated: datetime, today: date) -> str:
    day = timezone.localtime(updated).date()
    age = (today - day).days
    if age <= 0:
        return "Today"
    if age == 1:
        return "Yesterday"
    if age <= 7:
        return "Previous 7 days"
    if age <= 30:
        return "Previous 30 days"
    return day.strftime("%B %Y")


def grouped(conversations: list[Conversation], *, now: datetime) -> list[dict[str, Any]]:
    """[{"label": "Today", "conversations": [...]}, …] in display order; pinned ones first.

    `now` comes from the caller (a view reads the clock), so what "Today" means can be fixed.
    """
    today = timezone.localtime(now).date()
    groups: list[dict[str, Any]] = []
    for conversation in conversations:
        label = "Pinned" if conversation.pinned else group_label(conversation.updated_at, today)
        if not groups or groups[-1]["label"] != label:
            groups.append({"label": label, "conversations": []})
        groups[-1]["conversations"].append(conversation)
    return groups


def entry(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": str(conversation.pk),
        "title": conversation.title,
        "url": conversation.get_absolute_url(),
        "pinned": conversation.pinned,
        "updated": conversation.updated_at.isoformat(),
    }


def listing(
    *, owner_id: int, now: datetime, query: str = "", after: Position | None = None
) -> dict[str, Any]:
    """One page of the sidebar as the page's script reads it: date groups of entries, and the next cursor."""
    found = page(owner_id=owner_id, query=query, after=after)
    return {
        "groups": [
            {"label": group["label"], "conversations": [entry(c) for c in group["conversations"]]}
            for group in grouped(found.conversations, now=now)
        ],
        "next": found.next,
    }
