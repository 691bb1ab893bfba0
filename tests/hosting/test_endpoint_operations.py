"""Scaling, traffic split, updates, crash recovery, server restart, sandbox, and the seed recommender."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.hosting.models import GENERIC_IMAGE, deploy, instance_pids, package, scaler_model, wait_for_status
from tests.support.server import start_server


def predict(runtime, name: str, payload: dict, **kwargs) -> dict:  # type: ignore[no-untyped-def, type-arg]
    response = runtime.invoke_endpoint(EndpointName=name, ContentType="application/json",
                                       Body=json.dumps(payload), **kwargs)
    return {"variant": response["InvokedProductionVariant"], **json.loads(response["Body"].read())}


def test_instances_share_load_and_a_killed_instance_is_replaced(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    deploy(sm, unique, str(scaler_model(tmp_path)), count=2)
    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(lambda _: predict(runtime, unique, {"x": [1], "sleep": 0.05})["instance"], range(24)))
    assert len(ids) == 2
    victim = sorted(ids)[0]
    pids = instance_pids(victim)
    assert pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # gone already when its sandbox's init died first
            os.kill(pid, signal.SIGKILL)
    errors, answered = 0, set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(answered - {victim}) < 2:
        try:
            answered.add(predict(runtime, unique, {"x": [1]})["instance"])
        except ClientError:
            errors += 1
        time.sleep(0.02)
    assert len(answered - {victim}) == 2, answered
    assert errors <= 2
    described = sm.describe_endpoint(EndpointName=unique)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2


def test_variant_weights_split_traffic_and_target_variant_overrides(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    artifact = str(scaler_model(tmp_path))
    for suffix in ("a", "b"):
        sm.create_model(ModelName=unique + suffix, ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                        PrimaryContainer={"Image": GENERIC_IMAGE, "ModelDataUrl": artifact})
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "A", "ModelName": unique + "a", "InitialInstanceCount": 1, "InitialVariantWeight": 3,
         "InstanceType": "ml.m5.large"},
        {"VariantName": "B", "ModelName": unique + "b", "InitialInstanceCount": 1, "InitialVariantWeight": 1,
         "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    assert wait_for_status(sm, unique)["EndpointStatus"] == "InService"
    counts = collections.Counter(predict(runtime, unique, {"x": [1]})["variant"] for _ in range(400))
    assert 0.65 < counts["A"] / 400 < 0.85, counts
    assert all(predict(runtime, unique, {"x": [1]}, TargetVariant="B")["variant"] == "B" for _ in range(5))

    sm.update_endpoint_weights_and_capacities(EndpointName=unique, DesiredWeightsAndCapacities=[
        {"VariantName": "A", "DesiredWeight": 0}, {"VariantName": "B", "DesiredInstanceCount": 2}])
    described = wait_for_status(sm, unique, ("InService",))
    by_name = {v["VariantName"]: v for v in described["ProductionVariants"]}
    assert by_name["A"]["CurrentWeight"] == 0 and by_name["B"]["CurrentInstanceCount"] == 2
    assert {predict(runtime, unique, {"x": [1]})["variant"] for _ in range(30)} == {"B"}
    with pytest.raises(ClientError) as info:
        sm.update_endpoint_weights_and_capacities(EndpointName=unique, DesiredWeightsAndCapacities=[
            {"VariantName": "C", "DesiredWeight": 1}])
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_update_endpoint_switches_config_without_dropping_requests(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    deploy(sm, unique, str(scaler_model(tmp_path / "v1", scale=1.0)))
    sm.create_model(ModelName=unique + "v2", ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                    PrimaryContainer={"Image": GENERIC_IMAGE,
                                      "ModelDataUrl": str(scaler_model(tmp_path / "v2", scale=100.0))})
    sm.create_endpoint_config(EndpointConfigName=unique + "v2", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique + "v2", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])
    sm.update_endpoint(EndpointName=unique, EndpointConfigName=unique + "v2")
    seen, failures = [], 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            seen.append(predict(runtime, unique, {"x": [1]})["y"][0])
        except ClientError:
            failures += 1
        if seen and seen[-1] == 100.0:
            break
    assert failures == 0 and seen[-1] == 100.0
    described = wait_for_status(sm, unique, ("InService",))
    assert described["EndpointConfigName"] == unique + "v2"
    with pytest.raises(ClientError) as info:
        sm.update_endpoint(EndpointName=unique, EndpointConfigName="missing-config")
    assert "Could not find endpoint configuration" in info.value.response["Error"]["Message"]


RECOMMENDER = {
    "code/inference.py": '''
from pathlib import Path
from recommender import Recommender
from models import Request, Response

def model_fn(model_dir):
    return Recommender.load(Path(model_dir))

def input_fn(request_body, request_content_type):
    if request_content_type != "application/json":
        raise ValueError(f"Invalid content-type: {request_content_type} (expected: application/json)")
    return Request.model_validate_json(request_body)

def predict_fn(input_data, model):
    return input_data.user_id, model.predict(input_data.user_id, input_data.k)

def output_fn(prediction, response_content_type):
    user_id, recommendations = prediction
    return Response(user_id=user_id, recommendations=recommendations).model_dump_json()
''',
    "code/models.py": '''
from pydantic import BaseModel, field_validator

class Request(BaseModel):
    user_id: str
    k: int

class Response(BaseModel):
    user_id: str
    recommendations: list[dict[str, float]]

    @field_validator("recommendations", mode="before")
    @classmethod
    def pairs_to_dicts(cls, value):
        return [{content: score} for content, score in value]
''',
    "code/recommender.py": '''
import csv

class Recommender:
    def __init__(self, users, movies):
        self.users, self.movies = users, movies

    @classmethod
    def load(cls, model_dir):
        read = lambda p: {row[0]: [float(v) for v in row[1:]] for row in csv.reader(open(p))}
        return cls(read(model_dir / "user_vectors.csv"), read(model_dir / "movie_vectors.csv"))

    def predict(self, user_id, k):
        user = self.users[user_id]
        scores = {m: sum(a * b for a, b in zip(user, v)) for m, v in self.movies.items()}
        return sorted(scores.items(), key=lambda kv: -kv[1])[:k]
''',
    "code/requirements.txt": "pydantic>=2,<3\n",
    "user_vectors.csv": "114521,1.0,2.0\n7,0.5,0.1\n",
    "movie_vectors.csv": "1887,3.0,4.0\n2266,2.0,4.5\n1904,5.0,0.1\n42,0.1,0.1\n",
}


@pytest.mark.slow
def test_seed_recommender_with_pydantic_requirements(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    described = deploy(sm, unique, str(package(tmp_path, RECOMMENDER)))
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    body = predict(runtime, unique, {"user_id": "114521", "k": 3})
    assert body["user_id"] == "114521"
    assert [list(r)[0] for r in body["recommendations"]] == ["1887", "2266", "1904"]


SANDBOX_PROBE = '''
import json, os, socket

def model_fn(model_dir):
    return None

def predict_fn(data, model):
    results = {}
    for path in ("/opt/ml/model/x", "/opt/ml/probe.txt", "/tmp/probe.txt", os.path.expanduser("~root/probe.txt"),
                 "/work/probe.txt", "/etc/probe.txt"):
        try:
            with open(path, "w") as handle:
                handle.write("x")
            results[path] = "written"
        except OSError as exc:
            results[path] = type(exc).__name__
    try:
        socket.create_connection(("127.0.0.1", data["port"]), timeout=2).close()
        results["network"] = "reached"
    except OSError as exc:
        results["network"] = type(exc).__name__
    return results
'''


@pytest.mark.parametrize("isolated", [False, True])
def test_the_model_runs_in_a_sandbox(sm, runtime, hosting_server, tmp_path, unique, isolated):  # type: ignore[no-untyped-def]
    port = int(hosting_server.url.rsplit(":", 1)[1])
    deploy(sm, unique, str(package(tmp_path, {"code/inference.py": SANDBOX_PROBE})), isolated=isolated)
    response = runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json",
                                       Body=json.dumps({"port": port}))
    results = json.loads(response["Body"].read())
    assert results["/opt/ml/probe.txt"] == "written" and results["/tmp/probe.txt"] == "written"
    for path in ("/opt/ml/model/x", "/work/probe.txt", "/etc/probe.txt"):
        assert results[path] != "written", results
    assert not Path("/tmp/probe.txt").exists()
    assert results["network"] == "ConnectionRefusedError", "the server's loopback port is out of reach either way"


def test_server_restart_brings_endpoints_back(tmp_path, unique):  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
        deploy(sm, unique, str(scaler_model(tmp_path, scale=7.0)), count=3)
        assert predict(runtime, unique, {"x": [1]})["y"] == [7.0]
        sm.update_endpoint_weights_and_capacities(EndpointName=unique, DesiredWeightsAndCapacities=[
            {"VariantName": "AllTraffic", "DesiredInstanceCount": 2}])
        time.sleep(0.2)
        described = wait_for_status(sm, unique, ("InService",))
        assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2, "the capacity update was lost"
    finally:
        server.stop()
    server = start_server(data_dir)
    try:
        sm, runtime = client_for(server, "sagemaker"), client_for(server, "sagemaker-runtime")
        deadline = time.monotonic() + 120
        while True:
            try:
                assert predict(runtime, unique, {"x": [2]})["y"] == [14.0]
                break
            except ClientError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        described = wait_for_status(sm, unique, ("InService",))
        assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2, "the capacity update was lost"
    finally:
        server.stop()
