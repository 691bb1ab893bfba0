"""Bookkeeping of a model package group that is never described."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PackageGroupState:
    """The highest version the group ever issued: versions of deleted packages are never reused."""

    last_version: int = 0

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"last_version": self.last_version}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PackageGroupState:
        """Read the stored form (None: no version issued yet)."""
        return cls(int((data or {}).get("last_version") or 0))
