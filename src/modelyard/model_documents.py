"""Reading a stored model document: the containers it runs, as services and controllers both need."""

from __future__ import annotations

from typing import Any


def model_containers(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers a model runs (package references already resolved)."""
    resolved = model.get("_ResolvedContainers")
    if resolved:
        return list(resolved)
    if model.get("Containers"):
        return list(model["Containers"])
    if model.get("PrimaryContainer"):
        return [model["PrimaryContainer"]]
    return []
