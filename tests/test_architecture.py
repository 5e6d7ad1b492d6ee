"""The tree shows the architecture and stays that way: no import cycles (an import hidden inside a
function counts: it is how cycles hid before), small modules and classes, the engine never imports
the UI."""

from __future__ import annotations

import ast
from pathlib import Path

import medcam_core
import medcam_tui

PACKAGES = {"medcam_core": Path(medcam_core.__file__).parent, "medcam_tui": Path(medcam_tui.__file__).parent}
MAX_MODULE_LINES, MAX_CLASS_LINES = 400, 300


def modules() -> dict[str, Path]:
    found = {}
    for name, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [name, *path.relative_to(folder).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """Every project module `path` imports, at any depth of its code."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in out if name in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_in_either_package() -> None:
    known = modules()
    graph = {name: imports(path, set(known)) - {name.rpartition(".")[0]} for name, path in known.items()}
    # a package's __init__ importing its own modules is how a package presents itself, not a cycle
    graph = {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}
    assert cycles(graph) == []


def test_the_engine_never_imports_the_ui() -> None:
    known = modules()
    offenders = {
        name: sorted(t for t in imports(path, set(known)) if t.startswith("medcam_tui"))
        for name, path in known.items()
        if name.startswith("medcam_core")
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    for path in PACKAGES["medcam_core"].rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert "textual" not in roots, path


def test_modules_and_classes_stay_small() -> None:
    too_long = {}
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            too_long[name] = text.count("\n")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno > MAX_CLASS_LINES:
                too_long[f"{name}.{node.name}"] = node.end_lineno - node.lineno
    assert too_long == {}
