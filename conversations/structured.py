"""Structured output: checking a user's JSON Schema, and judging a reply against it."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

MAX_SCHEMA_BYTES = 64 * 1024
DRAFTS = {Draft7Validator, Draft202012Validator}


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


def check_format(value: Any) -> str | dict[str, Any] | None:
    """A `format` from the user: None, "json", or a valid JSON Schema (Draft 2020-12 or 7)."""
    if value is None or value == "":
        return None
    if value == "json":
        return "json"
    if not isinstance(value, dict):
        raise SchemaRejected('The format must be "json" or a JSON Schema object.')
    if len(json.dumps(value)) > MAX_SCHEMA_BYTES:
        raise SchemaRejected(f"The schema is too large (the limit is {MAX_SCHEMA_BYTES // 1024} KB).")
    validator = _validator_class(value)
    try:
        validator.check_schema(value)
    except SchemaError as exc:
        raise SchemaRejected(f"The schema is not valid at {exc.json_path}: {exc.message}") from None
    return value


def _validator_class(schema: dict[str, Any]) -> type:
    validator = validator_for(schema, default=Draft202012Validator)
    if validator not in DRAFTS:
        raise SchemaRejected(
            "Only JSON Schema Draft 2020-12 and Draft 7 are supported; "
            f"this schema declares {schema.get('$schema')!r}."
        )
    return validator


def evaluate(content: str, format: str | dict[str, Any]) -> Result:
    """Parse a finished reply and validate it against the schema it was asked for."""
    try:
        data = json.loads(content)
    except ValueError as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
        return {"valid": False, "data": None, "errors": [{"path": "$", "message": f"Not valid JSON: {exc.msg}{where}."}]}  # fmt: skip
    if format == "json":
        return {"valid": True, "data": data, "errors": []}
    validator = _validator_class(format)(format)
    errors: list[Problem] = [
        {"path": error.json_path, "message": error.message}
        for error in sorted(validator.iter_errors(data), key=lambda error: list(map(str, error.path)))
    ]
    return {"valid": not errors, "data": data, "errors": errors}
