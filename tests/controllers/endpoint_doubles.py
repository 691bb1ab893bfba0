"""Test doubles for the endpoint controller's Preparer and Launcher (the one legitimate fake here:
real instances take seconds to minutes to start). Everything else is real: store, services, router,
log store, controller."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from modelyard.controllers.endpoints.plans import ContainerPlan, PlanError
from modelyard.controllers.launcher import Instance, InstanceFailed
from modelyard.controllers.preparation import PreparedContainer
from modelyard.logstore import LogStore

UNPREPARABLE = "image:cannot-prepare"
NEVER_READY = "image:never-ready"


class FakePreparer:
    """Prepares any image at once, except ``UNPREPARABLE``."""

    def prepare(self, plan: ContainerPlan, progress: Callable[[str], None] | None = None) -> PreparedContainer:
        if plan.image == UNPREPARABLE:
            raise PlanError(f"image {plan.image} cannot be prepared")
        return PreparedContainer(plan, SimpleNamespace(uri=plan.image), None, None, None)  # type: ignore[arg-type]

    def release(self, prepared: PreparedContainer) -> None:
        """Nothing to give back: no artifacts were fetched."""


@dataclass
class FakeClient:
    """Stands in for an instance's client: the router hands it out."""

    instance_id: str
    outstanding: int = 0
    closed: bool = False

    async def close(self) -> None:
        self.closed = True


class ProcessThatKeepsRunning:
    """Stands in for a container process that never exits on its own."""

    returncode = None

    def poll(self) -> int | None:
        return None


class FakeLauncher:
    """Starts real ``Instance`` records around fake processes and clients; an instance of ``NEVER_READY``
    fails its readiness check, and so does any instance of an image in ``failing``. ``on_start`` runs before
    each start (to land API calls mid-deployment)."""

    def __init__(self, logs: LogStore) -> None:
        self.logs = logs
        self.started: list[Instance] = []
        self.stopped: list[Instance] = []
        self.on_start: Callable[[], None] | None = None
        self.failing: set[str] = set()
        self.capacity: int | None = None
        """How many instances of one variant the machines could ever hold at once (None: any number)."""
        self._ids = itertools.count(1)

    def start(self, region: str, endpoint: str, variant: str, prepared: PreparedContainer,
              network_isolation: bool, log_group: str, instance_type: str | None = None, *,
              account: str, volume_gb: int | None = None, memory_mb: int | None = None) -> Instance:
        if self.on_start is not None:
            self.on_start()
        instance_id = f"{prepared.plan.image}#{next(self._ids)}"
        stream = f"{variant}/{instance_id}"
        instance = Instance(instance_id, variant, prepared, ProcessThatKeepsRunning(),  # type: ignore[arg-type]
                            FakeClient(instance_id), Path("/nonexistent"), None,  # type: ignore[arg-type]
                            log_group, stream, self.logs.scoped(account, region).writer(log_group, stream))
        self.started.append(instance)
        return instance

    def capacity_problem(self, prepared: PreparedContainer, instance_type: str | None, count: int,
                         memory_mb: int | None = None) -> str | None:
        if self.capacity is not None and count > self.capacity:
            return f"the machines can never hold {count} instances of {instance_type}: at most {self.capacity}"
        return None

    async def wait_ready(self, instance: Instance, timeout: float) -> None:
        if instance.prepared.plan.image == NEVER_READY or instance.prepared.plan.image in self.failing:
            raise InstanceFailed(f"instance {instance.instance_id} did not answer /ping")

    def stop(self, instance: Instance, grace: float) -> None:
        self.stopped.append(instance)
