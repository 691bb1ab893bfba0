"""Write docs/IMPLEMENTATION_COVERAGE.md: every operation of the vendored service models
(src/modelyard/wire/service_models), marked implemented or not.

    python scripts/coverage_table.py [--check]

--check fails when the committed table is stale."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from modelyard.app import service_table
from modelyard.hosting.router import Router
from modelyard.services.catalog import load_services
from modelyard.settings import Settings
from modelyard.wire.spec import service_model, source, vendored_services

TARGET = Path(__file__).resolve().parent.parent / "docs" / "IMPLEMENTATION_COVERAGE.md"


SPOKEN = {"JsonProtocol": "json", "RestJsonProtocol": "rest-json", "RestXmlProtocol": "rest-xml",
          "QueryProtocol": "query"}
"""The protocol each wire class speaks (a model may list several; this is the one served)."""


def render() -> str:
    """The coverage table as Markdown."""
    load_services()
    with ThreadPoolExecutor(max_workers=1) as executor:
        services = service_table(Router(), Settings(), executor).services
    served = {service.name: set(service.operations) for service in services}
    spoken = {service.name: SPOKEN.get(type(service.protocol).__name__, "?") for service in services}

    lines = ["# Implementation coverage", "",
             "Generated from the vendored service models by `scripts/coverage_table.py`; do not edit by hand.", ""]
    for service in vendored_services():
        model = service_model(service)
        names = sorted(model.operation_names)
        done = served.get(service, set())
        lines += [f"## {service} ({spoken.get(service, model.metadata.get('protocol'))}, "
                  f"botocore {source()['botocore']}): "
                  f"{len(done & set(names))} of {len(names)} implemented", ""]
        lines += [f"- [{'x' if name in done else ' '}] {name}" for name in names]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    """Write the table, or with --check compare it with the committed one."""
    text = render()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is stale: run python scripts/coverage_table.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
