"""Network: no host loopback services from inside, isolated or not; outbound through slirp4netns."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.runtime import ContainerSpec, ProcessBackend
from modelyard.runtime.usernet import find_slirp4netns

from ..runtime.conftest import last_json, run_to_end

PROBE = r"""
import json, socket, subprocess, sys
out = {}
for port in sys.argv[1:]:
    for host in ("127.0.0.1", "10.0.2.2", "10.0.2.3"):
        s = socket.socket(); s.settimeout(3)
        try:
            s.connect((host, int(port)))
            out[f"{host}:{port}"] = "connected"
        except OSError as exc:
            out[f"{host}:{port}"] = type(exc).__name__
        finally:
            s.close()
out["resolv"] = open("/etc/resolv.conf").read()
out["routes"] = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
print(json.dumps(out))
"""


@pytest.fixture()
def host_service() -> Iterator[int]:
    """A TCP service on the host's loopback, like the modelyard server or PostgreSQL."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def _postgres_port() -> list[str]:
    with socket.socket() as probe:
        probe.settimeout(1)
        return ["5432"] if probe.connect_ex(("127.0.0.1", 5432)) == 0 else []


@pytest.mark.parametrize("isolated", [False, True])
def test_host_loopback_services_are_out_of_reach(
    sandboxed_backend: ProcessBackend, tmp_path: Path, host_service: int, isolated: bool
) -> None:
    if not isolated and find_slirp4netns() is None:
        pytest.fail("slirp4netns is not installed: ./scripts/setup installs it")
    ports = [str(host_service), *_postgres_port()]
    spec = ContainerSpec(argv=[sys.executable, "-c", PROBE, *ports], opt_ml=tmp_path / "opt_ml",
                         stdout_path=tmp_path / "log", network_isolated=isolated)
    code, log = run_to_end(sandboxed_backend, spec)
    assert code == 0, log
    seen = last_json(log)
    reached = {target: result for target, result in seen.items() if result == "connected"}
    assert reached == {}, reached
    if isolated:
        assert "default" not in seen["routes"]
    else:
        assert "default via 10.0.2.2 dev tap0" in seen["routes"], "outbound goes through the user-mode stack"
        assert seen["resolv"].startswith("nameserver 10.0.2.3"), "DNS goes to slirp4netns's forwarder"
