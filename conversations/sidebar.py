"""The sidebar: a user's conversations, searched and grouped by date."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from conversations.models import Conversation, Message

SIDEBAR_LIMIT = 300


def find(*, owner_id: int, query: str = "", limit: int = SIDEBAR_LIMIT) -> QuerySet[Conversation]:
    """The owner's conversations, pinned first then newest; `query` matches titles and message text."""
    conversations = Conversation.objects.filter(owner_id=owner_id)
    query = query.strip()
    if query:
        mentioned = Message.objects.filter(conversation=OuterRef("pk"), active=True, content__icontains=query)
        conversations = conversations.filter(Q(title__icontains=query) | Exists(mentioned))
    return conversations.only("id", "title", "pinned", "updated_at").order_by("-pinned", "-updated_at")[
        :limit
    ]


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


def grouped(conversations: list[Conversation], *, now: datetime | None = None) -> list[dict[str, Any]]:
    """[{"label": "Today", "conversations": [...]}, …] in display order; pinned ones first."""
    today = timezone.localtime(now or timezone.now()).date()
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
