"""The layers of docs/ARCHITECTURE.md hold: every import of ``modelyard`` points down or sideways by an
allowed edge, and the in-container toolkit imports nothing of modelyard outside itself.

The import graph comes from ``tests/test_package_cycles.py`` (every import counts: module level,
inside functions, under ``if TYPE_CHECKING``).
"""

from __future__ import annotations

import pytest

from tests.test_package_cycles import ROOT, _imported_modules, _known_parts, _module_name, import_graph

# Top to bottom; a part may import any part of a lower layer.
LAYERS: list[tuple[str, frozenset[str]]] = [
    ("entry points", frozenset({"__main__", "cli"})),
    ("composition root", frozenset({"app"})),
    ("edge", frozenset({"server", "edge"})),
    ("domain", frozenset({"services", "controllers", "hosting", "auth", "s3"})),
    ("mechanisms", frozenset({"context", "ports", "model_documents", "desired", "runtime", "storage",
                              "logstore", "store", "wire", "jobs", "toolkit", "metrics"})),
    ("foundations", frozenset({"settings", "arns", "log_groups", "page_tokens", "deadline"})),
]

# Imports between parts of the same layer that the architecture allows; any other is a violation.
SIDEWAYS: frozenset[tuple[str, str]] = frozenset({
    ("__main__", "cli"),             # ``python -m modelyard`` is the CLI
    ("controllers", "hosting"),      # a controller publishes ready instances to the router
    ("context", "ports"),            # AppState's fields are the ports
    ("context", "store"),            # ... and the database
    ("context", "metrics"),          # ... and the metrics hub
    ("metrics", "store"),            # the metrics hub writes one-minute aggregates to the store
    ("ports", "logstore"),           # the log port speaks the log store's value types
    ("model_documents", "desired"),
    ("model_documents", "store"),
})


def _layer_of(part: str) -> int:
    for index, (_, parts) in enumerate(LAYERS):
        if part in parts:
            return index
    raise AssertionError(f"modelyard.{part} is in no layer: add it to LAYERS here and to docs/ARCHITECTURE.md")


def test_every_part_has_a_layer() -> None:
    for part in _known_parts():
        _layer_of(part)


def test_imports_point_down_or_along_an_allowed_edge() -> None:
    violations = []
    for source, targets in import_graph().items():
        for target in targets:
            upward = _layer_of(target) < _layer_of(source)
            sideways = _layer_of(target) == _layer_of(source) and (source, target) not in SIDEWAYS
            if upward or sideways:
                violations.append(f"modelyard.{source} imports modelyard.{target}")
    assert not violations, "layer violations:\n" + "\n".join(sorted(violations))


def test_the_toolkit_imports_only_itself() -> None:
    """The toolkit runs inside the sandbox, in the model's own venv: nothing else of modelyard is there."""
    outside = []
    for path in (ROOT / "toolkit").rglob("*.py"):
        for module in _imported_modules(path):
            if module.startswith("modelyard.") and not module.startswith("modelyard.toolkit"):
                outside.append(f"{_module_name(path)} imports {module}")
    assert not outside, "\n".join(outside)


@pytest.mark.parametrize("part", ["services", "hosting"])
def test_request_handlers_never_reach_into_controllers(part: str) -> None:
    """Services and the invoke path see controllers only through ``modelyard.ports``."""
    assert "controllers" not in import_graph()[part]


def test_layer_table_matches_the_architecture_document() -> None:
    document = (ROOT.parents[1] / "docs" / "ARCHITECTURE.md").read_text()
    missing = [part for _, parts in LAYERS for part in parts
               if f"`{part}`" not in document and f"`{part}/`" not in document and f"`{part}.py`" not in document]
    assert not missing, f"docs/ARCHITECTURE.md does not name {missing}"


def test_the_graph_sees_function_level_imports() -> None:
    """``modelyard server`` imports the composition root inside the command function only."""
    assert "app" in import_graph()["cli"]
