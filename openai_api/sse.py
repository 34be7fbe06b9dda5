"""Server-sent events as OpenAI streams them: `data:` lines (chat completions, ending with
`data: [DONE]`) or `event:` and `data:` pairs (responses)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import StreamingHttpResponse

DONE = b"data: [DONE]\n\n"


def data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\n".encode() + data(payload)


def response(events: AsyncIterator[bytes]) -> StreamingHttpResponse:
    streaming = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    streaming["Cache-Control"] = "no-cache"
    streaming["X-Accel-Buffering"] = "no"  # a proxy in front must pass each event on at once
    return streaming
