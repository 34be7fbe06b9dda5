"""The page's ES modules: every import resolves to a file, and no module imports itself back."""

from __future__ import annotations

import re
from pathlib import Path

JS = Path(__file__).resolve().parent.parent / "static" / "js"
IMPORT = re.compile(
    r"""^\s*(?:import|export)\b[^"';]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']""", re.M
)


def imports() -> dict[Path, list[Path]]:
    graph = {}
    for module in sorted(JS.rglob("*.js")):
        found = IMPORT.findall(module.read_text(encoding="utf-8"))
        graph[module] = [(module.parent / (a or b)).resolve() for a, b in found]
    return graph


def cycle(graph: dict[Path, list[Path]]) -> list[Path]:
    """One import cycle as the list of its modules, or [] when there is none."""
    done: set[Path] = set()
    path: list[Path] = []

    def visit(module: Path) -> list[Path]:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return []
        path.append(module)
        for target in graph.get(module, []):
            if found := visit(target):
                return found
        path.pop()
        done.add(module)
        return []

    for module in graph:
        if found := visit(module):
            return found
    return []


def test_every_import_names_a_module():
    graph = imports()
    missing = [
        f"{m.relative_to(JS)} -> {t}" for m, targets in graph.items() for t in targets if t not in graph
    ]
    assert graph and not missing


NAMED_IMPORT = re.compile(r"""^import \{([^}]*)\} from "([^"]+)";""", re.M)
EXPORT = re.compile(r"^export (?:async )?(?:function|class|const|let) (\w+)", re.M)


def test_every_imported_name_is_exported():
    unknown = []
    for module in sorted(JS.rglob("*.js")):
        for names, target in NAMED_IMPORT.findall(module.read_text(encoding="utf-8")):
            path = (module.parent / target).resolve()
            exported = set(EXPORT.findall(path.read_text(encoding="utf-8"))) if path.exists() else set()
            unknown += [
                f"{module.relative_to(JS)}: {name.strip()}"
                for name in names.split(",")
                if name.strip() not in exported
            ]
    assert not unknown


def test_modules_import_no_cycle():
    found = cycle(imports())
    assert not found, " -> ".join(str(m.relative_to(JS)) for m in found)


def test_modules_live_in_their_page_or_lib():
    assert not list(JS.glob("*.js"))
    assert {p.name for p in JS.iterdir() if p.is_dir()} == {"lib", "chat", "models"}
