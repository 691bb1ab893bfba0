"""Small JSON metadata files beside the logs, written atomically."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any


def read_meta(path: Path) -> dict[str, Any]:
    """The metadata in ``path``, or an empty dict when it is missing or damaged."""
    try:
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_meta(path: Path, value: dict[str, Any]) -> None:
    """Replace ``path`` with ``value`` in one step (readers see the old or the new file)."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(value, ensure_ascii=False))
    os.replace(temporary, path)
