"""Escape attempts from a processing job's script (ContainerEntrypoint), isolated or not."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.jobs_e2e.jobs_support import BUCKET, GENERIC_IMAGE, ROLE, Stack, put, stack, wait_processing

PROBE = r'''
import errno, json, os, socket, subprocess, sys
def look(path):
    try:
        return sorted(os.listdir(path)) if os.path.isdir(path) else open(path, "rb").read(1) and "readable"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
def connect(port):
    s = socket.socket(); s.settimeout(3)
    try:
        s.connect(("127.0.0.1", port)); return "connected"
    except OSError as exc:
        return type(exc).__name__
    finally:
        s.close()
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
environs = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            environs.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
        except OSError:
            pass
out = {"uid": os.getuid(), "cap_eff": status["CapEff"].strip(), "env": sorted(os.environ),
       "remount": subprocess.run(["mount", "-o", "remount,bind,rw", "/"], capture_output=True).returncode,
       "umount_proc": subprocess.run(["umount", "/proc"], capture_output=True).returncode,
       "route": subprocess.run(["ip", "route", "add", "10.99.0.0/24", "dev", "lo"], capture_output=True).returncode,
       "server": connect(int(sys.argv[1])), "postgres": connect(5432), "environs": environs,
       "paths": {p: look(p) for p in sys.argv[2:]}}
for target in ("/usr/modelyard-job-escape", "/etc/modelyard-job-escape"):
    try:
        open(target, "w").write("x"); out[target] = "written"
    except OSError as exc:
        out[target] = type(exc).__name__
os.makedirs("/opt/ml/processing/result", exist_ok=True)
json.dump(out, open("/opt/ml/processing/result/probe.json", "w"))
'''


@pytest.mark.parametrize("isolated", [False, True])
def test_processing_script_cannot_escape(unique: str, isolated: bool) -> None:
    jobs: Stack = stack()
    sm, s3 = jobs.client("sagemaker"), jobs.s3()
    routes = subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    data_dir = jobs.server.data_dir
    paths = [str(data_dir), str(data_dir / "logs"), "/root", "/home", "/etc/shadow", "/run",
             "/var/run/postgresql", str(jobs.root / "moto")]
    code = put(s3, f"{unique}/code/probe.py", PROBE)
    name = f"{unique}-{'iso' if isolated else 'net'}"
    request: dict[str, Any] = {
        "ProcessingJobName": name, "RoleArn": ROLE,
        "ProcessingInputs": [{"InputName": "code", "AppManaged": False, "S3Input": {
            "S3Uri": code, "LocalPath": "/opt/ml/processing/input/code", "S3DataType": "S3Prefix",
            "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "result", "AppManaged": False, "S3Output": {
            "S3Uri": f"s3://{BUCKET}/{unique}/out", "LocalPath": "/opt/ml/processing/result",
            "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium",
                                                  "VolumeSizeInGB": 5}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "AppSpecification": {"ImageUri": GENERIC_IMAGE, "ContainerEntrypoint": [
            "python3", "/opt/ml/processing/input/code/probe.py", jobs.server.url.rsplit(":", 1)[1], *paths]},
        "NetworkConfig": {"EnableNetworkIsolation": isolated},
    }
    sm.create_processing_job(**request)
    described = wait_processing(sm, name, timeout=240)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    seen = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{unique}/out/probe.json")["Body"].read())
    assert seen["uid"] != 0 and seen["cap_eff"] == "0000000000000000"
    assert seen["remount"] != 0 and seen["umount_proc"] != 0 and seen["route"] != 0
    assert seen["server"] != "connected" and seen["postgres"] != "connected"
    assert not any(name.startswith(("AWS_SECRET", "MODELYARD_DATABASE")) for name in seen["env"])
    assert "AWS_SECRET_ACCESS_KEY" not in json.dumps(seen["environs"])
    for path, result in seen["paths"].items():
        if path == str(data_dir):
            assert result == ["envs"], "only the way to the job's own environment"
        elif path == "/root":
            assert result in ("ENOENT", "EACCES") or set(result) <= {".pyenv", ".local"}, result
        else:
            assert result in ("ENOENT", "EACCES"), (path, result)
    assert seen["/usr/modelyard-job-escape"] != "written" and seen["/etc/modelyard-job-escape"] != "written"
    assert not Path("/usr/modelyard-job-escape").exists() and not Path("/etc/modelyard-job-escape").exists()
    assert subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True).stdout == routes
    assert os.path.isdir(data_dir)
