"""Joining a Ray cluster: the one place the server calls ``ray.init``."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

REACH_TIMEOUT_SECONDS = 5.0
RECONNECT_VARIABLE = "RAY_gcs_rpc_server_reconnect_timeout_s"
RECONNECT_FOREVER_SECONDS = 10 * 365 * 24 * 3600
"""Ray ends a driver that cannot reach the GCS for this long (60 s by default): the server is that driver,
and it must outlive its cluster (its local endpoints, its API), so it waits for the GCS to come back."""


class RayUnavailable(Exception):
    """Ray is not installed, or the cluster at the address cannot be joined; the message says which."""


def join(address: str) -> str:
    """Join the cluster at ``address`` (``auto``: the one started on this machine) as a driver in the
    ``modelyard`` namespace; a sentence naming the cluster's nodes and resources."""
    if address.startswith("ray://"):
        raise RayUnavailable(f"{address} is a Ray Client address, which modelyard does not use: give the cluster's "
                             "GCS address (host:port, as `ray start --head` prints it) or 'auto'")
    if address != "auto":
        _reachable(address)
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray-address needs Ray: install modelyard with the 'ray' extra "
                             "(pip install 'modelyard[ray]')") from None
    os.environ.setdefault(RECONNECT_VARIABLE, str(RECONNECT_FOREVER_SECONDS))
    try:
        ray.init(address=address, namespace="modelyard", logging_level=logging.WARNING, log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot join the Ray cluster at {address}: {exc}") from None
    nodes = [node for node in ray.nodes() if node.get("Alive")]  # type: ignore[no-untyped-call]
    cpus = sum(node["Resources"].get("CPU", 0.0) for node in nodes)
    return f"Ray cluster at {address}: {len(nodes)} live node(s), {cpus:g} CPUs"


def _reachable(address: str) -> None:
    """RayUnavailable unless something accepts TCP connections at ``host:port`` (Ray itself would retry
    for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f"--ray-address {address!r} is neither 'auto' nor host:port")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        raise RayUnavailable(f"cannot reach the Ray cluster's GCS at {address}: {exc}") from None


def gcs_address() -> str:
    """The GCS address of the joined cluster (``host:port``, also when joined with ``auto``)."""
    import ray

    return str(ray.get_runtime_context().gcs_address)


def gcs_answers(address: str, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at the GCS address: Ray calls made while it does not may
    block for a minute or end the process, so placements check first."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def leave() -> None:
    """Disconnect from the cluster (the actors this server owns end with it)."""
    import ray

    ray.shutdown()


def live_node_resources(ray: Any) -> list[dict[str, float]]:
    """Each live node's total resources (``ray.nodes()``, one call to the GCS)."""
    return [node["Resources"] for node in ray.nodes() if node.get("Alive")]
