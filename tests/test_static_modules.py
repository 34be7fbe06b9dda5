"""The page's ES modules: every import resolves to a file, and no module imports itself back;
a module loaded on first use (import()) exists, has the names taken from it and is not preloaded."""

from __future__ import annotations

import re
from pathlib import Path

from conversations.templatetags.modules import dynamic_imports_of, imports_of

JS = Path(__file__).resolve().parent.parent / "static" / "js"


def imports() -> dict[Path, list[Path]]:
    graph = {}
    for module in sorted(JS.rglob("*.js")):
        found = imports_of(module.read_text(encoding="utf-8"))
        graph[module] = [(module.parent / specifier).resolve() for specifier in found]
    return graph


def dynamic_imports() -> dict[Path, list[Path]]:
    """Each module's import() targets: loaded on first use, not with the page."""
    return {
        module: [
            (module.parent / specifier).resolve()
            for specifier in dynamic_imports_of(module.read_text(encoding="utf-8"))
        ]
        for module in sorted(JS.rglob("*.js"))
    }


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


def test_every_dynamic_import_names_a_file():
    graph = dynamic_imports()
    missing = [
        f"{m.relative_to(JS)} -> {t}" for m, targets in graph.items() for t in targets if not t.is_file()
    ]
    assert any(graph.values()) and not missing


# const settingsModule = lazy(() => import("./settings.js")); then settingsModule(({ SettingsDialog }) => ...)
LAZY = re.compile(r"""^const (\w+) = lazy\(\(\) => import\("([^"]+)"\)\);""", re.M)


def test_every_name_taken_from_a_lazy_module_is_exported():
    unknown, unused = [], []
    for module in sorted(JS.rglob("*.js")):
        source = module.read_text(encoding="utf-8")
        for loader, target in LAZY.findall(source):
            path = (module.parent / target).resolve()
            exported = set(EXPORT.findall(path.read_text(encoding="utf-8"))) if path.exists() else set()
            taken = re.findall(rf"\b{loader}\(\(\{{([^}}]*)\}}\)", source)
            if not taken:
                unused.append(f"{module.relative_to(JS)}: {loader}")
            unknown += [
                f"{module.relative_to(JS)}: {name.strip()} from {target}"
                for names in taken
                for name in names.split(",")
                if name.strip() not in exported
            ]
    assert not unknown
    assert not unused


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


def test_lazy_modules_are_not_preloaded(client, alice):
    """A module the chat page loads with import() only (not also statically) is left out
    of its modulepreload links, as are the modules only it imports."""
    client.force_login(alice)
    static, dynamic = imports(), dynamic_imports()
    eager, todo = set(), [JS / "chat" / "main.js"]
    while todo:
        for target in static[todo.pop()]:
            if target not in eager:
                eager.add(target)
                todo.append(target)
    lazy = {t for m in eager | {JS / "chat" / "main.js"} for t in dynamic[m] if t.is_relative_to(JS)} - eager
    html = client.get("/").content.decode()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/js/([^"]+)">', html))
    assert {"chat/settings.js", "chat/sidebar-actions.js", "lib/menu.js"} <= {
        str(p.relative_to(JS)) for p in lazy
    }
    assert not preloaded & {str(p.relative_to(JS)) for p in lazy}
    assert "chat/settings.js" not in preloaded


def test_chat_page_links_at_most_three_stylesheets(client, alice):
    client.force_login(alice)
    html = client.get("/").content.decode()
    sheets = re.findall(r'<link rel="stylesheet" href="/static/css/([^"]+)">', html)
    assert len(sheets) <= 3
    assert sheets[0] == "app.css" and "chat.css" in sheets
