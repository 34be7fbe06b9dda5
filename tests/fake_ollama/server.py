"""The fake server itself: start and stop it, script its answers, read back what it received."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fake_ollama.catalog import DEFAULT_MODELS, LIBRARY, full_name, running_model
from tests.fake_ollama.endpoints import Endpoints
from tests.fake_ollama.scripts import Recorded, Script


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


# Tool triggers, for requests that offer `tools` and have nothing scripted:
#   [[tool:NAME]] or [[tool:NAME {"json": "arguments"}]] in the user's last message
#   makes the answer call that tool (several triggers: several calls, in order);
#   [[rounds:N]] repeats the calls for N rounds (default 1).
# Once the rounds are done, the answer to the results echoes them:
#   "Tool results: <content of each tool message of the last round, joined by | >".
_TOOL_TRIGGER = re.compile(r"\[\[tool:([\w.\-]+)(?:\s+(\{.*?\}))?\]\]")
_ROUNDS_TRIGGER = re.compile(r"\[\[rounds:(\d+)\]\]")


def tool_call(
    name: str, arguments: dict[str, Any], *, index: int = 0, call_id: str | None = None
) -> dict[str, Any]:
    """A tool call as Ollama streams it: an id of "call_" and 8 characters, object arguments."""
    if call_id is None:
        call_id = "call_" + hashlib.sha256(f"{name}/{index}/{arguments}".encode()).hexdigest()[:8]
    return {"id": call_id, "function": {"index": index, "name": name, "arguments": arguments}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # As Go's listener (SOMAXCONN): many replies may open their connections at once.
    request_queue_size = 4096

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is no news
            super().handle_error(request, client_address)


class FakeOllama:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, default_delay: float = 0.0, pull_delay: float = 0.0
    ) -> None:
        self.default_delay = default_delay
        self.default_pull_delay = pull_delay
        self.pull_delay = pull_delay  # seconds between two lines of a pull's progress
        self.library = copy.deepcopy(DEFAULT_MODELS + LIBRARY)
        self.models = copy.deepcopy(DEFAULT_MODELS)
        self.running: list[dict[str, Any]] = []
        self.requests: list[Recorded] = []
        self._scripts: deque[Script] = deque()
        self._completions: deque[Script] = deque()  # answers to stream:false requests
        self.lock = threading.Lock()
        self.server = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    # Life ------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOllama:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self._scripts.clear()
            self._completions.clear()
            self.requests.clear()
        # Deep copies: tests edit nested lists (capabilities) and must not leak into later tests.
        self.models = copy.deepcopy(DEFAULT_MODELS)
        self.running = []
        self.library = copy.deepcopy(DEFAULT_MODELS + LIBRARY)
        self.pull_delay = self.default_pull_delay

    # Scripting -------------------------------------------------------------

    def enqueue_chat(
        self,
        *tokens: str,
        thinking: tuple[str, ...] = (),
        delay: float = 0.0,
        first_delay: float = 0.0,
        done_reason: str = "stop",
        stats: dict[str, int] | None = None,
    ) -> None:
        """The next streamed reply. `stats` override the final chunk's metrics; a 0 is left out."""
        self._push(
            Script(
                tokens=list(tokens),
                thinking=list(thinking),
                delay=delay,
                first_delay=first_delay,
                done_reason=done_reason,
                stats=stats or {},
            )
        )

    def enqueue_tool_calls(
        self, *calls: dict[str, Any], tokens: tuple[str, ...] = (), delay: float = 0.0
    ) -> None:
        """The next streamed reply: `tokens`, then the calls (made with `tool_call`)."""
        self._push(Script(tokens=list(tokens), tool_calls=list(calls), delay=delay))

    def enqueue_error(self, status: int, error: str) -> None:
        """Refuse the next streamed reply before any output (a load failure, a full queue)."""
        self._push(Script(status=status, error=error))

    def enqueue_stream_error(
        self, *tokens: str, error: str, delay: float = 0.0, status: int = 500, first_delay: float = 0.0
    ) -> None:
        """Fail the next streamed reply while generating.

        After at least one token the status is already 200, so the error is one
        more NDJSON line. With no token before it, Ollama still sends `status`
        with Content-Type application/json and one {"error": ...} object.
        """
        self._push(
            Script(
                tokens=list(tokens), stream_error=error, delay=delay, status=status, first_delay=first_delay
            )
        )

    def enqueue_malformed(self, *tokens: str) -> None:
        self._push(Script(tokens=list(tokens), malformed=True))

    def enqueue_truncated(self, *tokens: str) -> None:
        self._push(Script(tokens=list(tokens), truncated=True))

    def enqueue_broken_off(self, *tokens: str) -> None:
        """The tokens, then the connection closes mid-body (httpx: "incomplete chunked read")."""
        self._push(Script(tokens=list(tokens), broken_off=True))

    def enqueue_completion(self, text: str = "", *, error: str | None = None, status: int = 500) -> None:
        """The answer to the next non-streaming chat request (titles use these)."""
        script = Script(tokens=[text]) if error is None else Script(status=status, error=error)
        with self.lock:
            self._completions.append(script)

    def _push(self, script: Script) -> None:
        with self.lock:
            self._scripts.append(script)

    def next_script(self, request: dict[str, Any]) -> Script:
        queue = self._completions if request.get("stream") is False else self._scripts
        with self.lock:
            if queue:
                return queue.popleft()
        if request.get("stream") is False:
            messages = [m for m in request.get("messages") or [] if isinstance(m, dict)] or [{}]
            last_line = (messages[-1].get("content") or "").strip().splitlines()[-1:] or [""]
            return Script(tokens=[" ".join(last_line[0].split()[:5]).title() or "Chat"])
        return self.default_script(request)

    def default_script(self, request: dict[str, Any]) -> Script:
        """Unscripted requests get a small Markdown answer, handy for demos (or follow a tool trigger)."""
        messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
        tools = self.tool_script(request, messages)
        if tools is not None:
            return tools
        if messages and messages[-1].get("role") == "assistant":
            # As Ollama does, a conversation that ends with the assistant's text goes on with it.
            text = f" …and it goes on from “{(messages[-1].get('content') or '')[-40:]}”, as asked."
            return Script(tokens=_words(text), delay=self.default_delay)
        last = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
        text = (
            f"You said: *{last.strip()[:200]}*\n\n"
            "This reply comes from the **fake Ollama server**, so it can show the "
            "chat without a model. Here is some code:\n\n"
            '```python\ndef greet(name: str) -> str:\n    return f"Hello, {name}!"\n```\n\n'
            "- Markdown renders\n- code is highlighted\n- and the reply streams word by word.\n"
        )
        model = self.find_model(request.get("model", ""))
        thinking: list[str] = []
        if model and "thinking" in model["capabilities"]:
            thinking = _words("The user wrote a message. I will answer briefly and show some code.")
        return Script(tokens=_words(text), thinking=thinking, delay=self.default_delay)

    def tool_script(self, request: dict[str, Any], messages: list[dict[str, Any]]) -> Script | None:
        """The answer the tool triggers of the user's last message ask for, if any (see _TOOL_TRIGGER)."""
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
        if last_user is None or not request.get("tools"):
            return None
        text = messages[last_user].get("content") or ""
        triggers = _TOOL_TRIGGER.findall(text)
        if not triggers:
            return None
        since = messages[last_user + 1 :]
        rounds_done = sum(1 for m in since if m.get("role") == "assistant" and m.get("tool_calls"))
        rounds = int(_ROUNDS_TRIGGER.search(text).group(1)) if _ROUNDS_TRIGGER.search(text) else 1
        if rounds_done < rounds:
            calls = [
                tool_call(name, json.loads(arguments) if arguments else {}, index=index)
                for index, (name, arguments) in enumerate(triggers)
            ]
            return Script(tokens=[f"Round {rounds_done + 1}. "], tool_calls=calls, delay=self.default_delay)
        last_round = []
        for message in reversed(since):
            if message.get("role") != "tool":
                break
            last_round.insert(0, str(message.get("content") or ""))
        return Script(tokens=_words("Tool results: " + " | ".join(last_round)), delay=self.default_delay)

    # Reading back ----------------------------------------------------------

    def chat_requests(self) -> list[Recorded]:
        """Streaming /api/chat requests: the replies."""
        return [r for r in self._chats() if _fields(r).get("stream") is not False]

    def completion_requests(self) -> list[Recorded]:
        """Non-streaming /api/chat requests, such as title generation."""
        return [r for r in self._chats() if _fields(r).get("stream") is False]

    def _chats(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/api/chat" and r.method == "POST"]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while len(self.chat_requests()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} chat requests, got {len(self.chat_requests())}")
            time.sleep(0.01)
        return self.chat_requests()

    def find_model(self, name: str) -> dict[str, Any] | None:
        wanted = full_name(name.strip()).lower()
        return next((m for m in self.models if m["name"].lower() == wanted), None)

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def in_library(self, name: str) -> dict[str, Any] | None:
        wanted = full_name(name.strip()).lower()
        return next((m for m in self.library if m["name"].lower() == wanted), None)

    def install(self, model: dict[str, Any]) -> None:
        with self.lock:
            self.models = [m for m in self.models if m["name"].lower() != model["name"].lower()] + [model]

    def load_model(self, model: dict[str, Any]) -> None:
        with self.lock:
            self.running = [m for m in self.running if m["name"] != model["name"]]
            entry = running_model(model["name"], model=model)
            entry.update(size=model["size"], size_vram=model["size"])
            self.running.append(entry)

    def unload_model(self, name: str) -> None:
        with self.lock:
            self.running = [m for m in self.running if m["name"] != name]


def _fields(recorded: Recorded) -> dict[str, Any]:
    return recorded.json if isinstance(recorded.json, dict) else {}


def _handler_for(fake: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(Endpoints):
        pass

    Handler.fake = fake
    return Handler
