"""The page's ES modules: every import resolves to a file, and no module imports itself back."""

from __future__ import annotations

import re
from pathlib import Path

from conversations.templatetags.modules import imports_of

JS = Path(__file__).resolve().parent.parent / "static" / "js"


def imports() -> dict[Path, list[Path]]:
    graph = {}
    for module in sorted(JS.rglob("*.js")):
        found = imports_of(module.read_text(encoding="utf-8"))
        graph[module] = [(module.parent / specifier).resolve() for specifier in found]
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


def test_each_page_preloads_every_module_its_entry_imports(client, alice):
    """The modulepreload links (one request per module, all at once) cover the whole
    import graph, so no module is left to be found one level at a time."""
    client.force_login(alice)
    graph = imports()
    for url, entry in (("/", JS / "chat" / "main.js"), ("/models/", JS / "models" / "main.js")):
        reachable, todo = set(), [entry]
        while todo:
            for target in graph[todo.pop()]:
                if target not in reachable:
                    reachable.add(target)
                    todo.append(target)
        html = client.get(url).content.decode()
        preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/js/([^"]+)">', html))
        assert len(reachable) > 3
        assert preloaded == {str(path.relative_to(JS)) for path in reachable}
