"""One capture file being filled on the server's disk before it is uploaded whole to its destination.

Beside ``<name>.jsonl`` a ``<name>.uri`` names that destination, so a file left behind by a server
that died is stored at its place when the server starts again (``recovery``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO


@dataclass
class StagedFile:
    """A JSONL file under the writer's staging directory and the object URI it will be stored at."""

    path: Path
    uri: str
    hour: int
    handle: BinaryIO | None = None
    opened: float = field(default_factory=time.monotonic)
    size: int = 0
    records: int = 0
    attempts: int = 0
    retry_at: float = 0.0

    @classmethod
    def create(cls, path: Path, uri: str, hour: int) -> StagedFile:
        """Open a new staging file (private to the server: its directory is in the data dir)."""
        uri_path(path).write_text(uri)
        return cls(path, uri, hour, open(path, "xb"))  # noqa: SIM115

    def remove(self) -> None:
        """Delete the staging file and its destination note (once stored)."""
        self.path.unlink(missing_ok=True)
        uri_path(self.path).unlink(missing_ok=True)

    def append(self, line: bytes) -> None:
        """Add one record."""
        assert self.handle is not None
        self.handle.write(line)
        self.size += len(line)
        self.records += 1

    def flush(self) -> None:
        """Hand what was appended to the operating system."""
        if self.handle is not None:
            self.handle.flush()

    def seal(self) -> None:
        """Close the file: nothing more is appended, it waits for upload."""
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def uri_path(path: Path) -> Path:
    """The note beside a staging file that names its destination."""
    return path.with_suffix(".uri")
