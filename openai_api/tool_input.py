"""The client's own tools in a chat completion, read from OpenAI's shapes and checked: the tools
offered, the calls an assistant message made, the tool messages that answer them.

The server runs none of these tools; each problem is an ApiError(400) naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from conversations import json_input
from openai_api.shapes import bad

# The client's own tools: OpenAI's function shape, which Ollama's matches; bounded in count and size.
MAX_TOOLS = 64
MAX_TOOLS_CHARS = 64_000
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_CALLS_PER_MESSAGE = 32
MAX_ARGUMENTS_CHARS = 20_000


@dataclass(frozen=True)
class Asked:
    """A tool call the model made, as the client sends it back: its id, the tool, the arguments."""

    call_id: str
    name: str
    arguments: dict[str, Any]


def read_tool_name(value: Any, param: str) -> str:
    if not isinstance(value, str) or not TOOL_NAME.match(value):
        raise bad(f"`{param}` must be a tool name of 1 to 64 letters, digits, _ or -.", param)
    return value


def read_call_id(value: Any, param: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64 or not value.isprintable():
        raise bad(f"`{param}` must be a tool call's id (up to 64 characters).", param)
    return value


def read_calls(value: Any, param: str) -> tuple[Asked, ...]:
    """An assistant message's `tool_calls`, each with its arguments as a JSON object (sent as text)."""
    if not isinstance(value, list) or len(value) > MAX_CALLS_PER_MESSAGE:
        raise bad(f"`{param}` must be a list of at most {MAX_CALLS_PER_MESSAGE} tool calls.", param)
    calls = []
    for index, call in enumerate(value):
        where = f"{param}[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or call.get("type", "function") != "function":
            raise bad(f"`{where}` must be a function call with `id` and `function`.", where)
        arguments = function.get("arguments")
        if not isinstance(arguments, str) or len(arguments) > MAX_ARGUMENTS_CHARS:
            raise bad(
                f"`{where}.function.arguments` must be a JSON object as text, up to "
                f"{MAX_ARGUMENTS_CHARS:,} characters.",
                f"{where}.function.arguments",
            )
        try:
            parsed = json_input.loads(arguments or "{}", what="The arguments")
        except json_input.Unacceptable as exc:
            raise bad(exc.message, f"{where}.function.arguments") from None
        if not isinstance(parsed, dict):
            raise bad("A tool call's arguments must be a JSON object.", f"{where}.function.arguments")
        calls.append(
            Asked(
                call_id=read_call_id(call.get("id"), f"{where}.id"),
                name=read_tool_name(function.get("name"), f"{where}.function.name"),
                arguments=parsed,
            )
        )
    return tuple(calls)


def read_tools(value: Any) -> list[dict[str, Any]] | None:
    """The client's `tools` as Ollama takes them (the same function shape); the server runs none."""
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) > MAX_TOOLS:
        raise bad(f"`tools` must be a list of at most {MAX_TOOLS} tools.", "tools")
    if len(json.dumps(value, ensure_ascii=False)) > MAX_TOOLS_CHARS:
        raise bad(f"`tools` may take at most {MAX_TOOLS_CHARS:,} characters of JSON.", "tools")
    tools = []
    names: set[str] = set()
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function":
            raise bad(
                f"`{where}` must be a function tool: {{type: function, function: {{name, ...}}}}.", where
            )
        name = read_tool_name(function.get("name"), f"{where}.function.name")
        if name in names:
            raise bad(f"Two tools are named {name}.", f"{where}.function.name")
        names.add(name)
        shaped: dict[str, Any] = {"name": name}
        if function.get("description") is not None:
            if not isinstance(function["description"], str):
                raise bad(f"`{where}.function.description` must be text.", f"{where}.function.description")
            shaped["description"] = function["description"]
        parameters = function.get("parameters")
        if parameters is not None:
            if not isinstance(parameters, dict):
                raise bad(f"`{where}.function.parameters` must be a JSON Schema object.", where)
            shaped["parameters"] = parameters
        tools.append({"type": "function", "function": shaped})
    return tools
