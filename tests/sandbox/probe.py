"""The escape probe every sandbox escape test runs, in the shape each kind of container needs, and the
assertions on what it found.

The probe (``FINDINGS``) tries, from inside a container: its uid and effective capabilities, a
remount of /, an umount of /proc, a route change, the server's port and PostgreSQL on the host's
loopback, every visible /proc/*/environ, a list of host paths, writes to /usr and /etc, and its CPU
priority (nice, scheduling policy, and an attempt to raise it back), and its network interfaces. Its
settings (the server's port, the paths) come from ``probe_config.json`` beside the program
(``program_files``).

Shapes: ``inference_module`` (an inference.py whose ``transform_fn`` answers the findings, or
allocates ``{"allocate": n}`` bytes), ``script`` (a training or processing program writing them to a
file), ``serve_program`` (a bring-your-own image's ``serve`` answering them on /invocations).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.runtime.priority import CONTAINER_NICE
from tests.jobs_e2e.jobs_support import Stack
from tests.support.server import ServerProcess

CONFIG_NAME = "probe_config.json"
ESCAPE_TARGETS = ("/usr/modelyard-escape-probe", "/etc/modelyard-escape-probe")

FINDINGS = r'''
import errno, json, os, socket, subprocess

def _look(path):
    try:
        return sorted(os.listdir(path)) if os.path.isdir(path) else open(path, "rb").read(1) and "readable"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

def _connect(port):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect(("127.0.0.1", port)); return "connected"
    except OSError as exc:
        return type(exc).__name__
    finally:
        s.close()

def _run(*argv):
    try:
        return subprocess.run(list(argv), capture_output=True).returncode
    except OSError as exc:
        return type(exc).__name__

def _write(target):
    try:
        with open(target, "w") as handle:
            handle.write("x")
        return "written"
    except OSError as exc:
        return type(exc).__name__

def _renice():
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 0)
        return "done"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))

def _environs():
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
            except OSError:
                pass
    return found

def findings():
    config = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe_config.json")))
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    return {"uid": os.getuid(), "cap_eff": status["CapEff"].strip(), "env": dict(os.environ),
            "remount": _run("mount", "-o", "remount,bind,rw", "/"), "umount_proc": _run("umount", "/proc"),
            "route": _run("ip", "route", "add", "10.99.0.0/24", "dev", "lo"),
            "server": _connect(config["server_port"]), "postgres": _connect(5432), "environs": _environs(),
            "paths": {p: _look(p) for p in config["paths"]},
            "writes": {t: _write(t) for t in ("/usr/modelyard-escape-probe", "/etc/modelyard-escape-probe")},
            "nice": os.getpriority(os.PRIO_PROCESS, 0), "policy": os.sched_getscheduler(0), "renice": _renice(),
            "interfaces": sorted(name for _, name in socket.if_nameindex())}
'''

_INFERENCE = r'''
def model_fn(model_dir, context=None):
    return None

def transform_fn(model, body, content_type, accept):
    request = json.loads(body or b"{}")
    if request.get("allocate"):
        block = bytearray(request["allocate"])
        return json.dumps({"allocated": len(block)}), "application/json"
    return json.dumps(findings()), "application/json"
'''

_SCRIPT = r'''
os.makedirs(os.path.dirname(RESULT), exist_ok=True)
json.dump(findings(), open(RESULT, "w"))
'''

_SERVE = r'''
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.reply(200 if self.path == "/ping" else 404, b"")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply(200, json.dumps(findings()).encode())

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
'''


def inference_module() -> str:
    """An inference.py answering the findings as JSON for any request (or allocating on request)."""
    return FINDINGS + _INFERENCE


def script(result: str) -> str:
    """A training or processing program that writes the findings as JSON to ``result``."""
    return FINDINGS + f"RESULT = {result!r}\n" + _SCRIPT


def serve_program() -> str:
    """A bring-your-own image's executable ``serve``: /ping, and the findings on /invocations."""
    return "#!/usr/bin/env python3\n" + FINDINGS + _SERVE


def program_files(program: str, source: str, server_port: int | str, paths: Iterable[Path | str]) -> dict[str, str]:
    """``source`` at the relative path ``program`` and the probe's settings beside it, by relative path."""
    settings = json.dumps({"server_port": int(server_port), "paths": [str(p) for p in paths]})
    return {program: source, os.path.join(os.path.dirname(program), CONFIG_NAME): settings}


def stack_files(jobs: Stack, program: str, source: str) -> dict[str, str]:
    """``program_files`` for a container of the shared jobs stack (its server, its moto's files hidden too)."""
    hidden = host_paths(jobs.server.data_dir, jobs.root / "moto")
    return program_files(program, source, server_port(jobs.server), hidden)


def server_port(server: ServerProcess) -> int:
    """The TCP port the server listens on."""
    return int(server.url.rsplit(":", 1)[1])


def host_paths(data_dir: Path, *extra: Path | str) -> list[str]:
    """The host paths a container must not see: the data dir and its parts, the database files,
    other users' and services' secrets and sockets."""
    paths = [data_dir, data_dir / "sock", data_dir / "instances", data_dir / "envs", data_dir / "images",
             data_dir / "logs",
             "/root", "/home", "/etc/shadow", "/run", "/var/run/postgresql", Path.home() / ".aws",
             *sorted(data_dir.glob("*.db*")), *extra]
    return [str(p) for p in dict.fromkeys(paths)]


Listing = Callable[[list[str]], bool]


def subset_of(*names: str) -> Listing:
    """A listing allowed when it holds only ``names``."""
    return lambda found: set(found) <= set(names)


def exactly(*names: str) -> Listing:
    """A listing allowed when it is ``names`` and nothing else."""
    return lambda found: found == sorted(names)


def entries(count: int) -> Listing:
    """A listing allowed when it holds ``count`` entries (the container's own, names unknown ahead)."""
    return lambda found: len(found) == count


def runtime_listings(data_dir: Path, data_dir_view: Listing) -> dict[str, Listing]:
    """What a container may list on the way to its runtime: pyenv's interpreter under /root, in the data
    dir ``data_dir_view``, and one environment, socket directory and registered image: its own."""
    return {"/root": subset_of(".pyenv", ".local"), str(data_dir): data_dir_view,
            **{str(data_dir / part): entries(1) for part in ("envs", "sock", "images")}}


@dataclass(frozen=True)
class HostState:
    """What an escape would change on the host, captured before the container runs."""

    routes: str
    data_dir: Path

    def assert_unchanged(self) -> None:
        """The routing table is the same, no escape target exists, the data dir is still there."""
        assert _routes() == self.routes, "the host's routing table changed"
        assert not any(os.path.exists(target) for target in ESCAPE_TARGETS)
        assert self.data_dir.is_dir()


def host_state(data_dir: Path) -> HostState:
    """The host as it is now (call before starting the container)."""
    for target in ESCAPE_TARGETS:
        assert not os.path.exists(target), f"{target} is left over from an earlier run"
    return HostState(_routes(), data_dir)


def assert_contained(seen: Mapping[str, Any], *, listings: Mapping[str, Listing], secret: str | None = None) -> None:
    """Every escape the probe tried failed: unprivileged, no capabilities, mounts and routes refused,
    no host loopback, no server secret, host paths unseen or (``listings``) seen only as allowed,
    no host write, and a CPU priority below the server's that it cannot raise."""
    assert seen["uid"] != 0 and seen["cap_eff"] == "0000000000000000", seen["cap_eff"]
    for attempt in ("remount", "umount_proc", "route"):
        assert isinstance(seen[attempt], int) and seen[attempt] != 0, (attempt, seen[attempt])
    assert seen["server"] != "connected" and seen["postgres"] != "connected", (seen["server"], seen["postgres"])
    assert not any(name.startswith(("AWS_SECRET", "MODELYARD_DATABASE")) for name in seen["env"])
    assert "AWS_SECRET_ACCESS_KEY" not in json.dumps(seen["environs"])
    if secret is not None:
        assert secret not in json.dumps(seen["env"]) and secret not in json.dumps(seen["environs"])
    for path, result in seen["paths"].items():
        if isinstance(result, list):
            assert path in listings and listings[path](result), (path, result)
        else:
            assert result in ("ENOENT", "EACCES"), (path, result)
    assert all(result != "written" for result in seen["writes"].values()), seen["writes"]
    assert seen["nice"] == below_server() and seen["policy"] == os.SCHED_BATCH, (seen["nice"], seen["policy"])
    assert seen["renice"] in ("EACCES", "EPERM"), seen["renice"]


def below_server() -> int:
    """The nice value of a container of a server started from this process (which it inherits)."""
    return min(19, os.getpriority(os.PRIO_PROCESS, 0) + CONTAINER_NICE)


def _routes() -> str:
    return subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True).stdout
