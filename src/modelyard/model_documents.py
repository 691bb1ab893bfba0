"""Reading a stored model: the containers it runs, as services and controllers both need."""

from __future__ import annotations

from typing import Any

from modelyard.desired.models import ModelDesired
from modelyard.store.resources import Record


def model_containers(model: Record) -> list[dict[str, Any]]:
    """The containers a model runs (package references already resolved)."""
    resolved = ModelDesired.from_json(model.desired).resolved_containers
    if resolved:
        return list(resolved)
    if model.document.get("Containers"):
        return list(model.document["Containers"])
    if model.document.get("PrimaryContainer"):
        return [model.document["PrimaryContainer"]]
    return []
