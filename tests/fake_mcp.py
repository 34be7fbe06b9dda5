"""A fake MCP server on a real loopback port, built on the `mcp` package's own server side
(FastMCP over Streamable HTTP): an echo, a slow tool, a failing tool, a tool with a large result and one whose result holds a NUL.

It records the calls it received and the headers they came with.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn
from mcp.server.fastmcp import FastMCP

from tests.helpers import free_port


class FakeMcp:
    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self.cancelled: list[str] = []
        server = FastMCP("fake", host="127.0.0.1", port=self.port, stateless_http=True, json_response=True)
        fake = self

        @server.tool(description="Repeat the text given.")
        def echo(text: str) -> str:
            fake.calls.append(("echo", {"text": text}))
            return f"echo: {text}"

        @server.tool(description="Wait some seconds, then say so.")
        async def slow(seconds: float) -> str:
            fake.calls.append(("slow", {"seconds": seconds}))
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                fake.cancelled.append("slow")
                raise
            return f"waited {seconds} s"

        @server.tool(description="Always fails.")
        def fail() -> str:
            fake.calls.append(("fail", {}))
            raise ValueError("the fake tool broke")

        @server.tool(description="A result of `size` characters.")
        def big(size: int) -> str:
            fake.calls.append(("big", {"size": size}))
            return "x" * size

        @server.tool(description="A result holding a NUL character.")
        def nul() -> str:
            fake.calls.append(("nul", {}))
            return "before\x00after"

        app = server.streamable_http_app()

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                fake.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await app(scope, receive, send)

        config = uvicorn.Config(
            recording, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> FakeMcp:
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake MCP server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
