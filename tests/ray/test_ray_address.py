"""``--ray-address`` that leads nowhere: the server refuses to start, saying why, instead of serving
endpoints it could not place (or waiting minutes on Ray's own retries)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support.server import free_port


def run_server(tmp_path: Path, address: str) -> tuple[int, str, float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "modelyard", "server", "--port", str(free_port()), "--data-dir",
                           str(tmp_path / "data"), "--ray-address", address, "--log-level", "warning"],
                          capture_output=True, timeout=60)
    return done.returncode, done.stderr.decode(errors="replace"), time.monotonic() - began


def test_an_address_where_no_cluster_listens_stops_the_server_at_once(tmp_path: Path) -> None:
    port = free_port()
    code, output, seconds = run_server(tmp_path, f"127.0.0.1:{port}")
    assert code == 2
    assert f"cannot reach the Ray cluster's GCS at 127.0.0.1:{port}" in output
    assert seconds < 30


def test_a_ray_client_address_is_refused(tmp_path: Path) -> None:
    code, output, _ = run_server(tmp_path, "ray://127.0.0.1:10001")
    assert code == 2
    assert "Ray Client address, which modelyard does not use" in output
