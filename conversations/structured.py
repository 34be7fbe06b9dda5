"""Structured output: checking a user's JSON Schema, and judging a reply against it."""

from __future__ import annotations

import json
from typing import Any, TypedDict

import referencing.jsonschema
from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.exceptions import SchemaError, UnknownType
from jsonschema.validators import validator_for
from jsonschema_specifications import REGISTRY as META_SCHEMAS
from referencing import Registry
from referencing.exceptions import Unresolvable

MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 100  # nested objects and lists; jsonschema checks a schema recursively
SPECIFICATIONS = {
    Draft7Validator: referencing.jsonschema.DRAFT7,
    Draft202012Validator: referencing.jsonschema.DRAFT202012,
}
# No `retrieve`: a $ref to another address is unresolvable rather than fetched by the
# server. jsonschema adds the drafts' meta-schemas (META_SCHEMAS) to it.
LOCAL_ONLY = Registry()


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
    if _depth(value) > MAX_SCHEMA_DEPTH:
        raise SchemaRejected(f"The schema is nested too deeply (the limit is {MAX_SCHEMA_DEPTH} levels).")
    if len(json.dumps(value)) > MAX_SCHEMA_BYTES:
        raise SchemaRejected(f"The schema is too large (the limit is {MAX_SCHEMA_BYTES // 1024} KB).")
    validator = _validator_class(value)
    try:
        validator.check_schema(value)
    except SchemaError as exc:
        raise SchemaRejected(f"The schema is not valid at {exc.json_path}: {exc.message}") from None
    _check_references(validator, value)
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


def _validator_class(schema: dict[str, Any]) -> type:
    if "$schema" not in schema:
        return Draft202012Validator
    declared = schema["$schema"]
    # An unknown $schema would otherwise be read as the latest draft without a word.
    validator = validator_for(schema, default=None) if isinstance(declared, str) else None
    if validator not in SPECIFICATIONS:
        raise SchemaRejected(
            "Only JSON Schema Draft 2020-12 and Draft 7 are supported; "
            f"this schema declares {declared!r}. Use "
            '"https://json-schema.org/draft/2020-12/schema" or "http://json-schema.org/draft-07/schema#", '
            "or leave $schema out."
        )
    return validator


def _check_references(validator: type, schema: dict[str, Any]) -> None:
    """Every $ref must point inside the schema (or at a draft's meta-schema)."""
    resource = SPECIFICATIONS[validator].create_resource(schema)
    pending = [(META_SCHEMAS.resolver_with_root(resource), resource)]
    while pending:
        resolver, current = pending.pop()
        reference = current.contents.get("$ref") if isinstance(current.contents, dict) else None
        if isinstance(reference, str):
            try:
                resolver.lookup(reference)
            except Unresolvable:
                raise SchemaRejected(
                    f"The schema refers to {reference!r}, which it does not define. "
                    "A $ref must point inside the schema, e.g. #/$defs/name."
                ) from None
        pending.extend((resolver.in_subresource(sub), sub) for sub in current.subresources())


def _schema_problem(message: str) -> Result:
    return {"valid": False, "data": None, "errors": [{"path": "$", "message": message}]}


def evaluate(content: str, format: str | dict[str, Any]) -> Result:
    """Parse a finished reply and validate it against the schema it was asked for.

    Never raises: a schema that cannot be applied is reported as an error of the reply.
    """
    try:
        data = json.loads(content)
    except ValueError as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
        return _schema_problem(f"Not valid JSON: {exc.msg}{where}.")
    if format == "json":
        return {"valid": True, "data": data, "errors": []}
    try:
        check_format(format)
        validator = _validator_class(format)(format, registry=LOCAL_ONLY)
        errors: list[Problem] = [
            {"path": error.json_path, "message": error.message}
            for error in sorted(validator.iter_errors(data), key=lambda error: list(map(str, error.path)))
        ]
    except SchemaRejected as exc:
        return {**_schema_problem(f"The schema could not be applied: {exc.message}"), "data": data}
    except (SchemaError, UnknownType, Unresolvable, RecursionError) as exc:
        return {**_schema_problem(f"The schema could not be applied: {exc}"), "data": data}
    return {"valid": not errors, "data": data, "errors": errors}
