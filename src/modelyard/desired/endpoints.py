"""What an endpoint should run: written by the endpoint services, read by the endpoint controller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VariantOverride = dict[str, float]
"""``DesiredWeight`` and/or ``DesiredInstanceCount`` of one variant (``MaxConcurrency`` and/or
``ProvisionedConcurrency`` for a serverless one)."""


@dataclass(frozen=True)
class EndpointDesired:
    """The endpoint config to deploy and per-variant weight/instance-count overrides."""

    config: str
    weights: dict[str, VariantOverride] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"config": self.config, "weights": {name: dict(o) for name, o in self.weights.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointDesired:
        """Read the stored form."""
        return cls(str(data["config"]), {name: dict(o) for name, o in (data.get("weights") or {}).items()})

    def with_weights(self, weights: dict[str, VariantOverride]) -> EndpointDesired:
        """The same config with other overrides."""
        return EndpointDesired(self.config, weights)
