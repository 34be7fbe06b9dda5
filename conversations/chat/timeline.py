"""A conversation's messages as the page and reconnecting tabs get them: read, paged, serialised."""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from django.db.models import Q, QuerySet

from conversations.images import image_data
from conversations.markdown import render_message
from conversations.models import Conversation, Image, Message, ToolCall
from conversations.structured.form import result_form
from conversations.structured.formats import stored_result
from conversations.tools.records import ToolCallData, call_data


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
    tool_calls: list[ToolCallData]
    tool_notes: list[str]


def message_data(
    message: Message,
    images: list[Image] | None = None,
    version_ids: list[str] | None = None,
    tool_calls: list[ToolCall] | None = None,
) -> MessageData:
    """A message as frames carry it.

    Pass `images` (or prefetch "images") to avoid a query. `version_ids` are the
    ids of all the replies of the exchange, oldest version first (shown as
    "< 2/3 >" and used to switch between them).
    """
    version_ids = version_ids if version_ids is not None else [str(message.pk)]
    stats = None
    if message.eval_count is not None or message.done_reason:
        stats = {**message.ollama_stats(), "tokens_per_second": message.tokens_per_second}
    is_reply = message.role == Message.Role.ASSISTANT
    return {
        "id": str(message.pk),
        "role": message.role,
        "model": message.model,
        "content": message.content,
        "thinking": message.thinking,
        "html": render_message(message.pk, message.content) if is_reply and message.is_final else "",
        "status": message.status,
        "error": message.error,
        "created": message.created_at.isoformat(),
        "stats": stats,
        "images": [image_data(image) for image in (message.images.all() if images is None else images)]
        if message.role == Message.Role.USER
        else [],
        "format": message.format,
        "structured": stored_result(message.structured),
        "structured_html": result_form(message.format, message.structured, id_prefix=f"sf-{message.pk}"),
        "version": message.version,
        "versions": len(version_ids) if is_reply else 1,
        "version_ids": version_ids if is_reply else [],
        "tool_calls": [call_data(call) for call in _calls(message, tool_calls)] if is_reply else [],
        "tool_notes": list(message.tool_notes or []),
    }


def _calls(message: Message, given: list[ToolCall] | None) -> list[ToolCall]:
    """The reply's tool calls: those given, else those prefetched ("tool_calls"), else none
    (a reply just started, or one whose calls the caller passes)."""
    if given is not None:
        return given
    prefetched = getattr(message, "_prefetched_objects_cache", {}).get("tool_calls")
    return list(prefetched) if prefetched is not None else []


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
    ) + sum(len(call["result"]) + len(str(call["arguments"])) for call in message["tool_calls"])


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
    return Message.objects.filter(conversation_id=conversation_id, active=True).prefetch_related(
        "images", "tool_calls"
    )


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


def context_facts(*, conversation_id: uuid.UUID, user_id: int) -> dict[str, Any] | None:
    """What the context meter needs of the user's conversation: the model of its last reply (or its
    own), num_ctx if set, and the last reply's prompt and reply sizes; None if it is not theirs."""
    conversation = Conversation.objects.owned_by(user_id).filter(pk=conversation_id).first()
    if conversation is None:
        return None
    last = (
        conversation.messages.filter(
            role=Message.Role.ASSISTANT, active=True, prompt_eval_count__isnull=False
        )
        .order_by("-created_at")
        .values("prompt_eval_count", "eval_count", "model")
        .first()
    ) or {}
    return {
        "model": last.get("model") or conversation.model,
        "num_ctx": (conversation.options or {}).get("num_ctx"),
        "prompt_tokens": last.get("prompt_eval_count"),
        "reply_tokens": last.get("eval_count"),
    }
