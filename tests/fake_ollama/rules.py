"""The checks Ollama makes of a request, in its words: field types, names, images, think, keep_alive, options."""

from __future__ import annotations

import re
from typing import Any

from tests.fake_ollama.go_json import Body, dumps, go_kind, go_quote, type_error

# Roughly what Ollama accepts as [host/][namespace/]model[:tag].
_VALID_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*){0,2}(:\w[\w.\-]{0,127})?$")
_BASE64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
THINK_LEVELS = ("high", "medium", "low", "max")
_THINK_CHOICES = '"high", "medium", "low", "max", true, or false'

# Options by the type Ollama's Options.FromMap wants; any other key is ignored.
INT_OPTIONS = frozenset(
    {
        "num_ctx",
        "num_predict",
        "top_k",
        "seed",
        "repeat_last_n",
        "num_keep",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
        "draft_num_predict",
    }
)
FLOAT_OPTIONS = frozenset(
    {"temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty", "frequency_penalty"}
)

# Go's request structs: each field's Go type, for the decoder's "cannot unmarshal" errors.
# keep_alive and think are checked apart (their own UnmarshalJSON); format takes any JSON.
_CHAT_FIELDS = {
    "model": "string",
    "messages": "[]api.Message",
    "tools": "api.Tools",
    "stream": "bool",
    "options": "map[string]interface {}",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
}
_MESSAGE_FIELDS = {
    "role": "string",
    "content": "string",
    "thinking": "string",
    "tool_name": "string",
    "tool_call_id": "string",
    "images": "[]api.ImageData",
    "tool_calls": "[]api.ToolCall",
}
_SHOW_FIELDS = {
    "model": "string",
    "name": "string",
    "system": "string",
    "template": "string",
    "verbose": "bool",
    "options": "map[string]interface {}",
}
_PULL_FIELDS = {
    "model": "string",
    "name": "string",
    "insecure": "bool",
    "stream": "bool",
    "username": "string",
    "password": "string",
}
_DELETE_FIELDS = {"model": "string", "name": "string"}
_COPY_FIELDS = {"source": "string", "destination": "string"}


class Rejected(Exception):
    """A request Ollama answers with an error status and {"error": ...} before any output."""

    def __init__(
        self, status: int, error: str, content_type: str = "application/json; charset=utf-8"
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.content_type = content_type


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
    problem = type_error("ChatRequest", "messages", "[]api.Message", messages)
    if problem is not None or not isinstance(messages, list):
        return problem
    for message in messages:
        if message is not None and not isinstance(message, dict):
            return type_error("ChatRequest", "messages", "api.Message", message)
        for key, value in (message or {}).items():
            go_type = _MESSAGE_FIELDS.get(key)
            problem = go_type and type_error("Message", f"messages.{key}", go_type, value)
            if problem:
                return problem
            if key == "images" and isinstance(value, list):
                for image in value:
                    problem = type_error("Message", "messages.images", "api.ImageData", image)
                    if problem is None and isinstance(image, str):
                        problem = _base64_error(image)
                    if problem:
                        return problem
    return None


def go_duration(text: str) -> float:
    """Seconds in a Go duration ("5m", "1h30m", "0"), or Rejected with time.ParseDuration's error."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    quoted = go_quote(text)
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
            raise Rejected(400, f"time: unknown unit {go_quote(unit)} in duration {quoted}")
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
        raise Rejected(400, f"invalid think value: {go_quote(value)} (must be {_THINK_CHOICES})")


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
        raise Rejected(
            400, f"json: cannot unmarshal {go_kind(body.value)} into Go value of type api.{struct}"
        )
    first: str | None = None
    for key, value in body.value.items():
        if struct == "ChatRequest" and key == "keep_alive":
            keep_alive_seconds(value)
        elif struct == "ChatRequest" and key == "think":
            _check_think(value)
        elif struct == "ChatRequest" and key == "messages":
            first = first or _message_errors(value)
        elif key in fields:
            first = first or type_error(struct, key, fields[key], value)
    if first is not None:
        raise Rejected(400, first)
    return body.value


def option_error(options: dict[str, Any] | None) -> str | None:
    """What Ollama's Options.FromMap says of the request's options (a 500 at HEAD)."""
    for key, value in (options or {}).items():
        quoted = go_quote(key)
        if value is None:
            continue
        if key in INT_OPTIONS and go_kind(value) != "number":
            return f"option {quoted} must be of type integer"
        if key in FLOAT_OPTIONS and go_kind(value) != "number":
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
    return f'invalid format: {go_quote(dumps(value))}; expected "json" or a valid JSON Schema object'
