"""No import cycle between the parts of ``modelyard``: layers import only downwards.

The graph's nodes are the subpackages of ``modelyard`` (``services``, ``controllers`` ...) and its
top-level modules (``app``, ``server``, ``context`` ...). Every import counts: module level, inside
functions and under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import modelyard

ROOT = Path(modelyard.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path: Path) -> Iterator[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _part(module: str) -> str | None:
    """The subpackage or top-level module of ``modelyard`` that ``module`` belongs to."""
    parts = module.split(".")
    if parts[0] != "modelyard" or len(parts) < 2:
        return None
    return parts[1]


def _known_parts() -> set[str]:
    return {child.stem for child in ROOT.iterdir()
            if (child.suffix == ".py" or (child / "__init__.py").exists()) and child.stem != "__init__"}


def import_graph() -> dict[str, set[str]]:
    """Part -> the other parts it imports."""
    known = _known_parts()
    graph: dict[str, set[str]] = {part: set() for part in known}
    for path in ROOT.rglob("*.py"):
        source = _part(_module_name(path))
        if source is None:
            continue
        for imported in _imported_modules(path):
            target = _part(imported)
            if target in known and target != source:
                graph[source].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or None when the graph is acyclic."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        trail.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*trail[trail.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        trail.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_imports() -> None:
    graph = import_graph()
    assert "wire" in graph["services"]
    assert "store" in graph["controllers"]


def test_cycle_finder_reports_the_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_cycle_between_parts_of_modelyard() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
