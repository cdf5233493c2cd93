"""The house rules of DESIGN.md, checked on the source tree: no import cycle, no reaching into another
module's underscore names, the domain free of Reflex, pages calling facades only, modules of one job."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
APP = ROOT / "portal_app"
MAX_LINES = 450


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in APP.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: pathlib.Path):
    """(node, imported module, imported names, at top level?) for every portal_app import."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("portal_app"):
                    yield node, alias.name, [], id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("portal_app"):
            yield node, node.module, [a.name for a in node.names], id(node) in top


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        for _node, module, names, _top in _imports(path):
            targets = {_resolve(f"{module}.{n}") for n in names} if names else {_resolve(module)}
            graph.setdefault(name, set()).update(t for t in targets if t and t != name)
    return graph


def test_no_import_cycle():
    graph = _graph()
    cycles, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in MODULES:
        if v not in index:
            visit(v)
    assert cycles == []


def test_no_function_level_imports_of_the_app():
    """Imports at the top of the module, so a cycle cannot hide inside a function."""
    nested = [
        f"{path.relative_to(ROOT)}:{node.lineno} {module}"
        for path in MODULES.values()
        for node, module, _names, top in _imports(path)
        if not top
    ]
    assert nested == []


def test_no_module_imports_another_modules_underscore_names():
    crossings = [
        f"{path.relative_to(ROOT)}:{node.lineno} {module}.{name}"
        for path in MODULES.values()
        for node, module, names, _top in _imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert crossings == []


@pytest.mark.parametrize("layer", ["billing"])
def test_the_domain_never_imports_reflex_or_the_ui(layer):
    offenders = []
    for path in (APP / layer).rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            for name in names:
                if name.split(".")[0] == "reflex" or name.startswith(
                    ("portal_app.pages", "portal_app.components", "portal_app.state")
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert offenders == []


def test_pages_and_components_call_facades_only():
    forbidden = ("portal_app.db", "portal_app.models", "portal_app.billing.gateways", "sqlmodel", "sqlalchemy")
    offenders = []
    for folder in ("pages", "components"):
        for path in (APP / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                if any(n == f or n.startswith(f + ".") for n in names for f in forbidden):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_modules_keep_to_one_job():
    too_long = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in APP.rglob("*.py")
        if path.name != "models.py" and len(path.read_text().splitlines()) > MAX_LINES
    }
    assert too_long == {}
