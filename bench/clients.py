"""The two clients a figure compares: a browser-like socket client of the app, and a direct httpx client of Ollama.

Both record the same things about one reply (when it was asked for, when each
piece of text arrived, how many bytes it took), timed with perf_counter in
this process.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conversations.ollama.client import POOL_LIMITS

MODEL = "llama3.2"
# As conversations/ollama.py sets up its shared client.
APP_LIMITS = POOL_LIMITS  # the app's own pool limits, so the direct client matches it


def frame_bytes(text: str) -> int:
    """Bytes of an unmasked server-to-client text frame: payload plus header."""
    size = len(text.encode())
    return size + (2 if size < 126 else 4 if size < 65536 else 10)


@dataclass
class Reply:
    started: float
    first: float | None = None
    arrivals: list[float] = field(default_factory=list)  # one per token frame, or per NDJSON chunk
    parts: list[str] = field(default_factory=list)
    finished: float | None = None
    status: str = ""
    saved_text: str = ""
    errors: list[str] = field(default_factory=list)
    failure: str = ""  # "socket closed", "timeout", "refused", …
    bytes_total: int = 0  # every frame from the chat frame's answer to the done frame
    bytes_text: int = 0  # the frames (or chunks) that carried text
    marks: dict[str, float] = field(default_factory=dict)  # when the first frame of each type came
    seq_gaps: int = 0  # token frames whose seq was not the previous one plus one (deltas dropped)
    last_seq: int = 0

    def add(self, at: float, text: str, size: int) -> None:
        if self.first is None:
            self.first = at
        self.arrivals.append(at)
        self.parts.append(text)
        self.bytes_text += size

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def ttft(self) -> float | None:
        return None if self.first is None else self.first - self.started

    @property
    def last(self) -> float | None:
        return self.arrivals[-1] if self.arrivals else None

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]

    def ok(self, expected: str) -> bool:
        return (
            not self.failure
            and not self.errors
            and self.status == "complete"
            and same_text(self.text, expected)
        )


class Tab:
    """One open chat socket, as the page holds it: connected with the session cookie, then synced."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    @classmethod
    async def open(cls, base_url: str, conversation_id: str, cookie: str, timeout: float = 30.0) -> Tab:
        ws_url = base_url.replace("http://", "ws://") + f"/ws/conversations/{conversation_id}/"
        socket = await connect(
            ws_url,
            additional_headers={"Cookie": f"sessionid={cookie}", "Origin": base_url},
            compression=None,  # daphne does not offer permessage-deflate
            proxy=None,
            open_timeout=timeout,
            ping_interval=None,
            close_timeout=2,
            max_size=None,
            max_queue=None,
        )
        tab = cls(socket)
        await socket.send(json.dumps({"type": "sync", "after": None}))
        async with asyncio.timeout(timeout):
            while json.loads(await socket.recv())["type"] != "history":
                pass
        return tab

    async def close(self) -> None:
        try:
            await self.socket.close()
        except Exception:  # already gone: nothing to close
            pass

    async def chat(self, content: str, *, timeout: float) -> Reply:
        """Send a chat frame and read until the reply's done frame."""
        reply = Reply(started=time.perf_counter())
        try:
            await self.socket.send(json.dumps({"type": "chat", "content": content, "model": MODEL}))
            async with asyncio.timeout(timeout):
                while True:
                    raw = await self.socket.recv()
                    now = time.perf_counter()
                    size = frame_bytes(raw)
                    reply.bytes_total += size
                    frame = json.loads(raw)
                    kind = frame["type"]
                    reply.marks.setdefault(kind, now - reply.started)
                    if kind == "token":
                        reply.add(now, frame["content"], size)
                        if frame["seq"] != reply.last_seq + 1:
                            reply.seq_gaps += 1
                        reply.last_seq = frame["seq"]
                    elif kind == "error":
                        reply.errors.append(frame.get("code", "?"))
                        if "message_id" not in frame:  # refused: no reply follows
                            reply.failure = f"refused ({frame.get('code')})"
                            return reply
                    elif kind == "done":
                        reply.finished = now
                        reply.status = frame["message"]["status"]
                        reply.saved_text = frame["message"]["content"]
                        return reply
        except ConnectionClosed:
            reply.failure = "socket closed"
        except TimeoutError:
            reply.failure = "timeout"
        return reply


async def open_tabs(
    base_url: str, ids: list[str], cookie: str, *, parallel: int = 50
) -> list[Tab | Exception]:
    """Open one tab per conversation, `parallel` handshakes at a time."""
    gate = asyncio.Semaphore(parallel)

    async def one(conversation_id: str) -> Tab | Exception:
        async with gate:
            try:
                return await Tab.open(base_url, conversation_id, cookie)
            except (OSError, TimeoutError, ConnectionClosed, InvalidStatus) as exc:
                return exc

    return await asyncio.gather(*(one(conversation_id) for conversation_id in ids))


def direct_client() -> httpx.AsyncClient:
    """A client like the app's: same pool limits, no proxies, read timeout long."""
    return httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=3.0), limits=APP_LIMITS, trust_env=False)


def chat_payload(history: list[dict[str, str]], content: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": [*history, {"role": "user", "content": content}], "stream": True}


async def direct_chat(
    client: httpx.AsyncClient, ollama_url: str, payload: dict[str, Any], *, timeout: float
) -> Reply:
    """Stream /api/chat straight from the fake server, reading NDJSON lines as the app does."""
    reply = Reply(started=time.perf_counter())
    try:
        async with asyncio.timeout(timeout):
            async with client.stream("POST", f"{ollama_url}/api/chat", json=payload) as response:
                if response.is_error:
                    reply.failure = f"HTTP {response.status_code}"
                    return reply
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    now = time.perf_counter()
                    length = len(line.encode()) + 1
                    size = length + len(f"{length:x}") + 4  # the HTTP chunk's framing
                    reply.bytes_total += size
                    data = json.loads(line)
                    content = (data.get("message") or {}).get("content") or ""
                    if content:
                        reply.add(now, content, size)
                    if data.get("done"):
                        reply.finished = now
                        reply.status = "complete"
                        reply.saved_text = reply.text
                        break
    except TimeoutError:
        reply.failure = "timeout"
    except httpx.HTTPError as exc:
        reply.failure = f"{type(exc).__name__}"
    return reply


async def api_chat(
    client: httpx.AsyncClient, base_url: str, key: str, payload: dict[str, Any], *, timeout: float
) -> Reply:
    """Stream /v1/chat/completions from the app, as a script with the openai client does: SSE
    `data:` lines of chat.completion.chunk, then `data: [DONE]`."""
    reply = Reply(started=time.perf_counter())
    body = {"model": payload["model"], "messages": payload["messages"], "stream": True}
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(
                "POST", f"{base_url}/v1/chat/completions", json=body, headers=headers
            ) as response:
                if response.is_error:
                    await response.aread()
                    reply.failure = f"HTTP {response.status_code}"
                    return reply
                async for line in response.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    now = time.perf_counter()
                    size = len(line.encode()) + 2
                    reply.bytes_total += size
                    if line == "data: [DONE]":
                        reply.finished = now
                        reply.saved_text = reply.text
                        break
                    chunk = json.loads(line[6:])
                    if "error" in chunk:
                        reply.errors.append(chunk["error"].get("code") or "?")
                        break
                    for choice in chunk.get("choices") or []:
                        content = (choice.get("delta") or {}).get("content") or ""
                        if content:
                            reply.add(now, content, size)
                        if choice.get("finish_reason"):
                            reply.status = (
                                "complete" if choice["finish_reason"] == "stop" else choice["finish_reason"]
                            )
    except TimeoutError:
        reply.failure = "timeout"
    except httpx.HTTPError as exc:
        reply.failure = f"{type(exc).__name__}"
    return reply


def same_text(received: str, sent: str) -> bool:
    """Whole text: the app drops a reply's leading whitespace, which a direct client keeps."""
    return received.lstrip() == sent.lstrip()


def tokens_in(text: str) -> int:
    """How many of the fake server's " word" tokens a text holds, with or without the leading space."""
    return text.count("word")
