"""Capture files a previous server process staged but did not store (it was killed, or its destination
failed until the end): found at start-up and stored at the destination each one names.

A record cut short by the kill (no final newline) is left out; everything before it is stored.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from modelyard.hosting.capture.staging import uri_path
from modelyard.storage import ObjectStore

log = logging.getLogger("modelyard.hosting.capture")


def leftover_files(staging_root: Path) -> list[Path]:
    """Staged capture files under ``staging_root`` whose destination is known."""
    if not staging_root.is_dir():
        return []
    return sorted(path for path in staging_root.glob("*/*/*/*/*.jsonl") if uri_path(path).is_file())


def store_leftovers(files: list[Path], store: ObjectStore) -> int:
    """Store each of ``files`` at its destination; the number of records stored."""
    stored = 0
    for path in files:
        uri = uri_path(path).read_text().strip()
        data = path.read_bytes()
        whole = data[:data.rfind(b"\n") + 1]
        try:
            if whole:
                store.write_bytes(uri, whole)
        except Exception as exc:  # noqa: BLE001 - a destination may fail in any way; the file stays
            log.warning("data capture: a file left by the previous server run could not be stored at %s: %s",
                        uri, exc)
            continue
        stored += whole.count(b"\n")
        path.unlink(missing_ok=True)
        uri_path(path).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()
    if files:
        log.warning("data capture: stored %d record(s) left by the previous server run", stored)
    return stored
