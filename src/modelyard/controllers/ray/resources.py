"""What an instance asks of a Ray node: CPUs, memory and GPUs of its instance type.

SageMaker's types fix vCPUs and memory (``runtime.limits``' tables) and, for the GPU families, GPUs;
Ray schedules an actor on a node whose free logical resources cover all three.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from modelyard.runtime.limits import DEFAULT_MEMORY, DEFAULT_VCPUS, GIB, INSTANCE_MEMORY, INSTANCE_VCPUS, MIB

INSTANCE_GPUS = {"ml.g4dn.xlarge": 1, "ml.g4dn.2xlarge": 1, "ml.g5.xlarge": 1, "ml.p3.2xlarge": 1}
"""GPUs of the GPU types ``runtime.limits`` knows the CPUs and memory of (other types: its defaults, no GPU)."""
SERVERLESS_CPUS = 1.0


@dataclass(frozen=True)
class ActorResources:
    """An instance's logical resources on its node."""

    cpus: float
    memory_bytes: int
    gpus: int

    def describe(self) -> str:
        """``2 CPUs, 4 GiB memory`` (and the GPUs when there are any)."""
        text = f"{self.cpus:g} CPUs, {self.memory_bytes / GIB:g} GiB memory"
        return f"{text}, {self.gpus} GPUs" if self.gpus else text


def resources_for(instance_type: str | None, memory_mb: int | None = None) -> ActorResources:
    """The resources of ``instance_type`` (a serverless variant: ``memory_mb`` and one CPU)."""
    if memory_mb is not None:
        return ActorResources(SERVERLESS_CPUS, memory_mb * MIB, 0)
    kind = instance_type or ""
    return ActorResources(float(INSTANCE_VCPUS.get(kind, DEFAULT_VCPUS)),
                          INSTANCE_MEMORY.get(kind, DEFAULT_MEMORY), INSTANCE_GPUS.get(kind, 0))


def no_node_fits(wanted: ActorResources, nodes: Sequence[Mapping[str, float]]) -> str | None:
    """Why no node of ``nodes`` (each node's total resources, as ``ray.nodes()`` gives them) can ever hold
    ``wanted``; None when one can."""
    for node in nodes:
        if (node.get("CPU", 0.0) >= wanted.cpus and node.get("memory", 0.0) >= wanted.memory_bytes
                and node.get("GPU", 0.0) >= wanted.gpus):
            return None
    shown = "; ".join(ActorResources(node.get("CPU", 0.0), int(node.get("memory", 0.0)),
                                     int(node.get("GPU", 0.0))).describe() for node in nodes) or "no live node"
    return f"it needs {wanted.describe()}, and the nodes have {shown}"


def cluster_cannot_hold(wanted: ActorResources, count: int, nodes: Sequence[Mapping[str, float]], *,
                        what: str = "hosts", setting: str = "InstanceCount") -> str | None:
    """Why ``count`` ``what`` of ``wanted`` can never run at once on ``nodes`` (each node's total resources),
    with the numbers and the ``setting`` to lower; None when they can."""
    if count <= 1:
        return no_node_fits(wanted, nodes)
    fits = sum(_how_many(wanted, node) for node in nodes)
    if fits >= count:
        return None
    shown = "; ".join(ActorResources(node.get("CPU", 0.0), int(node.get("memory", 0.0)),
                                     int(node.get("GPU", 0.0))).describe() for node in nodes) or "no live node"
    return (f"{count} {what} need {count} x {wanted.describe()} at once, and the live nodes ({shown}) hold at most "
            f"{fits} of them: use an {setting} of at most {fits}" + (" or a smaller instance type" if fits else ""))


def _how_many(wanted: ActorResources, node: Mapping[str, float]) -> int:
    """How many hosts of ``wanted`` fit on ``node`` at once."""
    counts = [int(node.get("CPU", 0.0) // wanted.cpus) if wanted.cpus else None,
              int(node.get("memory", 0.0) // wanted.memory_bytes) if wanted.memory_bytes else None,
              int(node.get("GPU", 0.0) // wanted.gpus) if wanted.gpus else None]
    known = [count for count in counts if count is not None]
    return min(known) if known else 0
