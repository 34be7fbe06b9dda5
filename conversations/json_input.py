"""JSON from outside (socket frames, request bodies, imports): parsed with limits, and
refused when it holds what the database cannot store.

`loads` reads a whole document; json_stream.stream reads a large one (an import) a
piece at a time, with the same refusals.

Python's json module accepts NaN and Infinity, reads 1e400 as infinity, keeps
lone surrogates (``"\\ud800"``) and NUL characters, and raises RecursionError on
deeply nested input. None of these can be stored everywhere (PostgreSQL refuses
NUL, UTF-8 has no lone surrogates, JSON has no NaN), so they are refused here,
before anything is saved, with a message that names where they are.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Deeper than any legitimate frame, body or export (schemas stop at 100 levels).
MAX_DEPTH = 128
_SURROGATE = re.compile("[\ud800-\udfff]")
NUL_TEXT = "contains a NUL character"
SURROGATE_TEXT = "contains a lone surrogate (text that is not valid Unicode)"


class Unacceptable(ValueError):
    """Input that is not JSON (`malformed`), or holds something that cannot be stored;
    `message` says what and where."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.malformed = malformed


def _no_constants(name: str) -> Any:
    raise Unacceptable(f"holds {name}, which is not a number JSON allows.")


def loads(raw: str | bytes, *, what: str = "The body") -> Any:
    """Parse `raw` as strict JSON, then check it with `problem()`; raise Unacceptable if anything is wrong."""
    try:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        data = json.loads(raw, parse_constant=_no_constants)
    except Unacceptable as exc:
        raise Unacceptable(f"{what} {exc.message}") from None
    except RecursionError:
        raise Unacceptable(f"{what} is nested too deeply (the limit is {MAX_DEPTH} levels).") from None
    except UnicodeDecodeError:
        raise Unacceptable(f"{what} is not UTF-8 text.", malformed=True) from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise Unacceptable(f"{what} is not valid JSON ({_reason(exc)}).", malformed=True) from None
    found = problem(data)
    if found:
        raise Unacceptable(f"{what} {found}")
    return data


# What Python's json module says, as words a person reads ("Expecting value: line 1
# column 1 (char 0)" means nothing to most). {where} is "line 3, column 7".
_JSON_REASONS = {
    "Expecting value": "a value is missing or is not JSON at {where}",
    "Expecting ',' delimiter": "a comma is missing at {where}",
    "Expecting ':' delimiter": "a colon is missing after the key at {where}",
    "Expecting property name enclosed in double quotes": "a key in double quotes is expected at {where}",
    "Extra data": "there is more after its end, at {where}",
    "Unterminated string starting at": "the text that starts at {where} is never closed with a double quote",
    "Invalid control character at": "a text holds a line break or tab at {where}; write it as \\n or \\t",
    "Invalid \\escape": "a backslash escape is not valid at {where}",
    "Invalid \\uXXXX escape": "a \\u escape is not valid at {where}",
}


def _reason(exc: ValueError) -> str:
    """Why JSON could not be read, as the end of a sentence."""
    if not isinstance(exc, json.JSONDecodeError):
        return "a number has too many digits"
    if not exc.doc.strip():
        return "it is empty"
    if exc.msg.startswith("Expecting") and exc.pos >= len(exc.doc.rstrip()):
        return "it ends too early"
    where = f"line {exc.lineno}, column {exc.colno}"
    return _JSON_REASONS.get(exc.msg, "it cannot be read at {where}").format(where=where)


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored, or None."""
    if "\x00" in text:
        return NUL_TEXT
    if not text.isascii() and _SURROGATE.search(text):
        return SURROGATE_TEXT
    return None


def storable(text: str) -> str:
    """Text from elsewhere (a model's reply) made storable: NUL and lone surrogates become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii() and _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return text


def problem(data: Any, *, max_depth: int = MAX_DEPTH) -> str | None:
    """What makes parsed JSON unstorable, as the end of a sentence ("holds ... at $.a[2]"), or None.

    Walks the data without recursion, so any depth is safe to ask about.
    """
    pending: list[tuple[Any, str, int]] = [(data, "$", 1)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            found = text_problem(value)
            if found:
                return f"{found} at {path}."
        elif isinstance(value, float):
            if not math.isfinite(value):
                return f"holds a number out of range ({value}) at {path}."
        elif isinstance(value, dict | list):
            if depth > max_depth:
                return f"is nested too deeply (the limit is {max_depth} levels)."
            if isinstance(value, dict):
                for key, item in value.items():
                    found = text_problem(key) if isinstance(key, str) else None
                    if found:
                        return f"{found} in a key at {path}."
                    pending.append((item, f"{path}.{shown_key(key)}", depth + 1))
            else:
                pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
    return None


def shown_key(key: Any) -> str:
    """A key as a path names it, cut short if long."""
    text = str(key)
    return text if len(text) <= 40 else text[:40] + "…"
