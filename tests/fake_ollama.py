"""A fake Ollama server on a real loopback port, scripted by tests.

It follows Ollama's HTTP API as documented (NDJSON streaming with a final stats
chunk, error shapes and status codes, mid-stream error lines). Tests queue
replies with `enqueue_*` and read back what it received in `requests`.

By hand, for a demo without Ollama:  python -m tests.fake_ollama --port 11435
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import re
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_MODELS: list[dict[str, Any]] = [
    {"name": "llama3.2:latest", "family": "llama", "parameter_size": "3.2B",
     "quantization_level": "Q4_K_M", "size": 2019393189, "capabilities": ["completion", "tools"],
     "context_length": 131072},
    {"name": "llava:7b", "family": "llama", "families": ["llama", "clip"], "parameter_size": "7B",
     "quantization_level": "Q4_0", "size": 4733363377, "capabilities": ["completion", "vision"],
     "context_length": 32768},
    {"name": "qwen3:8b", "family": "qwen3", "parameter_size": "8.2B",
     "quantization_level": "Q4_K_M", "size": 5225388164,
     "capabilities": ["completion", "tools", "thinking"], "context_length": 40960},
]  # fmt: skip

# What /api/pull can fetch, besides what is installed; any other name is unknown.
LIBRARY: list[dict[str, Any]] = [
    {"name": "tinyllama:latest", "family": "llama", "parameter_size": "1B",
     "quantization_level": "Q4_0", "size": 637700138, "capabilities": ["completion"],
     "context_length": 2048},
    {"name": "nomic-embed-text:latest", "family": "nomic-bert", "parameter_size": "137M",
     "quantization_level": "F16", "size": 274302450, "capabilities": ["embedding"],
     "context_length": 2048},
]  # fmt: skip

# Roughly what Ollama accepts as [host/][namespace/]model[:tag].
_VALID_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*){0,2}(:\w[\w.\-]{0,127})?$")


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
    status: int = 200
    error: str | None = None  # with status >= 400: sent before any output
    stream_error: str | None = None  # sent as an NDJSON line after the tokens
    malformed: bool = False  # a line that is not JSON after the tokens
    truncated: bool = False  # the stream ends with no done line
    done_reason: str = "stop"
    stats: dict[str, int] = field(default_factory=dict)


_BASE64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _full_name(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


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
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # Life ------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOllama:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._completions.clear()
            self.requests.clear()
        # Deep copies: tests edit nested lists (capabilities) and must not leak into later tests.
        self.models = copy.deepcopy(DEFAULT_MODELS)
        self.running = []
        self.library = copy.deepcopy(DEFAULT_MODELS + LIBRARY)
        self.pull_delay = self.default_pull_delay

    # Scripting -------------------------------------------------------------

    def enqueue_chat(self, *tokens: str, thinking: tuple[str, ...] = (), delay: float = 0.0,
                     first_delay: float = 0.0, done_reason: str = "stop",
                     stats: dict[str, int] | None = None) -> None:  # fmt: skip
        self._push(Script(tokens=list(tokens), thinking=list(thinking), delay=delay,
                          first_delay=first_delay, done_reason=done_reason, stats=stats or {}))  # fmt: skip

    def enqueue_error(self, status: int, error: str) -> None:
        self._push(Script(status=status, error=error))

    def enqueue_stream_error(self, *tokens: str, error: str, delay: float = 0.0) -> None:
        self._push(Script(tokens=list(tokens), stream_error=error, delay=delay))

    def enqueue_malformed(self, *tokens: str) -> None:
        self._push(Script(tokens=list(tokens), malformed=True))

    def enqueue_truncated(self, *tokens: str) -> None:
        self._push(Script(tokens=list(tokens), truncated=True))

    def enqueue_completion(self, text: str = "", *, error: str | None = None, status: int = 500) -> None:
        """The answer to the next non-streaming chat request (titles use these)."""
        script = Script(tokens=[text]) if error is None else Script(status=status, error=error)
        with self._lock:
            self._completions.append(script)

    def _push(self, script: Script) -> None:
        with self._lock:
            self._scripts.append(script)

    def _next_script(self, request: dict[str, Any]) -> Script:
        queue = self._completions if request.get("stream") is False else self._scripts
        with self._lock:
            if queue:
                return queue.popleft()
        if request.get("stream") is False:
            messages = request.get("messages") or [{}]
            last_line = (messages[-1].get("content") or "").strip().splitlines()[-1:] or [""]
            return Script(tokens=[" ".join(last_line[0].split()[:5]).title() or "Chat"])
        return self._default_script(request)

    def _default_script(self, request: dict[str, Any]) -> Script:
        """Unscripted requests get a small Markdown answer, handy for demos."""
        messages = request.get("messages") or []
        last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        text = (
            f"You said: *{last.strip()[:200]}*\n\n"
            "This reply comes from the **fake Ollama server**, so it can show the "
            "chat without a model. Here is some code:\n\n"
            '```python\ndef greet(name: str) -> str:\n    return f"Hello, {name}!"\n```\n\n'
            "- Markdown renders\n- code is highlighted\n- and the reply streams word by word.\n"
        )
        model = self.find_model(request.get("model", ""))
        thinking: list[str] = []
        if model and "thinking" in model["capabilities"] and request.get("think") is not False:
            thinking = _words("The user wrote a message. I will answer briefly and show some code.")
        return Script(tokens=_words(text), thinking=thinking, delay=self.default_delay)

    # Reading back ----------------------------------------------------------

    def chat_requests(self) -> list[Recorded]:
        """Streaming /api/chat requests: the replies."""
        return [
            r for r in self.requests if r.path == "/api/chat" and (r.json or {}).get("stream") is not False
        ]

    def completion_requests(self) -> list[Recorded]:
        """Non-streaming /api/chat requests, such as title generation."""
        return [r for r in self.requests if r.path == "/api/chat" and (r.json or {}).get("stream") is False]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while len(self.chat_requests()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} chat requests, got {len(self.chat_requests())}")
            time.sleep(0.01)
        return self.chat_requests()

    def find_model(self, name: str) -> dict[str, Any] | None:
        wanted = _full_name(name.strip()).lower()
        return next((m for m in self.models if m["name"].lower() == wanted), None)

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def _in_library(self, name: str) -> dict[str, Any] | None:
        wanted = _full_name(name.strip()).lower()
        return next((m for m in self.library if m["name"].lower() == wanted), None)

    def _install(self, model: dict[str, Any]) -> None:
        with self._lock:
            self.models = [m for m in self.models if m["name"].lower() != model["name"].lower()] + [model]

    def _load(self, model: dict[str, Any]) -> None:
        with self._lock:
            self.running = [m for m in self.running if m["name"] != model["name"]]
            entry = running_model(model["name"])
            entry.update(size=model["size"], size_vram=model["size"])
            self.running.append(entry)

    def _unload(self, name: str) -> None:
        with self._lock:
            self.running = [m for m in self.running if m["name"] != name]


def _handler_for(fake: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.fake = fake
    return Handler


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOllama
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # Plumbing --------------------------------------------------------------

    def _body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return raw, json.loads(raw) if raw else None
        except ValueError:
            return raw, ValueError

    def _send_json(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_empty(self, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_text(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self, data: Any) -> Recorded:
        recorded = Recorded(self.command, self.path, None if data is ValueError else data)
        with self.fake._lock:
            self.fake.requests.append(recorded)
        return recorded

    def _client_gone(self, wait: float) -> bool:
        """Wait up to `wait` seconds; true as soon as the client has closed."""
        sock = self.connection
        readable, _, _ = select.select([sock], [], [], wait)
        if not readable:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # Routes ----------------------------------------------------------------

    def do_HEAD(self) -> None:
        if self.path in ("/", "/api/version", "/api/tags"):
            self._send_empty()
        else:
            self._send_empty(404)

    def do_GET(self) -> None:
        self._record(None)
        if self.path == "/":
            self._send_text(200, "Ollama is running")
        elif self.path == "/api/version":
            self._send_json(200, {"version": "0.12.6"})
        elif self.path == "/api/tags":
            self._send_json(200, {"models": [self._tag(m) for m in self.fake.models]})
        elif self.path == "/api/ps":
            running = sorted(self.fake.running, key=lambda m: m["expires_at"], reverse=True)
            self._send_json(200, {"models": running})
        else:
            self._send_text(404, "404 page not found")

    def do_POST(self) -> None:
        raw, data = self._body()
        recorded = self._record(data)
        try:
            if self.path == "/api/chat":
                self._chat(raw, data, recorded)
            elif self.path == "/api/show":
                self._show(raw, data)
            elif self.path == "/api/pull":
                self._pull(raw, data, recorded)
            elif self.path == "/api/copy":
                self._copy(raw, data)
            else:
                self._send_text(404, "404 page not found")
        finally:
            recorded.finished_at = time.monotonic()
            recorded.done.set()

    def do_DELETE(self) -> None:
        raw, data = self._body()
        recorded = self._record(data)
        try:
            if self.path == "/api/delete":
                self._delete(raw, data)
            else:
                self._send_text(404, "404 page not found")
        finally:
            recorded.finished_at = time.monotonic()
            recorded.done.set()

    def _tag(self, model: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": model["name"], "model": model["name"],
            "modified_at": "2025-02-01T09:15:00.5-08:00", "size": model["size"],
            "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": {"parent_model": "", "format": "gguf", "family": model["family"],
                        "families": model.get("families", [model["family"]]),
                        "parameter_size": model["parameter_size"],
                        "quantization_level": model["quantization_level"]},
        }  # fmt: skip

    def _request_error(self, raw: bytes, data: Any) -> bool:
        if not raw:
            self._send_json(400, {"error": "missing request body"})
        elif data is ValueError or not isinstance(data, dict):
            self._send_json(400, {"error": "invalid character looking for beginning of value"})
        elif not (data.get("model") or data.get("name")):
            self._send_json(400, {"error": "model is required"})
        else:
            return False
        return True

    def _show(self, raw: bytes, data: Any) -> None:
        if self._request_error(raw, data):
            return
        name = data.get("model") or data.get("name")
        model = self.fake.find_model(name)
        if model is None:
            self._send_json(404, {"error": f"model '{_full_name(name)}' not found"})
            return
        arch = model["family"]
        self._send_json(200, {
            "modelfile": f"FROM {model['name']}\n", "parameters": "stop \"<|eot_id|>\"\ntemperature 0.7",
            "template": "{{ .Prompt }}", "license": "Example licence text",
            "details": self._tag(model)["details"],
            "model_info": {"general.architecture": arch, f"{arch}.context_length": model["context_length"]},
            "capabilities": model["capabilities"], "modified_at": "2025-02-01T09:15:00.5-08:00",
        })  # fmt: skip

    def _chat(self, raw: bytes, data: Any, recorded: Recorded) -> None:
        if self._request_error(raw, data):
            return
        name = data["model"]
        if self.fake.find_model(name) is None:
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        problem = self._image_problem(data)
        if problem is not None:
            self._send_json(*problem)
            return
        if not data.get("messages"):
            reason = "unload" if data.get("keep_alive") in (0, "0", "0s") else "load"
            model = self.fake.find_model(name)
            if reason == "load":
                self.fake._load(model)
            else:
                self.fake._unload(model["name"])
            self._send_json(200, {"model": name, "created_at": _now(),
                                  "message": {"role": "assistant", "content": ""},
                                  "done": True, "done_reason": reason})  # fmt: skip
            return
        script = self.fake._next_script(data)
        if script.error is not None:
            self._send_json(script.status, {"error": script.error})
            return
        if data.get("stream") is False:
            self._send_json(200, self._final(name, script, "".join(script.tokens), "".join(script.thinking)))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        lines = [self._chunk(name, thinking=t) for t in script.thinking]
        lines += [self._chunk(name, content=t) for t in script.tokens]
        if script.stream_error is not None:
            lines.append({"error": script.stream_error})
        elif script.malformed:
            lines.append("this is not json")
        elif not script.truncated:
            lines.append(self._final(name, script, "", ""))
        try:
            if script.first_delay and self._client_gone(script.first_delay):
                recorded.closed_by_client = True
                return
            for index, line in enumerate(lines):
                if index and script.delay and self._client_gone(script.delay):
                    recorded.closed_by_client = True
                    return
                text = (line if isinstance(line, str) else json.dumps(line)) + "\n"
                payload = text.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            recorded.closed_by_client = True
            self.close_connection = True
            return
        if script.stream_error is not None or script.malformed or script.truncated:
            self.close_connection = True

    # Model management ------------------------------------------------------

    def _pull(self, raw: bytes, data: Any, recorded: Recorded) -> None:
        """Progress as NDJSON: manifest, each layer's bytes, verify, write, success."""
        if self._request_error(raw, data):
            return
        name = (data.get("model") or data.get("name")).strip()
        if not _VALID_NAME.match(name):
            self._send_json(400, {"error": "invalid model name"})
            return
        model = self.fake._in_library(name)
        if data.get("stream") is False:
            if model is None:
                self._send_json(500, {"error": "pull model manifest: file does not exist"})
            else:
                self.fake._install(copy.deepcopy(model))
                self._send_json(200, {"status": "success"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        if model is None:
            lines.append({"error": "pull model manifest: file does not exist"})
        else:
            lines += _layer_progress(model)
            lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}]
        try:
            for index, line in enumerate(lines):
                if index and self.fake.pull_delay and self._client_gone(self.fake.pull_delay):
                    recorded.closed_by_client = True
                    self.close_connection = True
                    return
                self._write_chunk(line)
            if model is not None:
                self.fake._install(copy.deepcopy(model))  # installed before "success" is read
                self._write_chunk({"status": "success"})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            recorded.closed_by_client = True
            self.close_connection = True
            return
        if model is None:
            self.close_connection = True

    def _write_chunk(self, line: dict[str, Any]) -> None:
        payload = (json.dumps(line) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def _delete(self, raw: bytes, data: Any) -> None:
        if self._request_error(raw, data):
            return
        name = data.get("model") or data.get("name")
        if not _VALID_NAME.match(name):
            self._send_json(400, {"error": f'name "{name}" is invalid'})
            return
        model = self.fake.find_model(name)
        if model is None:
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        with self.fake._lock:
            self.fake.models = [m for m in self.fake.models if m is not model]
        self._send_empty()

    def _copy(self, raw: bytes, data: Any) -> None:
        if not raw:
            self._send_json(400, {"error": "missing request body"})
            return
        if data is ValueError or not isinstance(data, dict):
            self._send_json(400, {"error": "invalid character looking for beginning of value"})
            return
        for field_name in ("source", "destination"):
            value = data.get(field_name)
            if not isinstance(value, str) or not _VALID_NAME.match(value):
                self._send_json(400, {"error": f'{field_name} "{value or ""}" is invalid'})
                return
        model = self.fake.find_model(data["source"])
        if model is None:
            self._send_json(404, {"error": f'model "{data["source"]}" not found'})
            return
        self.fake._install({**copy.deepcopy(model), "name": _full_name(data["destination"])})
        self._send_empty()

    def _image_problem(self, data: dict[str, Any]) -> tuple[int, dict[str, str]] | None:
        """Images must be raw base64 (a data: URL fails), and only vision models read them."""
        images = [image for message in data.get("messages") or [] for image in message.get("images") or []]
        for image in images:
            try:
                base64.b64decode(image, validate=True)
            except (ValueError, TypeError):
                position = next((i for i, c in enumerate(str(image)) if c not in _BASE64), 0)
                return 400, {"error": f"illegal base64 data at input byte {position}"}
        model = self.fake.find_model(data["model"])
        if images and model is not None and "vision" not in model["capabilities"]:
            return 500, {"error": "this model is missing data required for image input"}
        return None

    def _chunk(self, name: str, *, content: str = "", thinking: str = "") -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            message["thinking"] = thinking
        return {"model": name, "created_at": _now(), "message": message, "done": False}

    def _final(self, name: str, script: Script, content: str, thinking: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            message["thinking"] = thinking
        count = max(len(script.tokens), 1)
        stats = {"total_duration": 512_000_000, "load_duration": 21_000_000, "prompt_eval_count": 12,
                 "prompt_eval_duration": 40_000_000, "eval_count": count,
                 "eval_duration": count * 10_000_000, **script.stats}  # fmt: skip
        return {"model": name, "created_at": _now(), "message": message, "done": True,
                "done_reason": script.done_reason, **stats}  # fmt: skip


def running_model(name: str, *, expires_in: float = 300.0) -> dict[str, Any]:
    expires = (datetime.now(UTC) + timedelta(seconds=expires_in)).isoformat()
    return {"name": name, "model": name, "size": 3_000_000_000, "size_vram": 3_000_000_000,
            "digest": "a80c4f17acd5", "details": {}, "expires_at": expires,
            "context_length": 4096}  # fmt: skip


def _layer_progress(model: dict[str, Any]) -> list[dict[str, Any]]:
    """Per layer, as Ollama sends it: the total first (completed left out while 0), then bytes."""
    sizes = [model["size"] - 14_000, 12_000, 1_500, 500]  # weights, licence, template, params
    lines: list[dict[str, Any]] = []
    for index, total in enumerate(sizes):
        digest = hashlib.sha256(f"{model['name']}/{index}".encode()).hexdigest()
        layer = {"status": f"pulling {digest[:12]}", "digest": f"sha256:{digest}", "total": total}
        steps = 8 if index == 0 else 1
        lines.append(layer)
        lines += [{**layer, "completed": total * step // steps} for step in range(1, steps + 1)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Ollama server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11435)
    parser.add_argument("--delay", type=float, default=0.04, help="seconds between tokens")
    parser.add_argument("--pull-delay", type=float, default=0.2, help="seconds between lines of a pull")
    parser.add_argument(
        "--tokens", type=int, default=None,
        help="make every unscripted reply this many tokens of --token-text (default: a short Markdown answer)",
    )  # fmt: skip
    parser.add_argument("--token-text", default=" word", help="the text of each token with --tokens")
    parser.add_argument(
        "--backlog", type=int, default=None, help="listen backlog, for many connections opened at once"
    )
    parser.add_argument(
        "--nodelay", action="store_true", help="send each line at once (TCP_NODELAY), as Ollama's server does"
    )
    args = parser.parse_args()
    fake = FakeOllama(args.host, args.port, default_delay=args.delay, pull_delay=args.pull_delay)
    if args.backlog:
        fake._server.socket.listen(args.backlog)
    if args.nodelay:
        fake._server.RequestHandlerClass.disable_nagle_algorithm = True
    if args.tokens is not None:
        tokens = [args.token_text] * max(args.tokens, 1)
        fake._default_script = lambda request: Script(tokens=list(tokens), delay=fake.default_delay)
    print(f"Fake Ollama listening on {fake.url} (Ctrl+C to stop)", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
