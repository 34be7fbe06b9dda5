"""jsonschema's keywords that match users' patterns, with RE2 (patterns.search) instead of re.

They mirror jsonschema 4.26's `_keywords.py` and `_utils.py`: `pattern`,
`patternProperties`, and `additionalProperties` and `unevaluatedProperties`,
which ask which keys `patternProperties` covers. A key that cannot be matched
counts as covered by no pattern.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from conversations.structured.patterns import Unmatchable, search, shown

_JUDGE_UNEVALUATED = Draft202012Validator.VALIDATORS["unevaluatedProperties"]


def pattern(
    validator: Validator, expression: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = search(expression, instance)
    except Unmatchable as exc:
        yield ValidationError(exc.message)
        return
    if not matched:
        yield ValidationError(f"{shown(instance)} does not match {expression!r}")


def patternProperties(
    validator: Validator, patterns: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for each, subschema in patterns.items():
        for key, value in instance.items():
            try:
                matched = search(each, key)
            except Unmatchable as exc:
                yield ValidationError(f"The key {exc.message}")
                continue
            if matched:
                yield from validator.descend(value, subschema, path=key, schema_path=each)


def additionalProperties(
    validator: Validator, additional: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    extras = set(_additional_keys(instance, schema))
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        listed = ", ".join(shown(each) for each in sorted(extras))
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            patterns = ", ".join(shown(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{listed} {verb} not match any of the regexes: {patterns}")
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(f"Additional properties are not allowed ({listed} {verb} unexpected)")


def unevaluatedProperties(
    validator: Validator, unevaluated: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    evaluated = set(_evaluated_keys(validator, instance, schema))
    # jsonschema's own keyword, shown only the keys it has left to judge.
    rest = {key: value for key, value in instance.items() if key not in evaluated}
    yield from _JUDGE_UNEVALUATED(validator, unevaluated, rest, {})


def _matches_any(patterns: Any, key: str) -> bool:
    for each in patterns:
        try:
            if search(each, key):
                return True
        except Unmatchable:
            continue
    return False


def _additional_keys(instance: dict[str, Any], schema: dict[str, Any]) -> Iterator[str]:
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    for key in instance:
        if key not in properties and not _matches_any(patterns, key):
            yield key


def _is_valid(errors: Iterator[ValidationError]) -> bool:
    return next(errors, None) is None


def _evaluated_keys(validator: Validator, instance: dict[str, Any], schema: Any) -> list[str]:
    """The keys of `instance` some keyword of `schema` evaluates (jsonschema's
    find_evaluated_property_keys_by_schema, with RE2 for patternProperties)."""
    if validator.is_type(schema, "boolean"):
        return []
    keys: list[str] = []
    for reference in ("$ref", "$dynamicRef"):
        if schema.get(reference) is not None:
            resolved = validator._resolver.lookup(schema[reference])  # as jsonschema's own helper does
            target = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
            keys += _evaluated_keys(target, instance, resolved.contents)
    properties = schema.get("properties")
    if validator.is_type(properties, "object"):
        keys += properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if (subschema := schema.get(keyword)) is not None:
            keys += (key for key, value in instance.items() if _is_valid(validator.descend(value, subschema)))
    if "patternProperties" in schema:
        keys += (key for key in instance if _matches_any(schema["patternProperties"], key))
    for key, subschema in schema.get("dependentSchemas", {}).items():
        if key in instance:
            keys += _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if _is_valid(validator.descend(instance, subschema)):
                keys += _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys += _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys += _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys += _evaluated_keys(validator, instance, schema["else"])
    return keys
