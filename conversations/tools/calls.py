"""Calling one tool: checked arguments in, a result of bounded size out, within a time limit.

A failure never ends the reply: the error goes back to the model as the call's
result (and is shown), as Ollama's tool loop expects.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from conversations.json_input import problem, storable
from conversations.models import ToolCall
from conversations.tools import builtins, mcp_client, records
from conversations.tools.builtins import Caller, ToolFailed
from conversations.tools.registry import ToolSpec

MAX_ARGUMENT_CHARS = 20_000


@dataclass
class Outcome:
    status: str  # ToolCall.Status.OK or ERROR
    result: str  # what the model is sent
    error: str
    duration_ms: int


def check_arguments(arguments: Any) -> str | None:
    """Why a model's arguments cannot be used or stored, or None."""
    if not isinstance(arguments, dict):
        return "The arguments must be a JSON object."
    found = problem(arguments)
    if found:
        return f"The arguments {found}"
    if len(repr(arguments)) > MAX_ARGUMENT_CHARS:
        return "The arguments are too large."
    return None


def capped(text: str) -> str:
    limit = settings.TOOL_RESULT_MAX_CHARS
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… cut: the result was {len(text):,} characters, the limit is {limit:,}]"


async def run(tool: ToolSpec, arguments: dict[str, Any], caller: Caller) -> Outcome:
    started = time.monotonic()
    try:
        async with asyncio.timeout(settings.TOOL_CALL_TIMEOUT_SECONDS):
            text, failed = await _call(tool, arguments, caller)
    except TimeoutError:
        text, failed = f"The tool did not answer within {settings.TOOL_CALL_TIMEOUT_SECONDS:g} seconds.", True
    except (ToolFailed, mcp_client.ServerUnavailable) as exc:
        text, failed = str(exc), True
    elapsed = int((time.monotonic() - started) * 1000)
    text = capped(storable(text))  # a tool's text may hold what no database stores (NUL)
    if failed:
        return Outcome(ToolCall.Status.ERROR, f"Error: {text}", text, elapsed)
    return Outcome(ToolCall.Status.OK, text, "", elapsed)


async def _call(tool: ToolSpec, arguments: dict[str, Any], caller: Caller) -> tuple[str, bool]:
    if tool.server_id is None:
        return await builtins.BY_NAME[tool.name].run(arguments, caller), False
    server = await database_sync_to_async(records.usable_server)(
        server_id=tool.server_id, user_id=caller.user_id
    )
    if server is None:
        raise ToolFailed("This tool server is no longer available to you.")
    try:
        return await mcp_client.call_tool(
            url=server.url,
            headers=server.headers or {},
            timeout=settings.TOOL_CALL_TIMEOUT_SECONDS,
            name=tool.name,
            arguments=arguments,
        )
    except mcp_client.ServerUnavailable as exc:
        await database_sync_to_async(records.mark_server)(server_id=server.pk, error=str(exc))
        raise
