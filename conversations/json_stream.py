"""Large JSON from outside (an import) read a piece at a time, with ijson, with the same refusals
as conversations/json_input.py: memory stays bounded by the largest piece, not the file."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Protocol

import ijson

from conversations.json_input import MAX_DEPTH, SURROGATE_TEXT, Unacceptable, problem, shown_key

Path = tuple[str | int, ...]


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# A surrogate escape (\\uD800-\\uDFFF) in the raw bytes, and the low half that must follow a high one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LOW_ESCAPE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_ESCAPE_LENGTH = 6
_CHUNK = 64 * 1024


class _Refused(Exception):
    """The end of a refusal's sentence; `stream` puts the subject in front."""

    def __init__(self, text: str, *, whole: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.whole = whole  # about the document, not the piece being read


class _LoneSurrogate(Exception):
    pass


class _GuardedReader:
    """The raw bytes on their way to the parser: at most `limit` of them, and no lone surrogate escape.

    ijson's C backend (yajl) does not refuse lone surrogates: it reads "\\ud800" as
    "?" and "\\ud800\\u0041" as an unrelated character. So they are looked for here,
    in the bytes. A read stops short of one; the parser has then reported everything
    before it when the next read refuses it, so the refusal can say where it is.
    """

    def __init__(self, source: Readable, *, limit: int) -> None:
        self._source = source
        self._limit = limit
        self._total = 0
        self._eof = False
        self._pending = bytearray()  # read from the source, not yet given to the parser
        self._scanned = 0  # surrogate escapes before this offset of _pending are checked
        self._backslashes_before = 0  # backslashes just before _pending[0]
        self._paired_low: int | None = None  # offset of a low half already paired
        self._lone: int | None = None  # offset of a lone surrogate escape

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks once whether the stream gives bytes or text
            return b""
        size = _CHUNK if size < 0 else size
        while not self._eof and len(self._pending) < size + 2 * _ESCAPE_LENGTH:
            chunk = self._source.read(max(size, _CHUNK))
            if not chunk:
                self._eof = True
                break
            self._total += len(chunk)
            if self._total > self._limit:
                raise _Refused(f"is larger than {self._limit:,} bytes.", whole=True)
            self._pending += chunk
        if self._lone is None:
            self._scan()
        # Without the end in sight, the last bytes wait: a high half's partner may follow.
        ready = len(self._pending) if self._eof else len(self._pending) - 2 * _ESCAPE_LENGTH
        if self._lone is not None:
            if self._lone == 0:
                raise _LoneSurrogate
            ready = min(ready, self._lone)
        out = bytes(self._pending[: min(size, ready)])
        self._consume(len(out))
        return out

    def _scan(self) -> None:
        end = len(self._pending) if self._eof else len(self._pending) - 2 * _ESCAPE_LENGTH
        for found in _SURROGATE_ESCAPE.finditer(self._pending, self._scanned):
            at = found.start()
            if at >= end:
                break
            if self._escaped(at):  # "\\\\ud800" is a backslash, then text
                continue
            if int(found[0][2:], 16) < 0xDC00:
                if _LOW_ESCAPE.match(self._pending, at + _ESCAPE_LENGTH):
                    self._paired_low = at + _ESCAPE_LENGTH
                    continue
            elif at == self._paired_low:
                continue
            self._lone = at
            return
        self._scanned = max(self._scanned, end)

    def _escaped(self, at: int) -> bool:
        """Whether the backslash at `at` is itself escaped (an odd number of backslashes before it)."""
        start = at
        while start > 0 and self._pending[start - 1] == 0x5C:
            start -= 1
        count = at - start + (self._backslashes_before if start == 0 else 0)
        return count % 2 == 1

    def _consume(self, count: int) -> None:
        if not count:
            return
        given = self._pending[:count]
        trailing = len(given) - len(given.rstrip(b"\\"))
        self._backslashes_before = trailing + (self._backslashes_before if trailing == count else 0)
        del self._pending[:count]
        self._scanned = max(0, self._scanned - count)
        self._paired_low = None if self._paired_low is None else self._paired_low - count
        self._lone = None if self._lone is None else self._lone - count


class _Position:
    """Where the parser is: the piece being built and, inside it, the keys and indexes down to the value."""

    def __init__(self) -> None:
        self.piece: Path = ()
        self.inside: list[list[Any]] = []  # [container, key or None] from the piece down

    def within(self) -> str:
        path = "$"
        for container, key in self.inside:
            if isinstance(container, list):
                path += f"[{len(container)}]"
            elif key is not None:
                path += f".{shown_key(key)}"
        return path


def _number(value: int | Decimal) -> int | float:
    return float(value) if isinstance(value, Decimal) else value


def _build(events: Iterator[tuple[str, Any]], event: str, value: Any, *, depth: int, at: _Position) -> Any:
    """The whole value that starts with (event, value), read from `events`, at most MAX_DEPTH deep."""
    if event == "number":
        return _number(value)
    if event not in ("start_map", "start_array"):
        return value
    if depth > MAX_DEPTH:
        raise _Refused(f"is nested too deeply (the limit is {MAX_DEPTH} levels).")
    root: dict[str, Any] | list[Any] = {} if event == "start_map" else []
    at.inside = [[root, None]]
    for event, value in events:
        frame = at.inside[-1]
        container = frame[0]
        if event == "map_key":
            frame[1] = value
            continue
        if event in ("end_map", "end_array"):
            at.inside.pop()
            if not at.inside:
                return root
            continue
        if event in ("start_map", "start_array"):
            item: Any = {} if event == "start_map" else []
            if depth + len(at.inside) > MAX_DEPTH:
                raise _Refused(f"is nested too deeply (the limit is {MAX_DEPTH} levels).")
        else:
            item = _number(value) if event == "number" else value
        if isinstance(container, list):
            container.append(item)
        else:
            container[frame[1]] = item
        if event in ("start_map", "start_array"):
            at.inside.append([item, None])
    raise _Refused("ends too early.")


def _walk(
    events: Iterator[tuple[str, Any]],
    event: str,
    value: Any,
    *,
    path: Path,
    into: tuple[str, ...],
    at: _Position,
) -> Iterator[tuple[Path, Any]]:
    """The pieces of the value at `path`: down the objects named by `into`, then the array's items."""
    expected = "start_map" if into else "start_array"
    if event != expected:
        yield path, _build(events, event, value, depth=len(path) + 1, at=at)
        return
    seen: set[str] = set()
    index = 0
    while True:
        # Where the parser goes next is known before it reads it: a refusal can say where.
        at.piece, at.inside = (path if into else (*path, index)), []
        event, value = _next(events)
        if event in ("end_map", "end_array"):
            return
        if into:  # an object: a key, then its value
            key = value
            if key in seen and key == into[0]:
                raise _Refused(f'holds "{shown_key(key)}" twice.', whole=True)
            seen.add(key)
            at.piece = (*path, key)
            event, value = _next(events)
            if key == into[0]:
                yield from _walk(events, event, value, path=(*path, key), into=into[1:], at=at)
                continue
        else:
            index += 1
        piece = at.piece
        yield piece, _build(events, event, value, depth=len(piece) + 1, at=at)


def _next(events: Iterator[tuple[str, Any]]) -> tuple[str, Any]:
    found = next(events, None)
    if found is None:
        raise _Refused("ends too early.", whole=True)
    return found


def stream(
    source: Readable, *, into: tuple[str, ...], limit: int, describe: Callable[[Path], str]
) -> Iterator[tuple[Path, Any]]:
    """Read a JSON document from `source` in pieces, as (path, value), each checked like `loads` does.

    The pieces are the keys of the objects along `into` and the items of the
    array `into` leads to: with into=("conversation", "messages"),
    ("format",) "…", ("conversation", "title") "…", ("conversation", "messages", 0) {…}, ….
    A value that is not the object or array `into` expects is one piece. At most
    `limit` bytes are read. Every refusal is an Unacceptable whose message starts with
    `describe(path)` of the piece where the problem is.
    """
    at = _Position()
    events = ijson.basic_parse(_GuardedReader(source, limit=limit), use_float=False)
    try:
        first = next(events, None)
        if first is None:
            raise _Refused("is empty.", whole=True)
        for path, value in _walk(events, *first, path=(), into=into, at=at):
            found = problem(value, max_depth=MAX_DEPTH - len(path))
            if found:
                raise Unacceptable(f"{describe(path)} {found}")
            at.piece, at.inside = path, []
            yield path, value
        at.piece, at.inside = (), []
        for _ in events:  # ijson refuses anything after the document
            pass
    except _Refused as exc:
        raise Unacceptable(f"{describe(() if exc.whole else at.piece)} {exc.text}") from None
    except _LoneSurrogate:
        raise Unacceptable(f"{describe(at.piece)} {SURROGATE_TEXT} at {at.within()}.") from None
    except ijson.JSONError as exc:
        reason = _parser_reason(exc)
        subject = describe(() if reason == _ENDS_EARLY else at.piece)
        raise Unacceptable(f"{subject} is not valid JSON ({reason}).") from None
    except UnicodeDecodeError:
        raise Unacceptable(f"{describe(at.piece)} is not UTF-8 text.") from None
    except (ArithmeticError, SystemError) as exc:
        # A number Python cannot hold (an exponent of millions, thousands of digits); the
        # parser fails before it reports where, so the refusal is about the whole file.
        if isinstance(exc, SystemError) and not isinstance(exc.__cause__, ValueError):
            raise
        raise Unacceptable(f"{describe(())} holds a number too large to read.") from None


_ENDS_EARLY = "it ends too early"
# yajl's words for what is wrong, in plainer ones.
_PARSER_REASONS = {
    "premature EOF": _ENDS_EARLY,
    "trailing garbage": "there is more after its end",
    "invalid char in json text": "an unexpected character; NaN and Infinity, for one, are not JSON",
    "invalid bytes in UTF8 string": "text that is not UTF-8",
}


def _parser_reason(exc: Exception) -> str:
    message = exc.args[0] if exc.args else b""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    lines = str(message).strip().splitlines()
    reason = lines[0].split(": ", 1)[-1].rstrip(".") if lines else "premature EOF"
    return _PARSER_REASONS.get(reason, reason)
