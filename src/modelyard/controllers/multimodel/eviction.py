"""Which loaded models to unload: least recently used first, never one in use or about to be."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable

from modelyard.controllers.multimodel.loaded import LoadedModel


def least_recently_used(models: Iterable[LoadedModel], busy: Collection[str] = ()) -> LoadedModel | None:
    """The idle model used longest ago, whatever its size (a container's 507 is about its resources, which
    a model measured at zero bytes still holds); never one in use or whose target is in ``busy``."""
    return min((m for m in models if m.target not in busy and not m.in_flight), key=lambda m: m.last_used,
               default=None)


def over_budget(models: Iterable[LoadedModel], budget: int, incoming: int = 0,
                busy: Collection[str] = ()) -> list[LoadedModel]:
    """The models to unload, oldest use first, so that what stays plus ``incoming`` bytes fits in
    ``budget`` (as far as idle models allow); a model with a call in flight, or whose target is in
    ``busy`` (calls are on their way to it), is never chosen."""
    loaded = list(models)
    total = sum(m.memory_bytes for m in loaded) + incoming
    chosen = []
    for model in sorted(loaded, key=lambda m: m.last_used):
        if total <= budget:
            break
        if model.target in busy or model.in_flight:
            continue
        chosen.append(model)
        total -= model.memory_bytes
    return chosen


def idle(models: Iterable[LoadedModel], idle_seconds: float | None, now: float | None = None,
         busy: Collection[str] = ()) -> list[LoadedModel]:
    """The models unused for longer than ``idle_seconds`` (none when it is None), except those in use or
    whose target is in ``busy``."""
    if idle_seconds is None:
        return []
    now = time.monotonic() if now is None else now
    return [m for m in models if not m.in_flight and m.target not in busy and now - m.last_used > idle_seconds]
