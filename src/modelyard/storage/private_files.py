"""The server's own files are private to its user: the data directory 0700, the SQLite database 0600.

Created that way on first start and fixed on every start (an older data dir may be 0755 / 0644).
Log files are created 0600 by the log store itself.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("modelyard.storage.private_files")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_PREFIX = "sqlite:///"
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def secure_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` if needed and make it accessible to the server's user only."""
    data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    try:
        os.chmod(data_dir, PRIVATE_DIR)
    except PermissionError:
        log.warning("the data directory is not owned by the server's user; it could not be made private (0700)")


def secure_sqlite_file(database_url: str) -> None:
    """For a SQLite URL: create the database file 0600 before SQLite does, and fix existing files.

    SQLite gives its WAL and shared-memory files the database file's mode.
    """
    if not database_url.startswith(SQLITE_PREFIX):
        return
    database = Path(database_url[len(SQLITE_PREFIX):])
    if not database.name or database.name == ":memory:":
        return
    database.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE))
    for suffix in SQLITE_COMPANIONS:
        path = database.with_name(database.name + suffix)
        if path.exists():
            os.chmod(path, PRIVATE_FILE)
