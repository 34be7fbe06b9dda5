"""JSON as Go's encoding/json reads and writes it: request bodies, the decoder's errors, compact output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


def dumps(data: Any) -> str:
    """JSON as Go's json.Marshal writes it: compact, UTF-8, with <, > and & escaped."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def go_quote(text: str) -> str:
    """Close enough to Go's %q for the names and values that appear in errors."""
    return json.dumps(text, ensure_ascii=False)


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


def go_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def type_error(struct: str, path: str, go_type: str, value: Any) -> str | None:
    kind = go_kind(value)
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
