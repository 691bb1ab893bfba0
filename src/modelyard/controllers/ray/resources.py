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
