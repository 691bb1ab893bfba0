"""Pre-forked workers (SAGEMAKER_MODEL_SERVER_WORKERS > 1) sharing one socket."""

from __future__ import annotations

import os
import signal
import time

from modelyard.toolkit import framing
from tests.toolkit.support import Gate, wait_for

WORKER = """
import os

def model_fn(model_dir):
    if os.environ.get("FAIL_LOAD"):
        raise RuntimeError("weights are corrupt")
    gate = os.environ.get("LOAD_GATE")
    if gate:
        try:
            os.close(os.open(gate + ".claimed", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
        else:
            with open(gate) as fifo:
                fifo.read()
    return os.getpid()

def transform_fn(model, body, content_type, accept):
    if content_type == "gate":
        with open(body) as fifo:
            fifo.read()
    return str(model)
"""


def _pids(toolkit, connections: int = 12) -> set[int]:
    """Worker pids answering, one connection each; a connection placed on a worker as it is killed is
    closed without an answer (nothing else is accepted)."""
    pids = set()
    for _ in range(connections):
        client = toolkit.client()
        try:
            client.send_raw(framing.encode_frame(framing.request_header("invoke", "x"), b"0"))
            frame = client.read_frame()
        except (ConnectionResetError, BrokenPipeError):
            continue
        if frame is None:
            continue
        header, body = frame
        assert header["status"] == 200, (header, body)
        pids.add(int(body))
    return pids


def test_two_workers_serve_in_parallel(serve, tmp_path):
    toolkit = serve({"inference.py": WORKER}, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    assert "2 workers ready" in toolkit.stdout()
    gates = [Gate(tmp_path, "a"), Gate(tmp_path, "b")]
    clients = [toolkit.client() for _ in gates]
    for client, gate in zip(clients, gates, strict=True):
        client.send_raw(framing.encode_frame(framing.request_header("invoke", "gate"), str(gate.path).encode()))
    for gate in gates:
        gate.wait_entered()  # both calls are inside a handler at once: two workers run them side by side
    for gate in gates:
        gate.release()
    bodies = [client.read_frame()[1] for client in clients]
    assert len({int(body) for body in bodies}) == 2
    assert toolkit.process.pid not in {int(body) for body in bodies}


def test_dead_worker_is_restarted_and_sigterm_stops_all(serve):
    toolkit = serve({"inference.py": WORKER}, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    deadline = time.monotonic() + 10
    pids: set[int] = set()
    while len(pids) < 2 and time.monotonic() < deadline:
        pids |= _pids(toolkit)
    assert len(pids) == 2
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    fresh: set[int] = set()
    while time.monotonic() < deadline and not (fresh - pids):
        fresh |= _pids(toolkit, 4)
        time.sleep(0.05)
    assert fresh - pids, "a new worker replaced the killed one"
    assert victim not in fresh
    assert f"worker {victim} exited" in toolkit.stderr()
    survivors = (pids | fresh) - {victim}
    assert toolkit.terminate() == 0
    assert not os.path.exists(toolkit.socket_path)
    for pid in survivors:
        assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} outlived the parent"


def test_socket_is_published_only_when_every_worker_is_loaded(serve, tmp_path):
    gate = Gate(tmp_path)
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "LOAD_GATE": str(gate.path)}
    toolkit = serve({"inference.py": WORKER}, env=env, ready=False)
    gate.wait_entered()
    wait_for(lambda: toolkit.stdout().count("model loaded") == 1, toolkit)  # the other worker is loaded
    assert not os.path.exists(toolkit.socket_path)
    gate.release()
    toolkit.wait_ready()
    assert toolkit.client().request("ping")[0]["status"] == 200


def test_worker_load_failure_exits_2_with_the_reason(serve):
    toolkit = serve({"inference.py": WORKER}, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2", "FAIL_LOAD": "1"},
                    ready=False)
    assert toolkit.wait_exit() == 2
    assert "modelyard-toolkit: model_fn failed: RuntimeError: weights are corrupt" in toolkit.stderr()
    assert not os.path.exists(toolkit.socket_path)
    assert not os.path.exists(toolkit.socket_path + ".tmp")


def test_without_a_worker_count_the_toolkit_runs_one_worker_per_vcpu(serve):
    toolkit = serve({"inference.py": WORKER}, env={"MODELYARD_VCPUS": "2"})
    assert "starting: 2 worker(s)" in toolkit.stdout() and "2 workers ready" in toolkit.stdout()
    assert len(_pids(toolkit)) == 2


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rpartition(")")[2].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_workers_end_with_a_pool_killed_outright_even_while_loading(serve, tmp_path):
    """SIGKILL gives the pool no chance to stop its workers; they end with it, one stuck in model_fn too."""
    gate = Gate(tmp_path)
    toolkit = serve({"inference.py": WORKER}, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2",
                                                   "LOAD_GATE": str(gate.path)}, ready=False)
    gate.wait_entered()
    wait_for(lambda: toolkit.stdout().count("model loaded") == 1, toolkit)
    workers = _children(toolkit.process.pid)
    assert len(workers) == 2
    toolkit.process.kill()
    toolkit.process.wait()
    deadline = time.monotonic() + 25  # a loaded worker drains its (no) calls in flight, then exits
    while any(_running(pid) for pid in workers):
        assert time.monotonic() < deadline, [pid for pid in workers if _running(pid)]
        time.sleep(0.05)
