"""What structured output reports: a refused schema, and a reply's problems and result."""

from __future__ import annotations

from typing import Any, TypedDict


class SchemaRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Problem(TypedDict):
    path: str
    message: str


class Result(TypedDict):
    valid: bool
    data: Any
    errors: list[Problem]
