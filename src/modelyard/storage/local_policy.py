"""Which local paths a user's ``file://`` URI (or plain path) may name.

    mode any         every path, except the protected ones
    mode allow-list  only real paths under an operator-configured root, except the protected ones
    mode off         no local path at all
    protected        the server's data directory, /proc, /sys, /dev: neither at, under nor above them

A path is judged by its real path (symlinks resolved, ``..`` normalised), so a link pointing into a
protected area is refused as well. Messages never print where the server's own files are.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.settings import FileUriMode, Settings
from modelyard.storage.errors import ForbiddenLocationError
from modelyard.storage.uris import Location

SYSTEM_AREAS = (Path("/proc"), Path("/sys"), Path("/dev"))


@dataclass(frozen=True)
class LocalPathPolicy:
    """Decides whether a local location may be read or written on a user's behalf."""

    mode: FileUriMode = "any"
    roots: tuple[Path, ...] = ()
    data_dir: Path | None = None
    system_areas: tuple[Path, ...] = field(default=SYSTEM_AREAS)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalPathPolicy:
        """The policy the server's settings describe."""
        return cls(mode=settings.file_uri_mode, roots=settings.allowed_file_roots, data_dir=settings.data_dir)

    def check(self, loc: Location) -> Path:
        """The real path of ``loc`` if a user may use it; :class:`ForbiddenLocationError` otherwise.

        S3 locations always pass (their real path is not meaningful; the return is then ``Path()``).
        """
        if loc.is_s3:
            return Path()
        if self.mode == "off":
            raise ForbiddenLocationError(
                f"{loc.uri}: local paths are turned off on this server (MODELYARD_FILE_URIS=off); "
                "use an s3:// URI", uri=loc.uri)
        real = Path(os.path.realpath(loc.local_path))
        self._refuse_protected(loc, real)
        if self.mode == "allow-list" and not _under_any(real, self._real_roots()):
            raise ForbiddenLocationError(
                f"{loc.uri}: the path is not under a directory this server allows for file:// URIs "
                "(the operator lists them in MODELYARD_FILE_ROOTS); use an s3:// URI or a path below "
                "one of those directories", uri=loc.uri)
        return real

    def is_protected(self, path: Path) -> bool:
        """True when ``path``'s real path is at, under or above a protected area."""
        real = Path(os.path.realpath(path))
        return any(_overlaps(real, area) for area in self._protected())

    def _refuse_protected(self, loc: Location, real: Path) -> None:
        data_dir = self._real_data_dir()
        if data_dir is not None and _overlaps(real, data_dir):
            raise ForbiddenLocationError(
                f"{loc.uri}: the path is or contains the server's data directory, which user data may "
                "never be read from or written to", uri=loc.uri)
        for area in self.system_areas:
            if _overlaps(real, area):
                raise ForbiddenLocationError(
                    f"{loc.uri}: the path is or contains the system area {area}, which holds no user data",
                    uri=loc.uri)

    def _real_data_dir(self) -> Path | None:
        return Path(os.path.realpath(self.data_dir)) if self.data_dir is not None else None

    def _real_roots(self) -> list[Path]:
        return [Path(os.path.realpath(root)) for root in self.roots]

    def _protected(self) -> list[Path]:
        data_dir = self._real_data_dir()
        return [*([data_dir] if data_dir is not None else []), *self.system_areas]


def _under_any(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _overlaps(path: Path, area: Path) -> bool:
    return path == area or area in path.parents or path in area.parents
