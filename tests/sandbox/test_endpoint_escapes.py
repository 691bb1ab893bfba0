"""Escape attempts from a deployed endpoint's inference.py, through a real server running as this user."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.hosting.models import deploy, package, scaler_model
from tests.support.server import ServerProcess, start_server

SECRET = "server-secret-never-inside"

PROBE = r'''
import errno, json, os, socket, subprocess

def model_fn(model_dir, context=None):
    return None

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

def transform_fn(model, body, content_type, accept):
    request = json.loads(body)
    if request.get("allocate"):
        block = bytearray(request["allocate"])
        return json.dumps({"allocated": len(block)}), "application/json"
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    out = {"uid": os.getuid(), "cap_eff": status["CapEff"].strip(), "env": dict(os.environ),
           "remount": subprocess.run(["mount", "-o", "remount,bind,rw", "/"], capture_output=True).returncode,
           "umount_proc": subprocess.run(["umount", "/proc"], capture_output=True).returncode,
           "server_port": _connect(int(os.environ["PROBE_SERVER_PORT"])), "postgres": _connect(5432)}
    out["paths"] = {p: _look(p) for p in json.loads(os.environ["PROBE_PATHS"])}
    environs = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                environs.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
            except OSError:
                pass
    out["environs"] = environs
    return json.dumps(out), "application/json"
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server holding a secret in its environment, with a 512 MiB memory limit for every instance."""
    server = start_server(tmp_path_factory.mktemp("escapes"),
                          env={"AWS_SECRET_ACCESS_KEY": SECRET, "MODELYARD_MEMORY_LIMIT_MB": "512"})
    yield server
    server.stop()


@pytest.mark.parametrize("isolated", [False, True])
def test_inference_code_cannot_escape(server: ServerProcess, tmp_path: Path, isolated: bool) -> None:
    sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
    name = f"escape-{'iso' if isolated else 'net'}-{os.getpid() % 1000}"
    other = deploy(sm, f"{name}-other", f"file://{scaler_model(tmp_path / 'other')}")
    assert other["EndpointStatus"] == "InService"
    data_dir = server.data_dir
    paths = [str(data_dir), str(data_dir / "sock"), str(data_dir / "instances"), str(data_dir / "envs"),
             "/root", "/home", "/etc/shadow", "/run", "/var/run/postgresql", str(Path.home() / ".aws")]
    paths += [str(p) for p in data_dir.glob("*.db*")]
    env = {"PROBE_SERVER_PORT": server.url.rsplit(":", 1)[1], "PROBE_PATHS": json.dumps(paths)}
    described = deploy(sm, name, f"file://{package(tmp_path / 'probe', {'code/inference.py': PROBE})}",
                       env=env, isolated=isolated)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    seen = json.loads(runtime.invoke_endpoint(EndpointName=name, Body=b"{}",
                                              ContentType="application/json")["Body"].read())
    assert seen["uid"] != 0 and seen["cap_eff"] == "0000000000000000"
    assert seen["remount"] != 0 and seen["umount_proc"] != 0
    assert seen["server_port"] != "connected" and seen["postgres"] != "connected", seen
    assert SECRET not in json.dumps(seen["environs"]) and SECRET not in json.dumps(seen["env"])
    for path, result in seen["paths"].items():
        assert isinstance(result, str) and result != "readable" or _only_runtime(path, result, data_dir), (
            path, result)
    assert all(not isinstance(seen["paths"][str(p)], list) for p in data_dir.glob("*.db*"))

    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=name, Body=json.dumps({"allocate": 4 << 30}),
                                ContentType="application/json")
    assert info.value.response["Error"]["Code"] == "ModelError"
    assert "MemoryError" in info.value.response.get("OriginalMessage", "") + str(info.value)
    answer = runtime.invoke_endpoint(EndpointName=f"{name}-other", Body=b"{\"x\": [1, 2]}",
                                    ContentType="application/json")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200, "the other model keeps serving"
    again = runtime.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200, "the model itself survives its MemoryError"
    with socket.create_connection(("127.0.0.1", int(env["PROBE_SERVER_PORT"])), timeout=5):
        pass


def _only_runtime(path: str, result: object, data_dir: Path) -> bool:
    """A listed directory holds only the way to what the instance runs: pyenv's interpreter under /root,
    in the data dir the environment, the toolkit and the instance's own socket directory (one entry)."""
    if not isinstance(result, list):
        return False
    if path == "/root":
        return set(result) <= {".pyenv", ".local"}
    if path == str(data_dir):
        return set(result) <= {"envs", "sock", "toolkit-path"}
    return path in (str(data_dir / "sock"), str(data_dir / "envs")) and len(result) == 1
