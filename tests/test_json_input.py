"""JSON from outside: what the database cannot store is refused up front, with where it is."""

from __future__ import annotations

import io
import json

import pytest

from conversations import json_input, json_stream


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": NaN}', "holds NaN, which is not a number JSON allows"),
        ('{"a": [1, -Infinity]}', "holds -Infinity, which is not a number JSON allows"),
        ('{"a": 1e400}', "holds a number out of range (inf) at $.a."),
        ('{"a": "x\\ud800y"}', "contains a lone surrogate (text that is not valid Unicode) at $.a."),
        ('{"a": ["ok", "\\u0000"]}', "contains a NUL character at $.a[1]."),
        ('{"\\u0000": 1}', "contains a NUL character in a key at $."),
        ("[" * 100_000 + "]" * 100_000, "is nested too deeply"),
        ("[" * 200 + "]" * 200, "is nested too deeply"),
        ('{"a":', "is not valid JSON (it ends too early)."),
        ("", "is not valid JSON (it is empty)."),
        ('{"a": }', "is not valid JSON (a value is missing or is not JSON at line 1, column 7)."),
        ('{"a": 1,}', "is not valid JSON (a key in double quotes is expected at line 1, column 9)."),
        ("[1 2]", "is not valid JSON (a comma is missing at line 1, column 4)."),
        ("{} x", "is not valid JSON (there is more after its end, at line 1, column 4)."),
        ('{"a": "abc}', "is not valid JSON (the text that starts at line 1, column 7 is never closed"),
        ("9" * 5000, "is not valid JSON (a number has too many digits)."),
    ],
)
def test_refused_with_where(raw, expected):
    with pytest.raises(json_input.Unacceptable) as refused:
        json_input.loads(raw, what="The frame")
    assert refused.value.message.startswith("The frame ")
    assert expected in refused.value.message
    assert "char " not in refused.value.message and "Expecting" not in refused.value.message


def test_bytes_that_are_not_utf8():
    with pytest.raises(json_input.Unacceptable, match="not UTF-8"):
        json_input.loads(b'{"a": "\xff"}')


def test_ordinary_json_passes_whole():
    data = {"content": "héllo 😀 \n", "format": {"type": "object", "maximum": 1.5e300}, "n": [1, 2.5, None]}
    assert json_input.loads(__import__("json").dumps(data)) == data


def test_problem_walks_any_depth_without_recursion():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert json_input.problem(deep) == "is nested too deeply (the limit is 128 levels)."
    assert json_input.problem({"ok": [1, "two", {"three": 3.0}]}) is None


# Streaming ---------------------------------------------------------------------


class Trickle(io.BytesIO):
    """A source that gives at most `step` bytes a read, so escapes fall across every boundary."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self.step = step

    def read(self, size: int = -1) -> bytes:
        return super().read(self.step if size < 0 else min(size, self.step))


def pieces(raw: bytes, step: int = 1 << 20) -> list:
    found = json_stream.stream(
        Trickle(raw, step), into=("items",), limit=10**9, describe=lambda path: f"Piece {path}"
    )
    return list(found)


def test_a_stream_is_read_in_pieces_that_equal_the_whole():
    document = {
        "title": "t",
        "items": [{"a": [1, 2.5, None, True]}, "héllo 😀 \\ud800 as text", 3],
        "after": {},
    }
    raw = json.dumps(document).encode()
    expected = [(("title",), "t"), *((("items", n), item) for n, item in enumerate(document["items"]))]
    expected.append((("after",), {}))
    for step in (1, 7, 4096):
        assert pieces(raw, step) == expected


@pytest.mark.parametrize("backslashes", [0, 1, 2, 3, 4, 5])
def test_a_lone_surrogate_is_found_across_every_read_boundary(backslashes):
    """After an even number of backslashes, \\ud800 is an escape; after an odd one, text."""
    for padding in range(0, 16):
        raw = b'{"items": ["' + b"x" * padding + b"\\" * backslashes + b'\\ud800"]}'
        for step in (1, 5, 6, 7, 64 * 1024):
            if backslashes % 2 == 0:
                with pytest.raises(json_input.Unacceptable) as refused:
                    pieces(raw, step)
                assert refused.value.message == (
                    "Piece ('items', 0) contains a lone surrogate (text that is not valid Unicode) at $."
                )
            else:
                text = "x" * padding + "\\" * ((backslashes + 1) // 2) + "ud800"
                assert pieces(raw, step) == [(("items", 0), text)]


def test_a_surrogate_pair_split_by_a_read_is_one_character():
    raw = b'{"items": [' + b", ".join(b'"' + b"x" * n + b'\\ud83d\\ude00"' for n in range(20)) + b"]}"
    for step in (1, 3, 6, 11):
        assert [value for _, value in pieces(raw, step)] == ["x" * n + "😀" for n in range(20)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'{"items": [{"k": "\\ud800\\u0041"}]}',
            "Piece ('items', 0) contains a lone surrogate (text that is not valid Unicode) at $.k.",
        ),
        (
            b'{"items": [1, {"k": [0, "\\udfff"]}]}',
            "Piece ('items', 1) contains a lone surrogate (text that is not valid Unicode) at $.k[1].",
        ),
        (b'{"items": [1, {"k": 1e400}]}', "Piece ('items', 1) holds a number out of range (inf) at $.k."),
        (b'{"items": [1, {"k": "\\u0000"}]}', "Piece ('items', 1) contains a NUL character at $.k."),
        (
            b'{"items": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
            "Piece ('items', 0) is nested too deeply (the limit is 128 levels).",
        ),
        (
            b'{"items": [NaN]}',
            "Piece ('items', 0) is not valid JSON (an unexpected character; NaN and Infinity, for one, are not JSON).",
        ),
        (b'{"items": ["\xff"]}', "Piece ('items', 0) is not valid JSON (text that is not UTF-8)."),
        (b'{"items": [1]', "Piece () is not valid JSON (it ends too early)."),
    ],
)
def test_a_stream_refuses_what_loads_refuses_and_says_where(raw, expected):
    for step in (3, 1 << 20):
        with pytest.raises(json_input.Unacceptable) as refused:
            pieces(raw, step)
        assert refused.value.message == expected


def test_a_stream_reads_no_more_than_its_limit():
    found = json_stream.stream(
        io.BytesIO(b"[" + b" " * 10_000 + b"]"), into=(), limit=5000, describe=lambda p: "It"
    )
    with pytest.raises(json_input.Unacceptable, match="^It is larger than 5,000 bytes.$"):
        list(found)
