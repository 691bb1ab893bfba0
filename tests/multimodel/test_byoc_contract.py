"""A bring-your-own multi-model container gets SageMaker's container contract: POST /models,
POST /models/{name}/invoke, DELETE /models/{name}; 507 makes room, and one container serves two models."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.hosting.models import wait_for_status
from tests.hosting.test_byoc import image_dir, register
from tests.multimodel.models import echo_model, invoke

ROLE = "arn:aws:iam::000000000000:role/modelyard"

CONTRACT_SERVE = r'''#!/usr/bin/env python3
import json, os, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODELS = {}
PROCESS = uuid.uuid4().hex
CAPACITY = int(os.environ.get("CAPACITY", "100"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/ping":
            return self.reply(200, {"status": "ok"})
        if self.path == "/models":
            return self.reply(200, {"models": [{"modelName": n, "modelUrl": m["url"]} for n, m in MODELS.items()]})
        return self.reply(404, {"error": self.path})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/models":
            request = json.loads(body)
            name = request["model_name"]
            if name in MODELS:
                return self.reply(409, {"error": f"{name} is already loaded"})
            if len(MODELS) >= CAPACITY:
                return self.reply(507, {"error": "no room"})
            with open(os.path.join(request["url"], "weights.json")) as handle:
                MODELS[name] = {"url": request["url"], "weights": json.load(handle)}
            if MODELS[name]["weights"].get("fail"):
                del MODELS[name]
                return self.reply(500, {"error": "cannot load: weights are bad"})
            return self.reply(200, {"status": f"loaded {name}"})
        parts = self.path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "models" and parts[2] == "invoke" and parts[1] in MODELS:
            weights = MODELS[parts[1]]["weights"]
            return self.reply(200, {"name": weights["name"], "process": PROCESS, "loaded": len(MODELS),
                                    "y": [x * weights.get("scale", 1) for x in json.loads(body)["x"]]})
        return self.reply(404, {"error": f"no model {self.path}"})

    def do_DELETE(self):
        name = self.path.strip("/").split("/")[-1]
        return self.reply(200 if MODELS.pop(name, None) else 404, {"status": "unloaded"})

    def reply(self, status, document):
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
'''


@pytest.fixture()
def contract_image(mme_server, tmp_path: Path, unique: str) -> str:  # type: ignore[no-untyped-def]
    image = f"{unique}.dkr.ecr.us-east-1.amazonaws.com/contract:1"
    register(mme_server, image, image_dir(tmp_path / "image", serve=CONTRACT_SERVE,
                                          manifest={"env": {"SAGEMAKER_MULTI_MODEL": "true", "CAPACITY": "2"}}))
    return image


def test_one_container_serves_several_models_through_the_contract(  # type: ignore[no-untyped-def]
        sm, runtime, contract_image, tmp_path, unique):
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for name, scale in (("a", 2), ("b", 3), ("c", 4)):
        shutil.copy(echo_model(tmp_path / name, name, scale=scale), prefix / f"{name}.tar.gz")
    shutil.copy(echo_model(tmp_path / "bad", "bad", fail="yes"), prefix / "bad.tar.gz")
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": contract_image, "ModelDataUrl": f"file://{prefix}/", "Mode": "MultiModel"})
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    described = wait_for_status(sm, unique)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")

    a = invoke(runtime, unique, "a.tar.gz", {"x": [1]})
    b = invoke(runtime, unique, "b.tar.gz", {"x": [1]})
    assert (a["name"], a["y"], b["name"], b["y"]) == ("a", [2], "b", [3])
    assert a["process"] == b["process"] and b["loaded"] == 2
    c = invoke(runtime, unique, "c.tar.gz", {"x": [1]})
    assert c["y"] == [4] and c["loaded"] == 2, "507 should have unloaded the least recently used model"
    again = invoke(runtime, unique, "a.tar.gz", {"x": [5]})
    assert again["y"] == [10] and again["process"] == a["process"]

    with pytest.raises(runtime.exceptions.ModelError) as caught:
        invoke(runtime, unique, "bad.tar.gz")
    assert "bad.tar.gz" in caught.value.response["Error"]["Message"]
    assert "weights are bad" in caught.value.response["Error"]["Message"]
    assert invoke(runtime, unique, "a.tar.gz", {"x": [1]})["y"] == [2]
    with pytest.raises(runtime.exceptions.ValidationError):
        runtime.invoke_endpoint(EndpointName=unique, TargetModel="missing.tar.gz", Body=json.dumps({"x": [1]}),
                                ContentType="application/json")


@pytest.mark.slow
def test_the_seed_mms_container_serves_two_models_in_multi_model_mode(  # type: ignore[no-untyped-def]
        mme_server, sm, runtime, tmp_path, unique):
    from tests.hosting.test_byoc import EXAMPLE, expected_recommendations, pack_example_model

    image = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/realtime-inference-endpoint:{unique}"
    register(mme_server, image, EXAMPLE / "image")
    prefix = tmp_path / "prefix"
    (prefix / "team").mkdir(parents=True)
    artifact = pack_example_model(tmp_path)
    shutil.copy(artifact, prefix / "first.tar.gz")
    shutil.copy(artifact, prefix / "team" / "second.tar.gz")
    sourcedir = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(sourcedir, "w:gz") as tar:
        for child in sorted((EXAMPLE / "model" / "code").iterdir()):
            if child.name != "__pycache__":
                tar.add(child, arcname=child.name)
    # as on SageMaker, sagemaker-inference in multi-model mode imports the handler module from the
    # container's own path, not from each model: the code comes once, as the SDK ships it
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": image, "ModelDataUrl": f"file://{prefix}/", "Mode": "MultiModel",
        "Environment": {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": f"file://{sourcedir}", "PYTHONPATH": "/opt/ml/code"}})
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    described = wait_for_status(sm, unique, timeout=600)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    for target in ("first.tar.gz", "team/second.tar.gz"):
        answer = invoke(runtime, unique, target, {"user_id": "114521", "k": 3}, timeout=300)
        assert answer == {"user_id": "114521", "recommendations": expected_recommendations("114521", 3)}
    sm.delete_endpoint(EndpointName=unique)
