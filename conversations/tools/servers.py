"""Refreshing a tool server's list of tools (the admin's action), which also tells whether it is up."""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.conf import settings

from conversations.models import ToolServer
from conversations.tools import mcp_client, records


async def refresh(server: ToolServer) -> str:
    """List the server's tools and store them; the error text if it is down, else ""."""
    try:
        tools = await mcp_client.list_tools(
            url=server.url, headers=server.headers or {}, timeout=settings.TOOL_CALL_TIMEOUT_SECONDS
        )
    except mcp_client.ServerUnavailable as exc:
        await database_sync_to_async(records.mark_server)(server_id=server.pk, error=str(exc))
        return str(exc)
    await database_sync_to_async(records.mark_server)(server_id=server.pk, tools=tools)
    return ""
