"""Cost of the hardened sandbox: instance start time (toolkit answering a ping) and CPU per invoke.

Modes, alternated round by round so machine noise hits all alike:

- ``before``: the sandbox as it was (bwrap with the host root read-only, root with capabilities, the
  host network), its command line rebuilt here for the comparison only;
- ``after-hostnet``: today's sandbox (unprivileged uid, no capabilities, minimal view, cgroups where
  the host allows them) but on the host network, to separate the cost of the user-mode network;
- ``after-rlimits``: today's sandbox with its network, limits by rlimits only (``cgroups="off"``), to
  separate the cost of the container's cgroup and its watchdog;
- ``after``: today's sandbox in full (its own network namespace and slirp4netns, a cgroup per
  container with an ml.m5.large's limits, the limits watchdog).

    .venv/bin/python bench/sandbox.py [--rounds 10] [--requests 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from modelyard.runtime import ContainerSpec, ProcessBackend  # noqa: E402
from modelyard.runtime.limits import limits_for  # noqa: E402
from modelyard.runtime.sandbox import find_bwrap  # noqa: E402
from modelyard.toolkit import framing  # noqa: E402

ECHO = """
def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    return body, "application/octet-stream"
"""
CLOCK = os.sysconf("SC_CLK_TCK")


class Started:
    """One running instance: its socket, a stop function and the host pids of its processes."""

    def __init__(self, socket_path: str, stop: Callable[[], None], pids: Callable[[], list[int]]) -> None:
        self.socket_path, self.stop, self.pids = socket_path, stop, pids


def _call(sock: socket.socket, op: str, body: bytes = b"") -> int:
    sock.sendall(framing.encode_frame(framing.request_header(op, "application/octet-stream"), body))
    header = _read_frame(sock)
    return int(header.get("status", 0))


def _read_frame(sock: socket.socket) -> dict[str, object]:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    prefix = exactly(8)
    header_length, body_length = int.from_bytes(prefix[:4], "big"), int.from_bytes(prefix[4:], "big")
    header = json.loads(exactly(header_length))
    exactly(body_length)
    return dict(header)


def _wait_ready(path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(path)
                if _call(sock, "ping") == 200:
                    return
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError(f"toolkit on {path} not ready")


def _env(socket_path: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "SAGEMAKER_MODEL_DIR": "/opt/ml/model",
            "MODELYARD_SOCKET": socket_path, "PYTHONUNBUFFERED": "1", "HOME": "/tmp"}


def start_before(work: Path, model: Path) -> Started:
    """The sandbox as it was before the hardening."""
    opt_ml, sock_dir = _dirs(work)
    socket_path = str(sock_dir / "m.sock")
    argv = [find_bwrap() or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--tmpfs", "/opt", "--bind", str(opt_ml), "/opt/ml", "--ro-bind", str(model), "/opt/ml/model",
            "--bind", str(sock_dir), str(sock_dir), "--remount-ro", "/opt", "--unshare-pid", "--unshare-ipc",
            "--die-with-parent", "--new-session", "--chdir", "/opt/ml", "--",
            sys.executable, "-m", "modelyard.toolkit", "serve"]
    process = subprocess.Popen(argv, env=_env(socket_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop() -> None:
        process.terminate()
        process.wait()

    return Started(socket_path, stop, lambda: _tree(process.pid))


def start_after(work: Path, model: Path, backend: ProcessBackend) -> Started:
    """Today's sandbox through the process backend, as the launcher starts a toolkit instance."""
    opt_ml, sock_dir = _dirs(work)
    socket_path = str(sock_dir / "m.sock")
    spec = ContainerSpec(argv=[sys.executable, "-m", "modelyard.toolkit", "serve"], opt_ml=opt_ml,
                         env=_env(socket_path), binds=[(sock_dir, str(sock_dir), True)],
                         ro_binds=[(model, "/opt/ml/model"), (ROOT / "src", str(ROOT / "src"))],
                         limits=limits_for("ml.m5.large"))
    process = backend.start(spec)

    def stop() -> None:
        process.stop(grace=5)

    return Started(socket_path, stop, process.pids)


def _dirs(work: Path) -> tuple[Path, Path]:
    instance = Path(tempfile.mkdtemp(dir=work))
    (instance / "opt_ml").mkdir()
    (instance / "sock").mkdir()
    return instance / "opt_ml", instance / "sock"


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack += children.get(pid, [])
    return found


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK


def measure(start: Callable[[], Started], requests: int) -> dict[str, float]:
    """Start time to a ping answer, then CPU seconds of the instance per invoke."""
    began = time.perf_counter()
    instance = start()
    try:
        _wait_ready(instance.socket_path)
        started = time.perf_counter() - began
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(instance.socket_path)
            for _ in range(100):
                _call(sock, "invoke", b"x" * 64)
            pids = instance.pids()
            cpu_before = _cpu_seconds(pids)
            wall = time.perf_counter()
            for _ in range(requests):
                assert _call(sock, "invoke", b"x" * 64) == 200
            wall = time.perf_counter() - wall
            cpu = _cpu_seconds(pids) - cpu_before
    finally:
        instance.stop()
    return {"start_ms": started * 1000, "invoke_cpu_us": cpu / requests * 1e6, "invoke_wall_us": wall / requests * 1e6}


def main() -> None:
    """Run every mode ``--rounds`` times and print medians and the raw numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="modelyard-bench-sandbox-", dir="/var/tmp"))
    model = work / "model"
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(ECHO)
    os.chmod(work, 0o755)
    full, hostnet = ProcessBackend(sandbox=True), ProcessBackend(sandbox=True, host_network=True)
    rlimits = ProcessBackend(sandbox=True, cgroups="off")
    print(f"limits: {full.describe_limits(limits_for('ml.m5.large'))}", file=sys.stderr)
    modes: dict[str, Callable[[], Started]] = {
        "before": lambda: start_before(work, model),
        "after-hostnet": lambda: start_after(work, model, hostnet),
        "after-rlimits": lambda: start_after(work, model, rlimits),
        "after": lambda: start_after(work, model, full),
    }
    raw: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
    for _ in range(options.rounds):
        for name, start in modes.items():
            raw[name].append(measure(start, options.requests))
    summary = {name: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for name, runs in raw.items()}
    if options.json:
        print(json.dumps({"median": summary, "raw": raw}, indent=2))
        return
    print(f"{'mode':<15}{'start ms':>10}{'invoke CPU us':>15}{'invoke wall us':>16}   (medians of {options.rounds})")
    for name, values in summary.items():
        print(f"{name:<15}{values['start_ms']:>10.1f}{values['invoke_cpu_us']:>15.1f}{values['invoke_wall_us']:>16.1f}")
    print("raw start ms:")
    for name, runs in raw.items():
        print(f"  {name:<15}" + " ".join(f"{r['start_ms']:.0f}" for r in runs))
    print("raw invoke CPU us:")
    for name, runs in raw.items():
        print(f"  {name:<15}" + " ".join(f"{r['invoke_cpu_us']:.1f}" for r in runs))


if __name__ == "__main__":
    main()
