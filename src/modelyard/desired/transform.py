"""What a transform job runs, snapshotted from its model when the job is created."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TransformDesired:
    """The model's containers (package references resolved) and its network isolation."""

    containers: list[dict[str, Any]] = field(default_factory=list)
    network_isolation: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"containers": self.containers, "network_isolation": self.network_isolation}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TransformDesired:
        """Read the stored form (None: nothing recorded)."""
        data = data or {}
        return cls(list(data.get("containers") or []), bool(data.get("network_isolation")))
