"""Refuse an ``InstanceCount`` this machine can never hold, at create time, with the numbers.

On a server joined to a Ray cluster (``AppState.cluster``), jobs whose containers run on the cluster's
nodes (framework images; a transform job's single-container model) are checked against the cluster's
live nodes instead, with its numbers (and again when they are placed: the cluster may change). Their
hosts' traffic crosses the network between nodes authenticated but not encrypted, so
EnableInterContainerTrafficEncryption is refused for a multi-host job there.

Every instance of a job runs on this machine at once, each with the memory of its instance type
(``runtime.limits``) and at least one core of its own: N instances need N × that memory and N cores.
CPU beyond one core per instance is shared (each instance's quota is its type's vCPUs, capped at the
machine's cores), so a type with more vCPUs than the machine still runs, only slower.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from modelyard.context import RequestContext
from modelyard.runtime.limits import limits_for, size_text
from modelyard.wire.errors import ValidationException


def machine_memory() -> int:
    """This machine's physical memory in bytes."""
    return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))


def machine_cores() -> int:
    """The cores this server may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def runs_on_cluster(ctx: RequestContext, images: Sequence[str | None]) -> bool:
    """Whether a job of containers ``images`` runs on the cluster's nodes: one container, whose image the
    cluster places."""
    cluster = ctx.app.cluster
    return cluster is not None and len(images) == 1 and bool(images[0]) and cluster.on_cluster(str(images[0]))


def check_capacity(ctx: RequestContext, member: str, instance_type: str | None, count: int,
                   images: Sequence[str | None]) -> None:
    """ValidationException when ``count`` instances of ``instance_type`` (given as ``member``) running
    ``images`` can never run at once where they would run: on the cluster, or on this machine."""
    if ctx.app.cluster is not None and runs_on_cluster(ctx, images):
        problem = ctx.app.cluster.capacity_problem(instance_type, count)
        if problem is not None:
            raise ValidationException(f"{member} {count} of {instance_type}: {problem}")
        return
    check_machine_capacity(member, instance_type, count)


def check_machine_capacity(member: str, instance_type: str | None, count: int) -> None:
    """ValidationException when ``count`` instances of ``instance_type`` (given as ``member``) cannot run
    on this machine at once."""
    if count <= 1:
        return
    cores = machine_cores()
    if count > cores:
        raise ValidationException(
            f"{member} {count} needs {count} cores (one per instance at least), but this machine has {cores}: "
            f"use at most {cores} instance(s)")
    memory = limits_for(instance_type).memory_bytes or 0
    available = machine_memory()
    if memory * count > available:
        most = max(1, available // memory) if memory else count
        raise ValidationException(
            f"{member} {count} of {instance_type} needs {size_text(memory * count)} of memory ({count} x "
            f"{size_text(memory)}), but this machine has {size_text(available)}: use at most {most} "
            f"instance(s) of this type, or a smaller instance type")


def refuse_encryption_on_cluster(member: str, encrypted: bool, count: int, on_cluster: bool) -> None:
    """ValidationException when a multi-host job on a Ray cluster asks for encrypted traffic between its
    hosts (the job network's tunnel authenticates every frame but does not encrypt)."""
    if encrypted and count > 1 and on_cluster:
        raise ValidationException(
            f"{member}: the hosts of a multi-instance job on the Ray cluster talk through an authenticated but "
            "unencrypted tunnel between nodes; set it to false, or use InstanceCount 1")
