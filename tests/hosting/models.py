"""Model packages used by the hosting tests, built the SageMaker way (model.tar.gz with code/)."""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path

GENERIC_IMAGE = "modelyard/python:3.11"

SCALER = '''
import json, os, time

def model_fn(model_dir, context=None):
    with open(os.path.join(model_dir, "weights.json")) as handle:
        return json.load(handle)

def input_fn(body, content_type):
    if content_type != "application/json":
        raise ValueError(f"unsupported content type {content_type}")
    return json.loads(body)

def predict_fn(data, model):
    if data.get("fail"):
        raise RuntimeError("boom: " + data["fail"])
    if data.get("sleep"):
        time.sleep(data["sleep"])
    if data.get("exit"):
        os._exit(3)
    return {"y": [x * model["scale"] for x in data["x"]], "instance": os.environ["MODELYARD_INSTANCE_ID"]}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''

BROKEN_MODEL_FN = '''
def model_fn(model_dir):
    raise FileNotFoundError("weights.bin is missing from the artifact")
'''


def package(directory: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) and pack them into ``directory/model.tar.gz``."""
    root = directory / "model"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    tar_path = directory / "model.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name)
    return tar_path


def scaler_model(directory: Path, scale: float = 2.0, requirements: str | None = None) -> Path:
    """The scaler model: y = x * scale."""
    files = {"weights.json": json.dumps({"scale": scale}), "code/inference.py": SCALER}
    if requirements is not None:
        files["code/requirements.txt"] = requirements
    return package(directory, files)


def instance_pids(instance_id: str) -> list[int]:
    """Host pids of an instance's processes (sandbox included), found by its MODELYARD_INSTANCE_ID."""
    return pids_with_env("MODELYARD_INSTANCE_ID", instance_id)


def endpoint_pids(endpoint: str) -> list[int]:
    """Host pids of every instance process of an endpoint, found by their MODELYARD_ENDPOINT."""
    return pids_with_env("MODELYARD_ENDPOINT", endpoint)


def pids_with_env(variable: str, value: str) -> list[int]:
    """Host pids of the processes whose environment sets ``variable`` to ``value``."""
    marker = f"{variable}={value}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def wait_for_status(sm, name: str, statuses: tuple[str, ...] = ("InService", "Failed"),  # type: ignore[no-untyped-def]
                    timeout: float = 240.0) -> dict:  # type: ignore[type-arg]
    """Poll DescribeEndpoint until the status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] in statuses:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"endpoint {name} still {described['EndpointStatus']} after {timeout}s")
        time.sleep(0.1)


def deploy(sm, name: str, model_data: str, *, image: str = GENERIC_IMAGE, count: int = 1,  # type: ignore[no-untyped-def]
           env: dict[str, str] | None = None, variants: list[dict] | None = None,  # type: ignore[type-arg]
           wait: bool = True, isolated: bool = False) -> dict:  # type: ignore[type-arg]
    """Model -> endpoint config -> endpoint (all named ``name``); waits for a final status."""
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/modelyard",
                    PrimaryContainer={"Image": image, "ModelDataUrl": model_data, "Environment": env or {}},
                    EnableNetworkIsolation=isolated)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants or [
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": count,
         "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_for_status(sm, name) if wait else {}


def endpoint_log_lines(logs, endpoint: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every line of every log stream in ``endpoint``'s log group (``logs``: a CloudWatch Logs client)."""
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    return [event["message"] for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]
            for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]]
