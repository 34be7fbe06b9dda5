"""MCP servers over Streamable HTTP, with the official `mcp` client: list a server's tools, call one.

Only the URL and headers staff configured are used; redirects are not
followed. Each listing or call opens its own short session: calls are rare
next to tokens, and a session never outlives the reply that needed it.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx

from conversations.json_input import problem, storable

if TYPE_CHECKING:
    from mcp import ClientSession

MAX_LISTED_TOOLS = 200
MAX_DESCRIPTION_CHARS = 2000


class ServerUnavailable(Exception):
    """The server could not be reached or did not speak MCP; the message says how it failed."""


@asynccontextmanager
async def _session(url: str, headers: dict[str, str], timeout: float) -> AsyncIterator[ClientSession]:
    # mcp brings pydantic, starlette and more: loaded when a tool server is first called,
    # not in every worker at start-up, and on a thread, not the event loop.
    await asyncio.to_thread(importlib.import_module, "mcp.client.streamable_http")
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout), follow_redirects=False) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _failure(exc: BaseException) -> ServerUnavailable:
    # anyio's task groups wrap the transport's failure in an ExceptionGroup.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, httpx.ConnectError):
        return ServerUnavailable("The tool server could not be reached.")
    if isinstance(exc, httpx.TimeoutException):
        return ServerUnavailable("The tool server did not answer in time.")
    if isinstance(exc, httpx.HTTPStatusError):
        return ServerUnavailable(f"The tool server answered with HTTP {exc.response.status_code}.")
    return ServerUnavailable(f"The tool server failed: {exc or type(exc).__name__}")


async def list_tools(*, url: str, headers: dict[str, str], timeout: float) -> list[dict[str, Any]]:
    """The server's tools as {"name", "description", "parameters"}, or ServerUnavailable."""
    try:
        async with _session(url, headers, timeout) as session:
            listed = await session.list_tools()
    except Exception as exc:
        raise _failure(exc) from None
    # What a server says is stored and shown: nothing the database cannot hold.
    return [
        {
            "name": storable(tool.name)[:200],
            "description": storable(tool.description or "")[:MAX_DESCRIPTION_CHARS],
            "parameters": tool.inputSchema or {"type": "object", "properties": {}},
        }
        for tool in listed.tools[:MAX_LISTED_TOOLS]
        if problem(tool.inputSchema or {}) is None
    ]


async def call_tool(
    *, url: str, headers: dict[str, str], timeout: float, name: str, arguments: dict[str, Any]
) -> tuple[str, bool]:
    """The call's result as text, and whether the tool reported an error; ServerUnavailable
    when the server could not be asked. The caller bounds the time and the size."""
    try:
        async with _session(url, headers, timeout) as session:
            result = await session.call_tool(name, arguments)
    except Exception as exc:
        raise _failure(exc) from None
    parts = []
    for block in result.content:
        text = getattr(block, "text", None)
        parts.append(text if isinstance(text, str) else f"[{block.type} content]")
    if not parts and result.structuredContent is not None:
        parts.append(str(result.structuredContent))
    return "\n".join(parts), bool(result.isError)
