"""Where an endpoint's instances run: the seam between the endpoint controller and the machines.

``controllers.launcher.Launcher`` is the local placement (a container on this machine);
``controllers.ray.placement.RayPlacement`` puts each instance on a node of a Ray cluster. The
composition root (``app.py``) picks one; the controller never asks which.
"""

from __future__ import annotations

from typing import Protocol

from modelyard.controllers.launcher import Instance
from modelyard.controllers.preparation import PreparedContainer


class InstancePlacement(Protocol):
    """Starts, checks and stops an endpoint's single-container instances."""

    def start(self, region: str, endpoint: str, variant: str, prepared: PreparedContainer,
              network_isolated: bool, log_group: str, instance_type: str | None = None, *,
              account: str, volume_gb: int | None = None, memory_mb: int | None = None,
              stream: str | None = None, extra_env: dict[str, str] | None = None,
              instance_id: str | None = None, container: str | None = None) -> Instance:
        """Start one instance of ``prepared`` (blocking; call from a worker thread)."""

    def capacity_problem(self, prepared: PreparedContainer, instance_type: str | None, count: int,
                         memory_mb: int | None = None) -> str | None:
        """Why ``count`` instances of ``prepared`` on ``instance_type`` can never run at once where this
        placement puts them, with the numbers; None when they can (blocking)."""

    async def wait_ready(self, instance: Instance, timeout: float) -> None:
        """Return once the instance answers its health check; raise InstanceFailed otherwise."""

    def stop(self, instance: Instance, grace: float) -> None:
        """Stop the instance and remove its files (blocking)."""
