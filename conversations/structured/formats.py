"""Structured output: a user's `format` checked, a finished reply judged against it, a stored result read back."""

from __future__ import annotations

import json
import logging
from typing import Any

from conversations import json_input
from conversations.structured.errors import Problem, Result, SchemaRejected

logger = logging.getLogger(__name__)

MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 100  # nested objects and lists; jsonschema checks a schema recursively


def check_format(value: Any) -> str | dict[str, Any] | None:
    """A `format` from the user: None, "json", or a valid JSON Schema (Draft 2020-12 or 7)."""
    if value is None or value == "":
        return None
    if value == "json":
        return "json"
    if not isinstance(value, dict):
        raise SchemaRejected('The format must be "json" or a JSON Schema object.')
    if _depth(value) > MAX_SCHEMA_DEPTH:
        raise SchemaRejected(f"The schema is nested too deeply (the limit is {MAX_SCHEMA_DEPTH} levels).")
    if len(json.dumps(value)) > MAX_SCHEMA_BYTES:
        raise SchemaRejected(f"The schema is too large (the limit is {MAX_SCHEMA_BYTES // 1024} KB).")
    from conversations.structured import rules  # jsonschema, loaded when first needed

    rules.check_schema(value)
    return value


def _depth(value: Any) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict | list):
            deepest = max(deepest, depth)
            children = current.values() if isinstance(current, dict) else current
            pending.extend((child, depth + 1) for child in children)
    return deepest


def _schema_problem(message: str) -> Result:
    return {"valid": False, "data": None, "errors": [{"path": "$", "message": message}]}


def evaluate(content: str, format: str | dict[str, Any]) -> Result:
    """Parse a finished reply and validate it against the schema it was asked for.

    Never raises: a schema that cannot be applied is reported as an error of the reply,
    and so is JSON the database could not store (NaN, NUL, 100,000 levels deep).
    """
    try:
        data = json_input.loads(content, what="The reply")
    except json_input.Unacceptable as exc:
        return _schema_problem(exc.message)
    if format == "json":
        return {"valid": True, "data": data, "errors": []}
    try:
        check_format(format)
        from conversations.structured import rules  # jsonschema, loaded when first needed

        errors = rules.problems(format, data)
    except SchemaRejected as exc:
        return {**_schema_problem(f"The schema could not be applied: {exc.message}"), "data": data}
    except Exception:  # jsonschema tripping over an odd schema must not cost the reply its save
        logger.exception("Applying a schema to a reply failed")
        return {**_schema_problem("The schema could not be applied to this reply."), "data": data}
    return {"valid": not errors, "data": data, "errors": errors}


def stored_result(value: Any) -> Result | None:
    """A saved result in the shape the pages expect, or None; whatever the row holds.

    Rows can be written other ways than `evaluate` (the admin, the database by
    hand), so what is read back is not trusted to have the shape it should.
    """
    if not isinstance(value, dict):
        return None
    errors = value.get("errors")
    problems: list[Problem] = [
        {"path": str(error.get("path") or "$"), "message": str(error.get("message") or "")}
        for error in (errors if isinstance(errors, list) else [])
        if isinstance(error, dict)
    ]
    return {"valid": value.get("valid") is True, "data": value.get("data"), "errors": problems}
