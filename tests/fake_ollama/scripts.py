"""What tests script the fake to answer, and the requests it records."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    json: Any
    started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    closed_by_client: bool = False
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Script:
    """One scripted answer to the next /api/chat request."""

    tokens: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    delay: float = 0.0
    first_delay: float = 0.0
    status: int = 500  # of an error sent before any output
    error: str | None = None  # refused before generating: `status` and a JSON error
    stream_error: str | None = None  # after the chunks; with none before it, sent as `error` is
    malformed: bool = False  # a line that is not JSON after the tokens
    truncated: bool = False  # the stream ends with no done line
    broken_off: bool = False  # the connection closes mid-body, without the chunked body's end
    done_reason: str = "stop"
    stats: dict[str, int] = field(default_factory=dict)
    # Calls sent after the tokens, each whole in its own done:false chunk:
    # {"id": "call_…", "function": {"index", "name", "arguments"}}.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def markdown_tokens(count: int) -> list[str]:
    """`count` tokens of a long Markdown reply: sections of a heading, paragraphs, a list and code."""
    section = [
        "##",
        " Section\n\n",
        *(" word" for _ in range(40)),
        ".\n\n",
        *(token for _ in range(3) for token in ("-", " an", " item", " of", " the", " list\n")),
        "\n```python\n",
        *(token for _ in range(4) for token in ("x", " =", " f", "(x)\n")),
        "```\n\n",
        *(" more" for _ in range(30)),
        ".\n\n",
    ]
    return [section[index % len(section)] for index in range(count)]
