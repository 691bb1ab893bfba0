"""How much one copy may move: total bytes and number of files, counted as the copy goes."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.settings import DataLimits
from modelyard.storage.errors import CopyLimitError


@dataclass(frozen=True)
class CopyLimits:
    """The most one copy (a download, upload or extraction of a tree) may hold."""

    max_bytes: int = DataLimits.copy_max_bytes
    max_files: int = DataLimits.copy_max_files
    tar_max_ratio: float = DataLimits.tar_max_ratio
    tar_ratio_floor_bytes: int = DataLimits.tar_ratio_floor_bytes

    @classmethod
    def from_settings(cls, limits: DataLimits) -> CopyLimits:
        """The copy limits of the server's data settings."""
        return cls(limits.copy_max_bytes, limits.copy_max_files, limits.tar_max_ratio, limits.tar_ratio_floor_bytes)

    def budget(self, what: str) -> CopyBudget:
        """A fresh counter for one copy of ``what`` (named in the refusal)."""
        return CopyBudget(self, what)


class CopyBudget:
    """Counts the bytes and files of one copy; raises :class:`CopyLimitError` past a limit."""

    def __init__(self, limits: CopyLimits, what: str) -> None:
        self.limits = limits
        self.what = what
        self.bytes = 0
        self.files = 0

    def add_file(self, size: int = 0) -> None:
        """Count one more file of ``size`` bytes."""
        self.files += 1
        if self.files > self.limits.max_files:
            raise _limit_error(f"{self.what} holds more than {self.limits.max_files} files, the limit for one "
                               "copy (MODELYARD_COPY_MAX_FILES)")
        self.add_bytes(size)

    def add_bytes(self, size: int) -> None:
        """Count ``size`` more bytes."""
        self.bytes += size
        if self.bytes > self.limits.max_bytes:
            raise _limit_error(f"{self.what} holds more than {self.limits.max_bytes} bytes, the limit for one "
                               "copy (MODELYARD_COPY_MAX_BYTES)")


def _limit_error(message: str) -> CopyLimitError:
    return CopyLimitError(message, code="CopyLimitExceeded")
