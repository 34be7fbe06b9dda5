"""Helpers the tests share (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any


def error_of(response: Any) -> dict[str, str]:
    """The {"code", "message"} of a JSON error answer (views/http.py gives every one that shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    return body["error"]


def error_message(response: Any) -> str:
    return error_of(response)["message"]
