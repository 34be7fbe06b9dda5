"""Every JSON object in a schema with its JSON path, in document order, data keywords included.

A $ref may point anywhere in a schema (#/const, #/examples/0), so the rules that
must hold wherever jsonschema could look ask about every object, not just the
places a draft calls subschemas.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def objects_in(schema: Any) -> Iterator[tuple[dict[str, Any], str]]:
    pending: list[tuple[Any, str]] = [(schema, "$")]
    while pending:  # no recursion: any depth is safe to walk
        value, path = pending.pop()
        if isinstance(value, dict):
            yield value, path
            pending.extend(reversed([(item, f"{path}.{key}") for key, item in value.items()]))
        elif isinstance(value, list):
            pending.extend(reversed([(item, f"{path}[{index}]") for index, item in enumerate(value)]))
