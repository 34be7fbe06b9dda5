"""A read-only HTML form showing JSON data the way its JSON Schema describes it."""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from conversations.structured.formats import stored_result

MISSING = object()
LONG_TEXT = 80
MAX_DEPTH = 20  # nested fieldsets; deeper values (a recursive $ref, say) are shown as raw JSON


def result_form(format: Any, stored: Any, *, id_prefix: str) -> str:
    """The form of a structured reply's data, from its `format` and stored result; "" when there is none."""
    result = stored_result(stored)
    if not result or result["data"] is None or not isinstance(format, dict):
        return ""
    return render_form(format, result["data"], id_prefix=id_prefix)


def render_form(schema: Any, data: Any, *, id_prefix: str) -> SafeString:
    """Render `data` as labelled, read-only fields following `schema`.

    Anything the renderer does not understand (unknown keywords, values that do
    not match their declared type) is shown as raw JSON rather than dropped.
    """
    schema = schema if isinstance(schema, dict) else {}
    return _Form(schema, id_prefix).node(schema, data, name="", path="", required=False, depth=0)


def _label(name: str) -> str:
    words = re.sub(r"[_\-]+", " ", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)).strip()
    return words[:1].upper() + words[1:] if words else "Value"


def _type_of(schema: dict[str, Any]) -> str | None:
    # A list of allowed values is a choice whatever type is declared beside it.
    if isinstance(schema.get("enum"), list) or "const" in schema:
        return "enum"
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((item for item in declared if item != "null"), None)
    if isinstance(declared, str):
        return declared
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return None


def _same(choice: Any, value: Any) -> bool:
    """Equal as JSON values: in JSON, true is not 1."""
    return choice == value and isinstance(choice, bool) == isinstance(value, bool)


def _raw(value: Any) -> SafeString:
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    except RecursionError:  # a reply may nest deeper than the encoder follows
        text = "(nested too deeply to show)"
    return format_html('<pre class="sf-raw">{}</pre>', text)


class _Form:
    def __init__(self, root: dict[str, Any], id_prefix: str) -> None:
        self.root = root
        self.id_prefix = id_prefix

    def resolve(self, schema: Any) -> dict[str, Any]:
        """Follow a local $ref (#/$defs/… or #/definitions/…)."""
        for _ in range(10):
            if not isinstance(schema, dict) or "$ref" not in schema:
                break
            reference = schema["$ref"]
            if not isinstance(reference, str) or not reference.startswith("#"):
                return {}
            target: Any = self.root
            for part in filter(None, reference[1:].split("/")):
                target = (
                    target.get(part.replace("~1", "/").replace("~0", "~"))
                    if isinstance(target, dict)
                    else None
                )
            schema = target
        return schema if isinstance(schema, dict) else {}

    def field_id(self, path: str) -> str:
        return f"{self.id_prefix}-{re.sub(r'[^A-Za-z0-9_-]', '-', path) or 'root'}"

    def node(
        self, schema: Any, value: Any, *, name: str, path: str, required: bool, depth: int
    ) -> SafeString:
        schema = self.resolve(schema)
        kind = _type_of(schema)
        label = str(schema.get("title") or _label(name))
        if depth >= MAX_DEPTH:
            kind = None
        if kind == "object" and isinstance(value, dict):
            return self.object(schema, value, label=label, path=path, top=not path, depth=depth)
        if kind == "array" and isinstance(value, list):
            return self.array(schema, value, label=label, path=path, depth=depth)
        return self.field(schema, value, kind=kind, label=label, path=path, required=required)

    def object(
        self, schema: dict[str, Any], value: dict[str, Any], *, label: str, path: str, top: bool, depth: int
    ) -> SafeString:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = set(schema.get("required") or [])
        children = [
            self.node(
                sub,
                value.get(key, MISSING),
                name=key,
                path=f"{path}.{key}",
                required=key in required,
                depth=depth + 1,
            )
            for key, sub in properties.items()
        ]
        extra = {key: item for key, item in value.items() if key not in properties}
        if extra:
            children.append(format_html('<div class="sf-extra"><p>Other values</p>{}</div>', _raw(extra)))
        body = mark_safe("".join(children))
        if top:
            return format_html('<div class="sf-form">{}{}</div>', self.help(schema), body)
        return format_html(
            '<fieldset class="sf-object"><legend>{}</legend>{}{}</fieldset>', label, self.help(schema), body
        )

    def array(
        self, schema: dict[str, Any], value: list[Any], *, label: str, path: str, depth: int
    ) -> SafeString:
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        rows = format_html_join(
            "",
            "<li>{}</li>",
            (
                (
                    self.node(
                        items,
                        item,
                        name=f"{label} #{index + 1}",
                        path=f"{path}[{index}]",
                        required=False,
                        depth=depth + 1,
                    ),
                )
                for index, item in enumerate(value)
            ),
        )
        listing = (
            format_html('<ol class="sf-rows">{}</ol>', rows)
            if value
            else format_html('<p class="sf-empty">{}</p>', "None")
        )
        return format_html(
            '<fieldset class="sf-array"><legend>{} <span class="sf-count">({})</span></legend>{}{}</fieldset>',
            label,
            len(value),
            self.help(schema),
            listing,
        )

    def field(
        self, schema: dict[str, Any], value: Any, *, kind: str | None, label: str, path: str, required: bool
    ) -> SafeString:
        field_id = self.field_id(path)
        mark = mark_safe(' <span class="sf-required" title="required">*</span>') if required else ""
        head = format_html('<label for="{}">{}{}</label>', field_id, label, mark)
        if value is MISSING:
            control = format_html('<output id="{}" class="sf-missing">{}</output>', field_id, "Not provided")
        else:
            control = self.control(schema, value, kind=kind, field_id=field_id)
        return format_html('<div class="sf-field">{}{}{}</div>', head, control, self.help(schema))

    def control(self, schema: dict[str, Any], value: Any, *, kind: str | None, field_id: str) -> SafeString:
        choices = schema["enum"] if isinstance(schema.get("enum"), list) else [schema.get("const")]
        if kind == "enum" and any(_same(choice, value) for choice in choices):
            options = format_html_join(
                "",
                "<option{}>{}</option>",
                (
                    (
                        " selected" if _same(choice, value) else "",
                        choice if isinstance(choice, str) else json.dumps(choice, ensure_ascii=False),
                    )
                    for choice in choices
                ),
            )
            return format_html('<select id="{}" disabled>{}</select>', field_id, options)
        if kind == "boolean" and isinstance(value, bool):
            checked = " checked" if value else ""
            return format_html('<input type="checkbox" id="{}" disabled{}>', field_id, mark_safe(checked))
        if kind in ("number", "integer") and isinstance(value, int | float) and not isinstance(value, bool):
            return format_html('<input type="number" id="{}" value="{}" readonly>', field_id, value)
        if kind == "string" and isinstance(value, str):
            if len(value) > LONG_TEXT or "\n" in value:
                return format_html('<textarea id="{}" rows="3" readonly>{}</textarea>', field_id, value)
            return format_html('<input type="text" id="{}" value="{}" readonly>', field_id, value)
        # Unknown keywords, or a value that does not match its type: show it as it is.
        return format_html('<output id="{}" class="sf-raw-value">{}</output>', field_id, _raw(value))

    def help(self, schema: dict[str, Any]) -> SafeString:
        description = schema.get("description")
        return (
            format_html('<p class="sf-help">{}</p>', description)
            if isinstance(description, str) and description
            else mark_safe("")
        )
