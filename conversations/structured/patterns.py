"""Patterns in users' JSON Schemas, run by RE2 within limits: checked with the schema, then matched.

Python's re backtracks: `^(a+)+$` against 28 a's and a "!" holds the GIL for
seconds, twice as long with each more a. RE2 never backtracks, but its work still grows with the text's
length times the size of the compiled pattern (its NFA, used when the faster DFA
runs out of memory), and compiling holds the GIL. So a schema's patterns are
limited in number, length and compiled size, and a check matches only so much
text against them; past a limit the reply is reported, never matched.
See https://github.com/google/re2/wiki/Syntax for what RE2 accepts.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import re2

from conversations.structured.errors import SchemaRejected
from conversations.structured.walk import objects_in

MAX_PATTERN_CHARS = 1_000
MAX_PATTERNS = 200
# Memory RE2 may use for one pattern (its program and DFA cache); a pattern whose
# program does not fit is refused. re2 keeps its last 128 compiled patterns.
MAX_PATTERN_MEMORY = 2 << 20
# Compiling costs about a microsecond per instruction of RE2's program.
MAX_COMPILED_SIZE = 100_000
# A string longer than this is reported instead of matched.
MAX_MATCHED_CHARS = 1_000_000
# One check's matching, counted as characters times program size: about a second
# of RE2's slowest matching (measured at about 3 ns per unit).
MAX_MATCH_WORK = 300_000_000

UNSUPPORTED = (
    "Patterns use RE2 syntax (https://github.com/google/re2/wiki/Syntax), which has no lookahead "
    "or lookbehind ((?=…), (?!…), (?<=…), (?<!…)), no backreferences (\\1, \\k<name>), "
    "and no possessive quantifiers or atomic groups."
)
TOO_LARGE = (
    "RE2 writes out counted repetitions in full, so a large class repeated many times, such as "
    "[\\p{L} ]{1,200}, is too large; use + or * with minLength and maxLength instead."
)


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_PATTERN_MEMORY
    options.never_capture = True  # only whether it matches is asked
    options.log_errors = False  # a refused pattern is the user's to hear about, not the log's
    return options


OPTIONS = _options()


class Unmatchable(Exception):
    """A text that is not matched against a pattern; `message` says why, as a sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def shown(text: str, *, limit: int = 60) -> str:
    """`text` quoted as in a message, cut short if long."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}… ({len(text):,} characters)"


def compile_pattern(pattern: str) -> Any:
    """RE2's compiled `pattern`; SchemaRejected, saying why, when RE2 cannot run it within the limits."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise SchemaRejected(f"it is {len(pattern):,} characters long (the limit is {MAX_PATTERN_CHARS:,}).")
    try:
        return re2.compile(pattern, options=OPTIONS)
    except UnicodeEncodeError:
        raise SchemaRejected("it contains a lone surrogate (text that is not valid Unicode).") from None
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if isinstance(exc.args[0], bytes) else str(exc)
    if reason.startswith("pattern too large"):
        raise SchemaRejected(f"it is too large for RE2. {TOO_LARGE}")
    raise SchemaRejected(f"{reason}. {UNSUPPORTED}")


def find_patterns(schema: Any) -> Iterator[tuple[str, str]]:
    """Each pattern in `schema` with the JSON path that holds it, in document order.

    Every "pattern" string and every key of a "patternProperties" object counts,
    wherever it is: a $ref may point anywhere in the schema.
    """
    for value, path in objects_in(schema):
        if isinstance(value.get("pattern"), str):
            yield value["pattern"], f"{path}.pattern"
        if isinstance(value.get("patternProperties"), dict):
            yield from ((key, f"{path}.patternProperties") for key in value["patternProperties"])


def check_patterns(schema: Any) -> None:
    """SchemaRejected unless every pattern in `schema` is RE2 and all of them stay within the limits."""
    found = list(find_patterns(schema))
    if len(found) > MAX_PATTERNS:
        raise SchemaRejected(
            f"The schema holds {len(found):,} patterns (pattern and patternProperties keys); "
            f"the limit is {MAX_PATTERNS}."
        )
    size = 0
    for pattern, path in found:
        try:
            size += compile_pattern(pattern).programsize
        except SchemaRejected as exc:
            raise SchemaRejected(
                f"The pattern {shown(pattern)} at {path} cannot be used: {exc.message}"
            ) from None
        if size > MAX_COMPILED_SIZE:
            raise SchemaRejected(
                f"The schema's patterns are too large together for RE2 (at {path}, they pass "
                f"{MAX_COMPILED_SIZE:,} instructions). {TOO_LARGE}"
            )


def is_pattern(value: object) -> bool:
    """The "regex" format, for the schema check: RE2 compiles it (anything else passes, as in jsonschema)."""
    if isinstance(value, str):
        compile_pattern(value)
    return True


class _Check:
    """One check's compiled patterns and how much matching it may still do."""

    def __init__(self) -> None:
        self.compiled: dict[str, Any] = {}
        self.work_left = MAX_MATCH_WORK


_check: contextvars.ContextVar[_Check] = contextvars.ContextVar("pattern_check")


@contextmanager
def one_check() -> Iterator[None]:
    """Within it, each pattern is compiled once and all matching shares one MAX_MATCH_WORK."""
    token = _check.set(_Check())
    try:
        yield
    finally:
        _check.reset(token)


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches somewhere in `text` (as jsonschema's re.search would).

    Unmatchable when `text` is not matched; SchemaRejected when the pattern cannot
    be compiled, or the check has done all the matching it may.
    """
    if len(text) > MAX_MATCHED_CHARS:
        raise Unmatchable(
            f"{shown(text)} is too long to be checked against the pattern {shown(pattern)} "
            f"(the limit is {MAX_MATCHED_CHARS:,} characters)."
        )
    check = _check.get(None) or _Check()
    regexp = check.compiled.get(pattern)
    if regexp is None:
        try:
            regexp = check.compiled[pattern] = compile_pattern(pattern)
        except SchemaRejected as exc:
            raise SchemaRejected(f"The pattern {shown(pattern)} cannot be used: {exc.message}") from None
    check.work_left -= max(len(text), 1) * regexp.programsize
    if check.work_left < 0:
        raise SchemaRejected(
            "The reply holds too much text for the schema's patterns to check (the limit is "
            f"{MAX_MATCH_WORK:,} for the text's length times the compiled size of each pattern). "
            "Use fewer or simpler patterns, or ask for a shorter reply."
        )
    try:
        return regexp.search(text) is not None
    except UnicodeEncodeError:
        raise Unmatchable(
            f"{shown(text)} contains a lone surrogate (text that is not valid Unicode), "
            f"so it cannot be checked against the pattern {shown(pattern)}."
        ) from None
