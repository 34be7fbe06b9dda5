"""Plain synchronous database functions for tool calls and tool servers."""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from django.db.models import Q
from django.utils import timezone

from conversations.models import ToolCall, ToolServer


class ToolCallData(TypedDict):
    id: str
    call_id: str
    round: int
    name: str
    source: str
    arguments: dict[str, Any]
    status: str
    result: str
    error: str
    duration_ms: int | None


def call_data(call: ToolCall) -> ToolCallData:
    return {
        "id": str(call.pk),
        "call_id": call.call_id,
        "round": call.round,
        "name": call.name,
        "source": call.source,
        "arguments": call.arguments,
        "status": call.status,
        "result": call.result,
        "error": call.error,
        "duration_ms": call.duration_ms,
    }


def save_call(call: ToolCall) -> None:
    call.save()


def usable_server(*, server_id: int, user_id: int) -> ToolServer | None:
    """The server, if it is enabled and still given to this user."""
    return (
        ToolServer.objects.filter(pk=server_id, enabled=True)
        .filter(Q(users__id=user_id) | Q(groups__user__id=user_id))
        .distinct()
        .first()
    )


def mark_server(*, server_id: int, error: str = "", tools: list[dict[str, Any]] | None = None) -> None:
    """Record how the server answered: down with an error, or up (with its tools, when listed)."""
    fields: dict[str, Any] = {
        "state": ToolServer.State.DOWN if error else ToolServer.State.UP,
        "last_error": error,
    }
    if tools is not None:
        fields.update(tools=tools, refreshed_at=timezone.now())
    ToolServer.objects.filter(pk=server_id).update(**fields)


def waiting_call(*, call_id: uuid.UUID, conversation_id: uuid.UUID) -> bool:
    """Whether the call belongs to a reply of this conversation and waits for approval."""
    return ToolCall.objects.filter(
        pk=call_id, message__conversation_id=conversation_id, status=ToolCall.Status.ASKED
    ).exists()


def calls_of(message_ids: list[Any]) -> dict[Any, list[ToolCall]]:
    by_message: dict[Any, list[ToolCall]] = {}
    for call in ToolCall.objects.filter(message_id__in=message_ids).order_by("round", "position"):
        by_message.setdefault(call.message_id, []).append(call)
    return by_message
