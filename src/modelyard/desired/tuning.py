"""What a tuning job's tuner needs beyond its Describe document, fixed when the job is created."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TuningDesired:
    """The checked training-job document every child starts from (name, ARN, times and hyperparameters are
    filled in per child), the tuning job's seed, and the parent tuning jobs whose results seed the search."""

    template: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    parents: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"template": self.template, "seed": self.seed, "parents": self.parents}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TuningDesired:
        """Read the stored form (None: nothing recorded)."""
        data = data or {}
        return cls(dict(data.get("template") or {}), int(data.get("seed") or 0), list(data.get("parents") or []))
