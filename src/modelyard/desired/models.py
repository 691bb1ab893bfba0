"""A model's runnable containers: what hosting and batch transform start for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelDesired:
    """The model's containers with ModelPackageName references resolved to image and model data."""

    resolved_containers: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"resolved_containers": self.resolved_containers}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ModelDesired:
        """Read the stored form (None: nothing recorded)."""
        return cls(list((data or {}).get("resolved_containers") or []))
