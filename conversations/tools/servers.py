"""Refreshing a tool server's list of tools (the admin's action), which also tells whether it is up."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings

from conversations.models import ToolServer
from conversations.tools import mcp_client, records, sealed


async def fetch(server: ToolServer) -> tuple[list[dict[str, Any]] | None, str]:
    """The server's tools, or None and the error text if it is down."""
    try:
        tools = await mcp_client.list_tools(
            url=server.url, headers=server.headers, timeout=settings.TOOL_CALL_TIMEOUT_SECONDS
        )
    except (mcp_client.ServerUnavailable, sealed.Unreadable) as exc:
        return None, str(exc)
    return tools, ""


def _store(server: ToolServer, tools: list[dict[str, Any]] | None, error: str) -> str:
    records.mark_server(server_id=server.pk, error=error, tools=tools)
    return error


async def refresh(server: ToolServer) -> str:
    """List the server's tools and store them; the error text if it is down, else ""."""
    tools, error = await fetch(server)
    return await database_sync_to_async(_store)(server, tools, error)


def refresh_now(server: ToolServer) -> str:
    """refresh() for synchronous code (the admin): the database is written from the calling thread."""
    tools, error = async_to_sync(fetch)(server)
    return _store(server, tools, error)
