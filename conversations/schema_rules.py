"""JSON Schema rules, through the jsonschema package: checking a schema, and validating data against it.

structured.py imports this module when a schema is first used: jsonschema and
its registries take about 10 MB that a worker whose users never ask for
structured output need not hold.
"""

from __future__ import annotations

from typing import Any

import referencing.jsonschema
from jsonschema import Draft7Validator, Draft202012Validator
from jsonschema.exceptions import SchemaError, UnknownType
from jsonschema.validators import validator_for
from jsonschema_specifications import REGISTRY as META_SCHEMAS
from referencing import Registry
from referencing.exceptions import Unresolvable

from conversations.structured import Problem, SchemaRejected

SPECIFICATIONS = {
    Draft7Validator: referencing.jsonschema.DRAFT7,
    Draft202012Validator: referencing.jsonschema.DRAFT202012,
}
# No `retrieve`: a $ref to another address is unresolvable rather than fetched by the
# server. jsonschema adds the drafts' meta-schemas (META_SCHEMAS) to it.
LOCAL_ONLY = Registry()


def check_schema(schema: dict[str, Any]) -> None:
    """Raise SchemaRejected unless `schema` is a valid Draft 2020-12 or Draft 7 schema whose $refs resolve."""
    validator = _validator_class(schema)
    try:
        validator.check_schema(schema)
    except SchemaError as exc:
        raise SchemaRejected(f"The schema is not valid at {exc.json_path}: {exc.message}") from None
    _check_references(validator, schema)


def problems(schema: dict[str, Any], data: Any) -> list[Problem]:
    """Where `data` breaks a checked `schema`, by JSON path; if it cannot be applied, SchemaRejected."""
    try:
        validator = _validator_class(schema)(schema, registry=LOCAL_ONLY)
        return [
            {"path": error.json_path, "message": error.message}
            for error in sorted(validator.iter_errors(data), key=lambda error: list(map(str, error.path)))
        ]
    except (SchemaError, UnknownType, Unresolvable, RecursionError) as exc:
        raise SchemaRejected(str(exc)) from None


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
