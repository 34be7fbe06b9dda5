"""A page's entry module with a modulepreload link for every module it imports.

Without the links the browser finds the imports one level at a time: the entry
module, then what it imports, then what those import, a round trip per level.
With them it asks for every module at once while it parses the page.
"""

import re
from functools import lru_cache
from posixpath import dirname, join, normpath

from django import template
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join

register = template.Library()

# Static imports and re-exports; a dynamic import() loads on demand and is not preloaded.
IMPORT = re.compile(
    r"""^\s*(?:import|export)\b[^"';]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']""", re.M
)


# import("./x.js") with a literal path: a module loaded on first use.
DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*["']([^"']+)["']\s*\)""")


def imports_of(source: str) -> list[str]:
    """The specifiers a module's source imports statically, in order."""
    return [a or b for a, b in IMPORT.findall(source)]


def dynamic_imports_of(source: str) -> list[str]:
    """The specifiers a module's source loads with import(), in order: not preloaded."""
    return DYNAMIC_IMPORT.findall(source)


@lru_cache
def module_closure(entry: str) -> tuple[str, ...]:
    """Every static path `entry` imports, directly or not, in the order first met.
    Read once per process: the files only change with a deployment."""
    found: list[str] = []
    todo = [entry]
    while todo:
        path = todo.pop(0)
        file = finders.find(path)
        if file is None:
            continue
        with open(file, encoding="utf-8") as source:
            specifiers = imports_of(source.read())
        for specifier in specifiers:
            target = normpath(join(dirname(path), specifier))
            if target != entry and target not in found:
                found.append(target)
                todo.append(target)
    return tuple(found)


@register.simple_tag
def module_script(entry: str) -> str:
    preloads = format_html_join(
        "\n", '<link rel="modulepreload" href="{}">', ((static(path),) for path in module_closure(entry))
    )
    return format_html('<script type="module" src="{}"></script>\n{}', static(entry), preloads)
