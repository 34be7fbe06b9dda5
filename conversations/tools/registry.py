"""Which tools a user may use, and which a conversation has switched on: built-in ones and
those of the MCP servers staff gave them.

A tool is named by a key: "builtin:<name>" or "mcp:<server id>:<name>". The
conversation stores the keys it switched on; a key that is no longer available
(a server taken away, a built-in tool switched off) is simply left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q

from conversations.models import ToolServer
from conversations.tools import builtins

BUILTIN_SOURCE = "built-in"
MAX_CHOSEN_TOOLS = 64


@dataclass(frozen=True)
class ToolSpec:
    key: str
    name: str
    description: str
    parameters: dict[str, Any]
    source: str  # BUILTIN_SOURCE or the server's name
    server_id: int | None = None
    ask_first: bool = False

    def for_ollama(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def shown(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "ask_first": self.ask_first,
        }


@dataclass
class Offer:
    """The tools a user may use, and the servers they may use that are down."""

    tools: list[ToolSpec] = field(default_factory=list)
    down: list[ToolServer] = field(default_factory=list)  # servers whose tools are left out


def builtin_tools() -> list[ToolSpec]:
    return [
        ToolSpec(
            key=f"builtin:{tool.name}",
            name=tool.name,
            description=tool.description,
            parameters=tool.parameters,
            source=BUILTIN_SOURCE,
        )
        for tool in builtins.TOOLS
        if tool.name not in settings.DISABLED_TOOLS
    ]


def servers_for(user_id: int) -> list[ToolServer]:
    """The enabled servers staff gave this user, directly or through a group."""
    return list(
        ToolServer.objects.filter(enabled=True)
        .filter(Q(users__id=user_id) | Q(groups__user__id=user_id))
        .distinct()
        .order_by("name")
    )


def server_tools(server: ToolServer) -> list[ToolSpec]:
    tools = []
    for tool in server.tools or []:
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            continue
        tools.append(
            ToolSpec(
                key=f"mcp:{server.pk}:{tool['name']}",
                name=tool["name"],
                description=str(tool.get("description") or ""),
                parameters=tool.get("parameters") or {"type": "object", "properties": {}},
                source=server.name,
                server_id=server.pk,
                ask_first=tool["name"] in (server.ask_first or []),
            )
        )
    return tools


def offer_for(user_id: int) -> Offer:
    offer = Offer(tools=builtin_tools())
    for server in servers_for(user_id):
        if server.state == ToolServer.State.DOWN:
            offer.down.append(server)
        else:
            offer.tools.extend(server_tools(server))
    return offer


def chosen_tools(*, user_id: int, keys: list[str]) -> tuple[list[ToolSpec], list[str]]:
    """The tools of `keys` this user may use now, and notes on those left out (a server down).

    Two tools of one name: the first is kept, since the model names a tool only by its name.
    """
    if not keys:
        return [], []
    wanted = set(keys)
    if any(key.startswith("mcp:") for key in wanted):
        offer = offer_for(user_id)
    else:
        offer = Offer(tools=builtin_tools())
    chosen: dict[str, ToolSpec] = {}
    for tool in offer.tools:
        if tool.key in wanted and tool.name not in chosen:
            chosen[tool.name] = tool
    notes = [
        f"The tool server {server.name} is down, so its tools were left out of this reply."
        for server in offer.down
        if any(key.startswith(f"mcp:{server.pk}:") for key in wanted)
    ]
    return list(chosen.values()), notes


def clean_keys(value: Any) -> list[str]:
    """The tool keys a user asked for, checked for shape (availability is checked when used)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
        raise ValueError("Tools must be a list of tool keys.")
    if len(value) > MAX_CHOSEN_TOOLS:
        raise ValueError(f"At most {MAX_CHOSEN_TOOLS} tools can be switched on.")
    keys = list(dict.fromkeys(value))
    for key in keys:
        if len(key) > 300 or not (key.startswith("builtin:") or key.startswith("mcp:")):
            raise ValueError("That is not a tool key.")
    return keys
