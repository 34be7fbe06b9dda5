"""A fake Ollama server on a real loopback port, scripted by tests.

It follows Ollama's HTTP API as documented: NDJSON streaming with a final stats
chunk, the request checks Ollama makes and their statuses, errors before any
output as a real status, errors after it as one more NDJSON line, and Gin's
plain-text 404 and 405. Tests queue replies with `enqueue_*` and read back what
it received in `requests`.

By hand, for a demo without Ollama:  python -m tests.fake_ollama --port 11435
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import select
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

DEFAULT_MODELS: list[dict[str, Any]] = [
    {"name": "llama3.2:latest", "family": "llama", "parameter_size": "3.2B",
     "quantization_level": "Q4_K_M", "size": 2019393189, "capabilities": ["completion", "tools"],
     "context_length": 131072,
     "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"},
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

for _model in DEFAULT_MODELS + LIBRARY:  # a copy keeps its source's digest, as in Ollama
    _model.setdefault("digest", hashlib.sha256(_model["name"].encode()).hexdigest())

# Roughly what Ollama accepts as [host/][namespace/]model[:tag].
_VALID_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*){0,2}(:\w[\w.\-]{0,127})?$")
_BASE64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
THINK_LEVELS = ("high", "medium", "low", "max")
_THINK_CHOICES = '"high", "medium", "low", "max", true, or false'

# Options by the type Ollama's Options.FromMap wants; any other key is ignored.
INT_OPTIONS = frozenset({"num_ctx", "num_predict", "top_k", "seed", "repeat_last_n", "num_keep", "num_batch",
                         "num_gpu", "main_gpu", "num_thread", "draft_num_predict"})  # fmt: skip
FLOAT_OPTIONS = frozenset({"temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty",
                           "frequency_penalty"})  # fmt: skip

# Go's request structs: each field's Go type, for the decoder's "cannot unmarshal" errors.
# keep_alive and think are checked apart (their own UnmarshalJSON); format takes any JSON.
_CHAT_FIELDS = {"model": "string", "messages": "[]api.Message", "tools": "api.Tools", "stream": "bool",
                "options": "map[string]interface {}", "truncate": "bool", "shift": "bool",
                "logprobs": "bool", "top_logprobs": "int"}  # fmt: skip
_MESSAGE_FIELDS = {"role": "string", "content": "string", "thinking": "string", "tool_name": "string",
                   "tool_call_id": "string", "images": "[]api.ImageData",
                   "tool_calls": "[]api.ToolCall"}  # fmt: skip
_SHOW_FIELDS = {"model": "string", "name": "string", "system": "string", "template": "string",
                "verbose": "bool", "options": "map[string]interface {}"}  # fmt: skip
_PULL_FIELDS = {"model": "string", "name": "string", "insecure": "bool", "stream": "bool",
                "username": "string", "password": "string"}  # fmt: skip
_DELETE_FIELDS = {"model": "string", "name": "string"}
_COPY_FIELDS = {"source": "string", "destination": "string"}


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
    done_reason: str = "stop"
    stats: dict[str, int] = field(default_factory=dict)


class Rejected(Exception):
    """A request Ollama answers with an error status and {"error": ...} before any output."""

    def __init__(
        self, status: int, error: str, content_type: str = "application/json; charset=utf-8"
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.content_type = content_type


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _full_name(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _qualified(name: str) -> str:
    """The name as Ollama's errors spell it in full: registry.ollama.ai/library/llama3.2:latest."""
    parts = _full_name(name).split("/")
    defaults = ["registry.ollama.ai", "library"]
    return "/".join(defaults[: 3 - len(parts)] + parts)


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


def dumps(data: Any) -> str:
    """JSON as Go's json.Marshal writes it: compact, UTF-8, with <, > and & escaped."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _go_quote(text: str) -> str:
    """Close enough to Go's %q for the names and values that appear in errors."""
    return json.dumps(text, ensure_ascii=False)


def _details(model: dict[str, Any]) -> dict[str, Any]:
    return {"parent_model": "", "format": "gguf", "family": model["family"],
            "families": model.get("families", [model["family"]]),
            "parameter_size": model["parameter_size"],
            "quantization_level": model["quantization_level"]}  # fmt: skip


# Reading a request as Go's encoding/json does ------------------------------------------


class _NotJSON(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJSON(f"invalid character '{name[0]}' looking for beginning of value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _go_char(char: str) -> str:
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return "'" + json.dumps(char, ensure_ascii=False)[1:-1] + "'"


def _innermost(text: str, position: int) -> str:
    """The bracket that is open at `position`: "{", "[" or ""."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text[:position]:
        if escaped:
            escaped = False
        elif in_string:
            escaped = char == "\\"
            in_string = char != '"'
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _syntax_error(exc: json.JSONDecodeError) -> str:
    """Python's complaint in the words of Go's json decoder."""
    text, position, message = exc.doc, exc.pos, exc.msg
    if position >= len(text) or message.startswith("Unterminated string"):
        return "unexpected EOF"
    if message.startswith("Invalid \\escape"):
        return f"invalid character {_go_char(text[position + 1 : position + 2] or ' ')} in string escape code"
    char = _go_char(text[position])
    if message.startswith("Invalid control character"):
        return f"invalid character {char} in string literal"
    if message.startswith("Expecting property name"):
        return f"invalid character {char} looking for beginning of object key string"
    if message.startswith("Expecting ':'"):
        return f"invalid character {char} after object key"
    if message.startswith("Expecting ','"):
        where = "object key:value pair" if _innermost(text, position) == "{" else "array element"
        return f"invalid character {char} after {where}"
    return f"invalid character {char} looking for beginning of value"


@dataclass
class Body:
    """A request body: the bytes, the JSON value, and Go's decoder error if it is not JSON."""

    raw: bytes
    value: Any = None
    error: str | None = None

    @classmethod
    def parse(cls, raw: bytes) -> Body:
        text = raw.decode("utf-8", errors="replace")
        start = len(text) - len(text.lstrip(" \t\r\n"))
        if start == len(text):
            return cls(raw, error="missing request body")
        try:
            value, _ = _DECODER.raw_decode(text, start)  # like Go's Decoder, trailing bytes are not read
        except json.JSONDecodeError as exc:
            return cls(raw, error=_syntax_error(exc))
        except _NotJSON as exc:
            return cls(raw, error=str(exc))
        return cls(raw, value)


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_error(struct: str, path: str, go_type: str, value: Any) -> str | None:
    kind = _kind(value)
    if kind is None:  # null leaves a Go field as it was
        return None
    if go_type.startswith("[]") or go_type == "api.Tools":
        wanted = "array"
    elif go_type.startswith("map["):
        wanted = "object"
    else:
        wanted = {"int": "number", "string": "string", "bool": "bool", "api.ImageData": "string"}.get(
            go_type, "object"
        )
    where = f"Go struct field {struct}.{path} of type {go_type}"
    if kind != wanted:
        return f"json: cannot unmarshal {kind} into {where}"
    if go_type == "int" and not isinstance(value, int):
        return f"json: cannot unmarshal number {value!r} into {where}"
    return None


def _base64_error(image: str) -> str | None:
    """Go's base64 decoder: standard alphabet, padding required, line breaks skipped."""
    position = next((i for i, char in enumerate(image) if char not in _BASE64 and char not in "\r\n"), None)
    text = image.replace("\r", "").replace("\n", "")
    if position is None:
        body = text.rstrip("=")
        padding = len(text) - len(body)
        if len(text) % 4 == 0 and padding <= 2 and "=" not in body:
            return None
        position = len(text) // 4 * 4 if len(text) % 4 else len(body)
    return f"illegal base64 data at input byte {position}"


def _message_errors(messages: Any) -> str | None:
    problem = _type_error("ChatRequest", "messages", "[]api.Message", messages)
    if problem is not None or not isinstance(messages, list):
        return problem
    for message in messages:
        if message is not None and not isinstance(message, dict):
            return _type_error("ChatRequest", "messages", "api.Message", message)
        for key, value in (message or {}).items():
            go_type = _MESSAGE_FIELDS.get(key)
            problem = go_type and _type_error("Message", f"messages.{key}", go_type, value)
            if problem:
                return problem
            if key == "images" and isinstance(value, list):
                for image in value:
                    problem = _type_error("Message", "messages.images", "api.ImageData", image)
                    if problem is None and isinstance(image, str):
                        problem = _base64_error(image)
                    if problem:
                        return problem
    return None


def go_duration(text: str) -> float:
    """Seconds in a Go duration ("5m", "1h30m", "0"), or Rejected with time.ParseDuration's error."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    quoted = _go_quote(text)
    rest, sign = text, 1.0
    if rest[:1] in ("-", "+"):
        sign, rest = (-1.0 if rest[0] == "-" else 1.0), rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise Rejected(400, f"time: invalid duration {quoted}")
    total = 0.0
    while rest:
        number = re.match(r"\d*(\.\d*)?", rest).group(0)
        if not number.strip("."):
            raise Rejected(400, f"time: invalid duration {quoted}")
        rest = rest[len(number) :]
        unit = re.match(r"[^\d.]*", rest).group(0)
        if not unit:
            raise Rejected(400, f"time: missing unit in duration {quoted}")
        if unit not in units:
            raise Rejected(400, f"time: unknown unit {_go_quote(unit)} in duration {quoted}")
        rest = rest[len(unit) :]
        total += float(number if number != "." else 0) * units[unit]
    return sign * total


def keep_alive_seconds(value: Any) -> float | None:
    """api.Duration's UnmarshalJSON: a number of seconds or a Go duration; negative is forever."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        go_type = {bool: "bool", list: "[]interface {}", dict: "map[string]interface {}"}[type(value)]
        raise Rejected(400, f"Unsupported type: '{go_type}'")
    seconds = go_duration(value) if isinstance(value, str) else float(value)
    return float("inf") if seconds < 0 else seconds


def _check_think(value: Any) -> None:
    if value is None or isinstance(value, bool):
        return
    if not isinstance(value, str):
        raise Rejected(400, f"think must be a boolean or string ({_THINK_CHOICES})")
    if value not in THINK_LEVELS:
        raise Rejected(400, f"invalid think value: {_go_quote(value)} (must be {_THINK_CHOICES})")


def decode(body: Body, struct: str, fields: dict[str, str]) -> dict[str, Any]:
    """The request as Ollama's handler sees it after ShouldBindJSON, or Rejected with a 400.

    Like Go's decoder, a field of the wrong type is remembered and the first one
    reported at the end, while keep_alive's and think's own checks stop at once.
    """
    if body.error is not None:
        raise Rejected(400, body.error)
    if body.value is None:
        return {}
    if not isinstance(body.value, dict):
        raise Rejected(400, f"json: cannot unmarshal {_kind(body.value)} into Go value of type api.{struct}")
    first: str | None = None
    for key, value in body.value.items():
        if struct == "ChatRequest" and key == "keep_alive":
            keep_alive_seconds(value)
        elif struct == "ChatRequest" and key == "think":
            _check_think(value)
        elif struct == "ChatRequest" and key == "messages":
            first = first or _message_errors(value)
        elif key in fields:
            first = first or _type_error(struct, key, fields[key], value)
    if first is not None:
        raise Rejected(400, first)
    return body.value


def option_error(options: dict[str, Any] | None) -> str | None:
    """What Ollama's Options.FromMap says of the request's options (a 500 at HEAD)."""
    for key, value in (options or {}).items():
        quoted = _go_quote(key)
        if value is None:
            continue
        if key in INT_OPTIONS and _kind(value) != "number":
            return f"option {quoted} must be of type integer"
        if key in FLOAT_OPTIONS and _kind(value) != "number":
            return f"option {quoted} must be of type float32"
        if key == "use_mmap" and not isinstance(value, bool):
            return f"option {quoted} must be of type boolean"
        if key == "stop":
            if not isinstance(value, list):
                return f"option {quoted} must be of type array"
            if not all(isinstance(item, str) for item in value):
                return f"option {quoted} must be of an array of strings"
    return None


def format_error(value: Any) -> str | None:
    """The runner's check of `format`: absent, null, "", "json" or a schema object."""
    if value is None or value == "" or value == "json" or isinstance(value, dict):
        return None
    return f'invalid format: {_go_quote(dumps(value))}; expected "json" or a valid JSON Schema object'


# The server ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

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
        self._lock = threading.Lock()
        self._server = _Server((host, port), _handler_for(self))
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
        """The next streamed reply. `stats` override the final chunk's metrics; a 0 is left out."""
        self._push(Script(tokens=list(tokens), thinking=list(thinking), delay=delay,
                          first_delay=first_delay, done_reason=done_reason, stats=stats or {}))  # fmt: skip

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
        self._push(Script(tokens=list(tokens), stream_error=error, delay=delay, status=status,
                          first_delay=first_delay))  # fmt: skip

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
            messages = [m for m in request.get("messages") or [] if isinstance(m, dict)] or [{}]
            last_line = (messages[-1].get("content") or "").strip().splitlines()[-1:] or [""]
            return Script(tokens=[" ".join(last_line[0].split()[:5]).title() or "Chat"])
        return self._default_script(request)

    def _default_script(self, request: dict[str, Any]) -> Script:
        """Unscripted requests get a small Markdown answer, handy for demos."""
        messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
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
            entry = running_model(model["name"], model=model)
            entry.update(size=model["size"], size_vram=model["size"])
            self.running.append(entry)

    def _unload(self, name: str) -> None:
        with self._lock:
            self.running = [m for m in self.running if m["name"] != name]


def _fields(recorded: Recorded) -> dict[str, Any]:
    return recorded.json if isinstance(recorded.json, dict) else {}


def _handler_for(fake: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.fake = fake
    return Handler


# Ollama's routes and the methods each answers (None: Ollama has it, the fake does not).
# Gin answers any other method on these paths with a 405, and any other path with a 404.
ROUTES: dict[str, dict[str, str | None]] = {
    "/": {"GET": "_root", "HEAD": "_root"},
    "/api/version": {"GET": "_version", "HEAD": "_version"},
    "/api/tags": {"GET": "_tags", "HEAD": "_tags"},
    "/api/ps": {"GET": "_ps"},
    "/api/chat": {"POST": "_chat"},
    "/api/show": {"POST": "_show"},
    "/api/pull": {"POST": "_pull"},
    "/api/copy": {"POST": "_copy"},
    "/api/delete": {"DELETE": "_delete"},
    "/api/generate": {"POST": None},
    "/api/embed": {"POST": None},
    "/api/embeddings": {"POST": None},
    "/api/create": {"POST": None},
    "/api/push": {"POST": None},
}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOllama
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # Plumbing --------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, content_type: str | None, **headers: str) -> None:
        self.responded = True
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(
        self, status: int, data: Any, content_type: str = "application/json; charset=utf-8"
    ) -> None:
        self._send(status, dumps(data).encode(), content_type)

    def _start_stream(self) -> None:
        self.responded = True
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, line: dict[str, Any] | str) -> None:
        payload = ((line if isinstance(line, str) else dumps(line)) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

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

    # Routing ---------------------------------------------------------------

    def _serve(self) -> None:
        self.responded = False
        body = Body.parse(self._read_body())
        path = urlsplit(self.path).path
        recorded = Recorded(self.command, path, body.value if body.error is None else None)
        with self.fake._lock:
            self.fake.requests.append(recorded)
        methods = ROUTES.get(path)
        try:
            if methods is None:
                self._send(404, b"404 page not found", "text/plain")
            elif self.command not in methods:
                self._send(405, b"405 method not allowed", "text/plain", Allow=", ".join(methods))
            elif (handler := methods[self.command]) is None:
                self._send_json(501, {"error": f"the fake Ollama does not serve {self.command} {path}"})
            else:
                getattr(self, handler)(body, recorded)
        except Rejected as rejected:
            self._send_json(rejected.status, {"error": rejected.error}, rejected.content_type)
        except (BrokenPipeError, ConnectionResetError):
            recorded.closed_by_client = True
            self.close_connection = True
        except Exception as exc:  # a bug in the fake: say so rather than drop the connection
            if not self.responded:
                self._send_json(500, {"error": f"the fake Ollama failed: {exc!r}"})
            self.close_connection = True
            raise
        finally:
            recorded.finished_at = time.monotonic()
            recorded.done.set()

    do_GET = do_HEAD = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = _serve

    # Routes ----------------------------------------------------------------

    def _root(self, body: Body, recorded: Recorded) -> None:
        self._send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _version(self, body: Body, recorded: Recorded) -> None:
        self._send_json(200, {"version": "0.12.6"})

    def _tags(self, body: Body, recorded: Recorded) -> None:
        self._send_json(200, {"models": [self._tag(m) for m in self.fake.models]})

    def _ps(self, body: Body, recorded: Recorded) -> None:
        running = sorted(self.fake.running, key=lambda m: m["expires_at"], reverse=True)
        self._send_json(200, {"models": running})

    def _tag(self, model: dict[str, Any]) -> dict[str, Any]:
        return {"name": model["name"], "model": model["name"], "modified_at": "2025-02-01T09:15:00.5-08:00",
                "size": model["size"], "digest": model["digest"], "details": _details(model)}  # fmt: skip

    def _show(self, body: Body, recorded: Recorded) -> None:
        data = decode(body, "ShowRequest", _SHOW_FIELDS)
        name = data.get("model") or data.get("name")
        if not name:
            raise Rejected(400, "model is required")
        model = self.fake.find_model(name)
        if model is None:
            raise Rejected(404, f"model '{_full_name(name)}' not found")
        arch = model["family"]
        self._send_json(200, {
            "modelfile": f"FROM {model['name']}\n", "parameters": "stop \"<|eot_id|>\"\ntemperature 0.7",
            "template": "{{ .Prompt }}", "license": "Example licence text",
            "details": _details(model),
            "model_info": {"general.architecture": arch, f"{arch}.context_length": model["context_length"]},
            "capabilities": model["capabilities"], "modified_at": "2025-02-01T09:15:00.5-08:00",
        })  # fmt: skip

    def _chat(self, body: Body, recorded: Recorded) -> None:
        """Ollama's ChatHandler, in its order: decode, name, unload, capabilities, options, load, run."""
        data = decode(body, "ChatRequest", _CHAT_FIELDS)
        name = data.get("model") or ""  # a "name" field is not read here
        if not name:
            raise Rejected(400, "model is required")
        if not _VALID_NAME.match(name):
            raise Rejected(400, "invalid model name")
        model = self.fake.find_model(name)
        if model is None:
            raise Rejected(404, f"model '{name}' not found")
        messages = data.get("messages")
        if not messages and keep_alive_seconds(data.get("keep_alive")) == 0:
            self.fake._unload(model["name"])
            self._send_json(200, self._loaded(name, "unload"))
            return
        capabilities = model["capabilities"]
        if "thinking" not in capabilities and data.get("think") not in (None, False):
            raise Rejected(400, f"{_go_quote(name)} does not support thinking")
        if "completion" not in capabilities:
            raise Rejected(400, f"{_go_quote(name)} does not support chat")
        if data.get("tools") and "tools" not in capabilities:
            raise Rejected(400, f"{_qualified(model['name'])} does not support tools")
        problem = option_error(data.get("options"))
        if problem is not None:
            raise Rejected(500, problem)
        if not messages:
            self.fake._load(model)
            self._send_json(200, self._loaded(name, "load"))  # one object, even when streaming
            return
        images = any(message.get("images") for message in messages if isinstance(message, dict))
        if images and "vision" not in capabilities:
            problem = "this model is missing data required for image input"
        problem = problem or format_error(data.get("format"))
        if problem is not None:  # the runner's first answer is an error: a real status
            raise Rejected(500, problem, "application/json")
        script = self.fake._next_script(data)
        if script.error is not None:
            raise Rejected(script.status, script.error)
        thinking = [] if data.get("think") is False else script.thinking
        if data.get("stream") is False:
            if script.stream_error is not None:
                raise Rejected(script.status, script.stream_error)
            self._send_json(200, self._final(name, script, "".join(script.tokens), "".join(thinking)))
            return
        self._stream(name, script, thinking, recorded)

    def _loaded(self, name: str, reason: str) -> dict[str, Any]:
        return {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": ""},
                "done": True, "done_reason": reason}  # fmt: skip

    def _stream(self, name: str, script: Script, thinking: list[str], recorded: Recorded) -> None:
        chunks = [("thinking", text) for text in thinking] + [("content", text) for text in script.tokens]
        # Like Ollama, nothing is sent until the first chunk (or error) is ready.
        if script.first_delay and self._client_gone(script.first_delay):
            recorded.closed_by_client = True
            return
        if script.stream_error is not None and not chunks:
            raise Rejected(script.status, script.stream_error, "application/json")
        self._start_stream()
        for index, (kind, text) in enumerate(chunks):
            if index and script.delay and self._client_gone(script.delay):
                recorded.closed_by_client = True
                self.close_connection = True
                return
            self._write_chunk(self._chunk(name, **{kind: text}))
        if script.delay and chunks and self._client_gone(script.delay):
            recorded.closed_by_client = True
            self.close_connection = True
            return
        if script.stream_error is not None:
            self._write_chunk({"error": script.stream_error})  # no done line follows
        elif script.malformed:
            self._write_chunk("this is not json")
        elif not script.truncated:
            self._write_chunk(self._final(name, script, "", ""))
        self._end_stream()
        if script.stream_error is not None or script.malformed or script.truncated:
            self.close_connection = True

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
        # The model is already loaded, so load_duration is 0 and, like every zero metric, left out.
        stats = {"total_duration": 512_000_000, "load_duration": 0, "prompt_eval_count": 12,
                 "prompt_eval_duration": 40_000_000, "eval_count": count,
                 "eval_duration": count * 10_000_000, **script.stats}  # fmt: skip
        final: dict[str, Any] = {"model": name, "created_at": _now(), "message": message, "done": True}
        if script.done_reason:
            final["done_reason"] = script.done_reason
        return final | {key: value for key, value in stats.items() if value}

    # Model management ------------------------------------------------------

    def _pull(self, body: Body, recorded: Recorded) -> None:
        """Progress as NDJSON: manifest, each layer's bytes, verify, write, success."""
        data = decode(body, "PullRequest", _PULL_FIELDS)
        name = data.get("model") or data.get("name") or ""
        if not _VALID_NAME.match(name):
            raise Rejected(400, "invalid model name")
        model = self.fake._in_library(name)
        if data.get("stream") is False:
            if model is None:
                raise Rejected(500, "pull model manifest: file does not exist")
            self.fake._install(copy.deepcopy(model))
            self._send_json(200, {"status": "success"})
            return
        self._start_stream()
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        if model is None:
            lines.append({"error": "pull model manifest: file does not exist"})
        else:
            lines += _layer_progress(model)
            lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}]
        for index, line in enumerate(lines):
            if index and self.fake.pull_delay and self._client_gone(self.fake.pull_delay):
                recorded.closed_by_client = True
                self.close_connection = True
                return
            self._write_chunk(line)
        if model is not None:
            self.fake._install(copy.deepcopy(model))  # installed before "success" is read
            self._write_chunk({"status": "success"})
        self._end_stream()
        if model is None:
            self.close_connection = True

    def _delete(self, body: Body, recorded: Recorded) -> None:
        data = decode(body, "DeleteRequest", _DELETE_FIELDS)
        name = data.get("model") or data.get("name") or ""
        if not _VALID_NAME.match(name):
            raise Rejected(400, f"name {_go_quote(name)} is invalid")
        model = self.fake.find_model(name)
        if model is None:
            raise Rejected(404, f"model '{name}' not found")
        with self.fake._lock:
            self.fake.models = [m for m in self.fake.models if m is not model]
        self._send(200, b"", None)

    def _copy(self, body: Body, recorded: Recorded) -> None:
        data = decode(body, "CopyRequest", _COPY_FIELDS)
        for field_name in ("source", "destination"):
            value = data.get(field_name) or ""
            if not _VALID_NAME.match(value):
                raise Rejected(400, f"{field_name} {_go_quote(value)} is invalid")
        model = self.fake.find_model(data["source"])
        if model is None:
            raise Rejected(404, f"model {_go_quote(data['source'])} not found")
        self.fake._install({**copy.deepcopy(model), "name": _full_name(data["destination"])})
        self._send(200, b"", None)


def running_model(
    name: str, *, expires_in: float = 300.0, model: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An /api/ps entry; `model` (else the catalog entry of that name) gives its digest and details."""
    model = model or next((m for m in DEFAULT_MODELS + LIBRARY if m["name"] == _full_name(name)), None)
    expires = (datetime.now(UTC) + timedelta(seconds=expires_in)).isoformat()
    if model is None:
        digest = hashlib.sha256(name.encode()).hexdigest()
        details = {"parent_model": "", "format": "gguf", "family": "", "families": None,
                   "parameter_size": "", "quantization_level": ""}  # fmt: skip
    else:
        digest, details = model["digest"], _details(model)
    return {"name": name, "model": name, "size": 3_000_000_000, "digest": digest, "details": details,
            "expires_at": expires, "size_vram": 3_000_000_000, "context_length": 4096}  # fmt: skip


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
