"""JSON Schema rules, through the jsonschema package: checking a schema, and validating data against it.

formats.py imports this module when a schema is first used: jsonschema and
its registries take about 10 MB that a worker whose users never ask for
structured output need not hold.

Data is validated by each draft's rules with the keywords that match users'
patterns run by RE2 (keywords.py). jsonschema switches to its own class
for a draft, with Python's re, whenever it enters an object that declares
$schema; so a $schema below the top is refused, the top one is set aside once it
has chosen the draft, and references reach only the user's schema, never the
drafts' meta-schemas (which declare one).
"""

from __future__ import annotations

from typing import Any

import referencing.jsonschema
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, UnknownType
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for
from referencing import Registry
from referencing.exceptions import Unresolvable

from conversations.structured import keywords, patterns
from conversations.structured.errors import Problem, SchemaRejected
from conversations.structured.walk import objects_in

SPECIFICATIONS = {
    Draft7Validator: referencing.jsonschema.DRAFT7,
    Draft202012Validator: referencing.jsonschema.DRAFT202012,
}
_RE2_KEYWORDS = {
    "pattern": keywords.pattern,
    "patternProperties": keywords.patternProperties,
    "additionalProperties": keywords.additionalProperties,
}
WITH_RE2 = {
    Draft7Validator: extend(Draft7Validator, _RE2_KEYWORDS),
    Draft202012Validator: extend(
        Draft202012Validator,
        {**_RE2_KEYWORDS, "unevaluatedProperties": keywords.unevaluatedProperties},
    ),
}


def _schema_formats(draft: type) -> FormatChecker:
    """The draft's format checks for a schema, with "regex" compiled by RE2 rather than Python's re."""
    checker = FormatChecker(formats=())
    checker.checkers = {**draft.FORMAT_CHECKER.checkers}
    checker.checks("regex", raises=SchemaRejected)(patterns.is_pattern)
    return checker


SCHEMA_FORMATS = {draft: _schema_formats(draft) for draft in SPECIFICATIONS}


def check_schema(schema: dict[str, Any]) -> None:
    """Raise SchemaRejected unless `schema` is a valid Draft 2020-12 or Draft 7 schema whose $refs resolve
    inside it, with $schema only at the top, and patterns RE2 can run within the limits."""
    validator = _validator_class(schema)
    _check_one_dialect(schema)
    patterns.check_patterns(schema)
    try:
        validator.check_schema(schema, format_checker=SCHEMA_FORMATS[validator])
    except SchemaError as exc:
        raise SchemaRejected(f"The schema is not valid at {exc.json_path}: {exc.message}") from None
    _check_references(validator, schema)


def problems(schema: dict[str, Any], data: Any) -> list[Problem]:
    """Where `data` breaks a checked `schema`, by JSON path; if it cannot be applied, SchemaRejected."""
    try:
        validator = _validator(schema)
        with patterns.one_check():
            return [
                {"path": error.json_path, "message": error.message}
                for error in sorted(validator.iter_errors(data), key=lambda error: list(map(str, error.path)))
            ]
    except (SchemaError, UnknownType, Unresolvable, RecursionError) as exc:
        raise SchemaRejected(str(exc)) from None


def _validator(schema: dict[str, Any]) -> Validator:
    draft = _validator_class(schema)
    contents = {key: value for key, value in schema.items() if key != "$schema"}
    # jsonschema offers no public way to leave the meta-schemas out of a registry;
    # _resolver is what its own evolve() passes.
    resolver = Registry().resolver_with_root(SPECIFICATIONS[draft].create_resource(contents))
    return WITH_RE2[draft](contents, _resolver=resolver)


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


def _check_one_dialect(schema: dict[str, Any]) -> None:
    for value, path in objects_in(schema):
        if path != "$" and isinstance(value.get("$schema"), str):
            raise SchemaRejected(
                f"$schema is allowed only at the top of the schema, not at {path}.$schema: "
                "one schema follows one draft."
            )


def _check_references(validator: type, schema: dict[str, Any]) -> None:
    """Every $ref must point inside the schema."""
    resource = SPECIFICATIONS[validator].create_resource(schema)
    pending = [(Registry().resolver_with_root(resource), resource)]
    while pending:
        resolver, current = pending.pop()
        contents = current.contents if isinstance(current.contents, dict) else {}
        for keyword in ("$ref", "$dynamicRef"):
            reference = contents.get(keyword)
            if isinstance(reference, str):
                try:
                    resolver.lookup(reference)
                except Unresolvable:
                    raise SchemaRejected(
                        f"The schema refers to {reference!r}, which it does not define. "
                        "A $ref must point inside the schema, e.g. #/$defs/name."
                    ) from None
        pending.extend((resolver.in_subresource(sub), sub) for sub in current.subresources())
