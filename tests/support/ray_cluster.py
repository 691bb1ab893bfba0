"""A real local Ray cluster for tests: a head node and more nodes started with ``ray start`` on this
machine, each with a custom resource naming it, so placement is observable.

Every process of the cluster runs in a session of its own (``ray start`` is started with
``start_new_session``; the daemons it forks stay in that session), so teardown finds them by session
id and kills exactly those, never other Ray processes of the machine.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import free_port

RAY = str(Path(sys.executable).with_name("ray"))
FAST_NODE_LOSS = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_failure_threshold": "4",
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_prestart_worker_first_driver": "0",
}
"""The head's GCS declares a silent node dead after ~2 s (the default is ~15 s); no idle worker is
started for a driver in advance."""
OBJECT_STORE_BYTES = 80 * 1000 * 1000


@dataclass
class RayNode:
    """One ``ray start`` of the cluster: its session id is the pid of the ``ray start`` process."""

    name: str
    session: int


@dataclass
class RayCluster:
    """A running local cluster."""

    address: str
    temp_dir: Path
    nodes: dict[str, RayNode] = field(default_factory=dict)

    def add_node(self, name: str, cpus: int, memory_gib: int, head: bool = False) -> None:
        """Start a node with resource ``{name: 1}``."""
        args = [RAY, "start", f"--num-cpus={cpus}", f"--memory={memory_gib << 30}",
                f"--resources={json.dumps({name: 1})}", f"--object-store-memory={OBJECT_STORE_BYTES}",
                "--disable-usage-stats", "--include-log-monitor=false"]
        if head:
            port = int(self.address.rsplit(":", 1)[1])
            args += ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={self.temp_dir}"]
        else:
            args += [f"--address={self.address}"]
        env = {**os.environ, **FAST_NODE_LOSS}
        started = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        self.nodes[name] = RayNode(name, started.pid)
        output, _ = started.communicate(timeout=120)
        if started.returncode != 0:
            raise RuntimeError(f"ray start of {name} failed:\n{output.decode(errors='replace')}")

    def node_ids(self) -> dict[str, str]:
        """Node id → the name of its custom resource, for the live nodes (asked of the cluster by a
        short-lived driver, so the test process itself never imports Ray)."""
        script = (f"import json, ray; ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False); "
                  "print(json.dumps({n['NodeID']: [k for k in n['Resources'] if k.startswith('node_')] "
                  "for n in ray.nodes() if n['Alive']}))")
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=True)
        found = json.loads(out.stdout.decode().strip().splitlines()[-1])
        return {node: names[0] for node, names in found.items() if names}

    def raylet_pid(self, name: str) -> int:
        """The pid of node ``name``'s raylet."""
        for pid in session_pids(self.nodes[name].session):
            try:
                if Path(f"/proc/{pid}/exe").resolve().name == "raylet":
                    return pid
            except OSError:
                continue
        raise LookupError(f"no raylet of node {name}")

    def stop(self) -> None:
        """Kill every process of every node (SIGTERM, 2 s, then SIGKILL), and remove the temp dir."""
        sessions = [node.session for node in self.nodes.values()]
        for signum in (signal.SIGTERM, signal.SIGKILL):
            pids = [pid for session in sessions for pid in session_pids(session)]
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and any(session_pids(s) for s in sessions):
                time.sleep(0.1)
        subprocess.run(["rm", "-rf", str(self.temp_dir)], check=False)


def session_pids(session: int) -> list[int]:
    """The pids of the processes in session ``session``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == session:
            found.append(int(entry.name))
    return found


_STARTED: list[RayCluster] = []


@atexit.register
def _stop_leftovers() -> None:
    for cluster in _STARTED:
        cluster.stop()


def start_cluster(nodes: list[tuple[str, int, int]]) -> RayCluster:
    """A cluster whose first node (name, CPUs, GiB of memory) is the head."""
    temp_dir = Path(tempfile.mkdtemp(prefix="ry", dir="/tmp"))
    cluster = RayCluster(f"127.0.0.1:{free_port()}", temp_dir)
    _STARTED.append(cluster)
    try:
        for index, (name, cpus, memory) in enumerate(nodes):
            cluster.add_node(name, cpus, memory, head=index == 0)
    except BaseException:
        cluster.stop()
        raise
    return cluster
