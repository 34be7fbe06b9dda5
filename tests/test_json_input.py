"""JSON from outside: what the database cannot store is refused up front, with where it is."""

from __future__ import annotations

import pytest

from conversations import json_input


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
        ('{"a":', "is not valid JSON (expecting value at line 1, column 6)."),
        ("9" * 5000, "is not valid JSON (a number has too many digits)."),
    ],
)
def test_refused_with_where(raw, expected):
    with pytest.raises(json_input.Unacceptable) as refused:
        json_input.loads(raw, what="The frame")
    assert refused.value.message.startswith("The frame ")
    assert expected in refused.value.message


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
