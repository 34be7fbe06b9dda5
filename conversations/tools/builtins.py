"""The built-in tools: the current date and time, a calculator, and searching the user's own conversations.

Each is a name, a description and a JSON Schema of its arguments for the model,
and a function of the checked arguments and the caller. An administrator
switches any of them off with DISABLED_TOOLS.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone

from conversations.models import Conversation, Message
from conversations.tools.arithmetic import NotArithmetic, evaluate

SEARCH_RESULTS = 10
SNIPPET_CHARS = 200
MAX_QUERY_CHARS = 200


class ToolFailed(Exception):
    """A call that cannot give a result; its message goes back to the model as the result."""


@dataclass(frozen=True)
class Caller:
    """Who a reply calls tools for, and their clock and time zone (tests give a fixed clock)."""

    user_id: int
    time_zone: str = ""
    clock: Callable[[], datetime] = field(default=timezone.now)


@dataclass(frozen=True)
class Builtin:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any], Caller], Awaitable[str]]


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name) if name and len(name) < 64 else zoneinfo.ZoneInfo("UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


async def current_time(arguments: dict[str, Any], caller: Caller) -> str:
    zone = _zone(caller.time_zone)
    now = caller.clock().astimezone(zone)
    return f"{now.strftime('%A %d %B %Y, %H:%M:%S')} ({zone.key}, UTC{now.strftime('%z')[:3]}:{now.strftime('%z')[3:]})"


async def calculator(arguments: dict[str, Any], caller: Caller) -> str:
    try:
        value = evaluate(arguments.get("expression"))
    except NotArithmetic as exc:
        raise ToolFailed(str(exc)) from None
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else str(value)


def search(*, user_id: int, query: str) -> list[dict[str, str]]:
    """The user's own conversations whose title or messages hold `query`, most recent first."""
    mine = Conversation.objects.owned_by(user_id)
    by_title = mine.filter(title__icontains=query).values_list("pk", "title")[:SEARCH_RESULTS]
    by_text = (
        Message.objects.filter(conversation__in=mine, active=True, content__icontains=query)
        .exclude(role=Message.Role.TOOL)
        .order_by("-created_at")
        .values_list("conversation_id", "conversation__title", "content")[: SEARCH_RESULTS * 3]
    )
    found: dict[Any, dict[str, str]] = {}
    for pk, title in by_title:
        found[pk] = {"conversation": title or "New chat", "snippet": ""}
    for pk, title, content in by_text:
        entry = found.setdefault(pk, {"conversation": title or "New chat", "snippet": ""})
        if not entry["snippet"]:
            entry["snippet"] = _snippet(content, query)
    return list(found.values())[:SEARCH_RESULTS]


def _snippet(text: str, query: str) -> str:
    at = text.lower().find(query.lower())
    start = max(at - SNIPPET_CHARS // 2, 0)
    return ("…" if start else "") + " ".join(text[start : start + SNIPPET_CHARS].split())


async def search_conversations(arguments: dict[str, Any], caller: Caller) -> str:
    query = arguments.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ToolFailed("Give the words to search for as `query`.")
    query = query.strip()[:MAX_QUERY_CHARS]
    found = await database_sync_to_async(search)(user_id=caller.user_id, query=query)
    if not found:
        return f"No conversation mentions {query!r}."
    lines = [
        f"- {entry['conversation']}" + (f": {entry['snippet']}" if entry["snippet"] else "")
        for entry in found
    ]
    return "\n".join(lines)


TOOLS = (
    Builtin(
        name="current_time",
        description="The current date and time in the user's time zone.",
        parameters={"type": "object", "properties": {}},
        run=current_time,
    ),
    Builtin(
        name="calculator",
        description="Compute an arithmetic expression exactly, e.g. (17 * 23) / 4 + 2 ** 10 or sqrt(2).",
        parameters={
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "The expression to compute."}},
            "required": ["expression"],
        },
        run=calculator,
    ),
    Builtin(
        name="search_conversations",
        description="Search the user's own earlier conversations (titles and messages) for some words.",
        parameters={
            "type": "object",
            "properties": {"query": {"type": "string", "description": "The words to look for."}},
            "required": ["query"],
        },
        run=search_conversations,
    ),
)
BY_NAME = {tool.name: tool for tool in TOOLS}
