"""Joining a Ray cluster: the one place the server calls ``ray.init``."""

from __future__ import annotations

import logging


class RayUnavailable(Exception):
    """Ray is not installed, or the cluster at the address cannot be joined; the message says which."""


def join(address: str) -> str:
    """Join the cluster at ``address`` (``auto``: the one started on this machine) as a driver in the
    ``modelyard`` namespace; a sentence naming the cluster's nodes and resources."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray-address needs Ray: install modelyard with the 'ray' extra "
                             "(pip install 'modelyard[ray]')") from None
    try:
        ray.init(address=address, namespace="modelyard", logging_level=logging.WARNING, log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot join the Ray cluster at {address}: {exc}") from None
    nodes = [node for node in ray.nodes() if node.get("Alive")]  # type: ignore[no-untyped-call]
    cpus = sum(node["Resources"].get("CPU", 0.0) for node in nodes)
    return f"Ray cluster at {address}: {len(nodes)} live node(s), {cpus:g} CPUs"


def leave() -> None:
    """Disconnect from the cluster (the actors this server owns end with it)."""
    import ray

    ray.shutdown()
