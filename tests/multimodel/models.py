"""Model artifacts and deploy helpers for the multi-model endpoint tests."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.hosting.models import GENERIC_IMAGE, package, wait_for_status

ECHO = '''
import json, os, time, uuid

PROCESS = uuid.uuid4().hex

def model_fn(model_dir, context=None):
    with open(os.path.join(model_dir, "weights.json")) as handle:
        weights = json.load(handle)
    if weights.get("fail"):
        raise RuntimeError("model_fn refuses: " + weights["fail"])
    if weights.get("load_sleep"):
        time.sleep(weights["load_sleep"])
    if weights.get("ballast_mb"):
        weights["ballast"] = bytearray(os.urandom(1 << 20) * weights["ballast_mb"])
    return weights

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    if model.get("predict_sleep"):
        time.sleep(model["predict_sleep"])
    answer = {"name": model["name"], "process": PROCESS, "y": [x * model.get("scale", 1) for x in data.get("x", [])]}
    try:
        import six
        answer["six"] = six.__version__
    except ImportError:
        answer["six"] = None
    return answer

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''


def echo_model(directory: Path, name: str, *, requirements: str | None = None, **weights: Any) -> Path:
    """A model.tar.gz whose model answers its ``name``, its process's id and the six version it sees."""
    files = {"weights.json": json.dumps({"name": name, **weights}), "code/inference.py": ECHO}
    if requirements is not None:
        files["code/requirements.txt"] = requirements
    directory.mkdir(parents=True, exist_ok=True)
    return package(directory, files)


def deploy_multi_model(sm, name: str, prefix: str, *, count: int = 1,  # type: ignore[no-untyped-def]
                       cache: str | None = None, wait: bool = True,
                       env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    """A MultiModel model over ``prefix`` (its container's Environment ``env``), its config and endpoint (all
    named ``name``)."""
    container: dict[str, Any] = {"Image": GENERIC_IMAGE, "ModelDataUrl": prefix, "Mode": "MultiModel",
                                 "Environment": env or {}}
    if cache is not None:
        container["MultiModelConfig"] = {"ModelCacheSetting": cache}
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/modelyard",
                    PrimaryContainer=container)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": count,
         "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_for_status(sm, name) if wait else {}


def invoke(runtime, endpoint: str, target: str, payload: dict | None = None,  # type: ignore[no-untyped-def,type-arg]
           timeout: float = 120.0) -> dict:  # type: ignore[type-arg]
    """Invoke ``target`` on ``endpoint``, retrying while it answers ModelNotReadyException."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = runtime.invoke_endpoint(EndpointName=endpoint, TargetModel=target, ContentType="application/json",
                                            Body=json.dumps(payload or {"x": [1]}))
            return json.loads(reply["Body"].read())  # type: ignore[no-any-return]
        except runtime.exceptions.ModelNotReadyException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def processes_of(endpoint: str) -> dict[int, int]:
    """Host pids of every process that serves ``endpoint`` → their resident set in bytes."""
    marker = f"MODELYARD_ENDPOINT={endpoint}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                fields = (entry / "statm").read_text().split()
                found[int(entry.name)] = int(fields[1]) * 4096
        except (OSError, IndexError):
            continue
    return found
