"""What an endpoint should run: written by the endpoint services, read by the endpoint controller."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

VariantOverride = dict[str, float]
"""``DesiredWeight`` and/or ``DesiredInstanceCount`` of one variant (``MaxConcurrency`` and/or
``ProvisionedConcurrency`` for a serverless one)."""


@dataclass(frozen=True)
class EndpointDesired:
    """The endpoint config to deploy, per-variant weight/instance-count overrides, and the
    ``DeploymentConfig`` the move to ``config`` follows (None: all at once, new fleet healthy first)."""

    config: str
    weights: dict[str, VariantOverride] = field(default_factory=dict)
    deployment: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        stored: dict[str, Any] = {"config": self.config,
                                  "weights": {name: dict(o) for name, o in self.weights.items()}}
        if self.deployment is not None:
            stored["deployment"] = self.deployment
        return stored

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointDesired:
        """Read the stored form."""
        return cls(str(data["config"]), {name: dict(o) for name, o in (data.get("weights") or {}).items()},
                   data.get("deployment"))

    def with_weights(self, weights: dict[str, VariantOverride]) -> EndpointDesired:
        """The same config with other overrides."""
        return replace(self, weights=weights)
