"""What the batch transform end-to-end tests share: a model, a server wired to moto S3, and helpers.

The model is pure Python on the generic image (its environment builds in about a second). One
request body is one or more lines; ``ContentType`` picks how a line is read:

    text/plain            a line "abc" -> "ABC"; "sleep" sleeps 1 s; "hang" 60 s; "env:NAME" -> $NAME; "fail" raises;
                          "exit" ends the container process;
                          "calls" -> how many times predict_fn ran in this process, this call included
    text/csv              a row "1,2" -> (1+2)*scale; a field "fail" raises
    application/jsonlines {"x": [1, 2]} (or a bare list) -> {"score": (1+2)*scale}; {"fail": ...} raises

and ``Accept`` how the outputs of one request are written: ``application/json`` as one JSON array,
``text/csv``/``application/jsonlines`` one line per record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import client_for
from tests.hosting.models import GENERIC_IMAGE, package
from tests.support.moto_s3 import MotoS3Server, start_moto_s3
from tests.support.server import ServerProcess, start_server

ROLE = "arn:aws:iam::000000000000:role/modelyard"
BUCKET = "transform-data"

MODEL = '''
import json, os, time

CALLS = [0]

def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as handle:
        return json.load(handle)

def input_fn(body, content_type):
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    lines = [line for line in text.split("\\n") if line]
    if content_type == "text/plain":
        return "text", lines
    if content_type == "text/csv":
        return "csv", [line.split(",") for line in lines]
    if content_type in ("application/jsonlines", "application/json"):
        return "json", [json.loads(line) for line in lines]
    raise ValueError(f"unsupported content type {content_type}")

def _one(kind, row, scale):
    if kind == "text":
        if row == "fail":
            raise RuntimeError("cannot read the line fail")
        if row == "sleep":
            time.sleep(1)
        if row == "hang":
            time.sleep(60)
        if row == "exit":
            os._exit(3)
        if row == "calls":
            return str(CALLS[0])
        if row.startswith("env:"):
            return os.environ.get(row[4:], "<unset>")
        return row.upper()
    if kind == "csv":
        if "fail" in row:
            raise RuntimeError("cannot score row " + ",".join(row))
        return sum(float(v) for v in row) * scale
    if isinstance(row, dict) and row.get("fail"):
        raise RuntimeError("cannot score record " + json.dumps(row))
    values = row["x"] if isinstance(row, dict) else row
    return {"score": sum(values) * scale}

def predict_fn(data, model):
    CALLS[0] += 1
    kind, rows = data
    return [_one(kind, row, model["scale"]) for row in rows]

def output_fn(prediction, accept):
    if accept == "application/json":
        return json.dumps(prediction, separators=(",", ":"))
    if accept == "text/csv":
        return "\\n".join(str(value) for value in prediction)
    if accept == "application/jsonlines":
        return "\\n".join(json.dumps(value, separators=(",", ":")) for value in prediction)
    raise ValueError(f"unsupported accept {accept}")
'''


def model_artifact(directory: Path, scale: float = 2.0) -> Path:
    """The test model, packaged as model.tar.gz."""
    return package(directory, {"weights.json": json.dumps({"scale": scale}), "code/inference.py": MODEL})


def moto_fixture() -> Iterator[MotoS3Server]:
    """A moto S3 server with the test bucket."""
    moto = start_moto_s3()
    moto.client().create_bucket(Bucket=BUCKET)
    yield moto
    moto.stop()


def server_env(moto: MotoS3Server) -> dict[str, str]:
    """Environment that points the server's S3 access at moto."""
    return {"AWS_ENDPOINT_URL_S3": moto.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "MODELYARD_HEALTH_CHECK_TIMEOUT_SECONDS": "120"}


def transform_server(tmp_path_factory: pytest.TempPathFactory, moto: MotoS3Server,
                     name: str) -> Iterator[ServerProcess]:
    """A modelyard server whose S3 is moto."""
    server = start_server(tmp_path_factory.mktemp(name), env=server_env(moto))
    yield server
    server.stop()


def module_fixtures(name: str) -> tuple[Any, Any, Any]:
    """A test module's ``moto``, ``server`` (named ``name``, its S3 in moto) and ``sm`` fixtures, one of each
    per module: ``moto, server, sm = module_fixtures("...")``."""
    moto = pytest.fixture(scope="module", name="moto")(moto_fixture)

    @pytest.fixture(scope="module", name="server")
    def server(tmp_path_factory: pytest.TempPathFactory, moto: MotoS3Server) -> Iterator[ServerProcess]:
        yield from transform_server(tmp_path_factory, moto, name)

    @pytest.fixture(scope="module", name="sm")
    def sm(server: ServerProcess) -> Any:
        return client_for(server, "sagemaker")

    return moto, server, sm


def model_fixture(name: str) -> Any:
    """A module fixture ``model``: the test model registered as ``name`` (its name), on one worker, so the
    calls its records count are every call of the job."""
    @pytest.fixture(scope="module", name="model")
    def model(sm: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
        create_model(sm, name, model_artifact(tmp_path_factory.mktemp("model")), ONE_WORKER)
        return name

    return model


ONE_WORKER = {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}


def create_model(sm: Any, name: str, artifact: Path, env: dict[str, str] | None = None) -> None:
    """Register the test model under ``name``."""
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": GENERIC_IMAGE, "ModelDataUrl": f"file://{artifact}",
                                      "Environment": env or {}})


def transform_request(name: str, model: str, input_uri: str, output_uri: str, *, content_type: str,
                      accept: str, split: str = "Line", strategy: str | None = "MultiRecord",
                      assemble: str = "Line", data_type: str = "S3Prefix", **extra: Any) -> dict[str, Any]:
    """A CreateTransformJob request."""
    request: dict[str, Any] = {
        "TransformJobName": name, "ModelName": model,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": input_uri}},
                           "ContentType": content_type, "SplitType": split},
        "TransformOutput": {"S3OutputPath": output_uri, "Accept": accept, "AssembleWith": assemble},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    if strategy is not None:
        request["BatchStrategy"] = strategy
    request.update(extra)
    return request


def wait_for_job(sm: Any, name: str, timeout: float = 180.0,
                 statuses: tuple[str, ...] = ("Completed", "Failed", "Stopped")) -> dict[str, Any]:
    """Poll DescribeTransformJob until the status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in statuses:
            return described  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"transform job {name} still {described['TransformJobStatus']} after {timeout}s")
        time.sleep(0.1)


def s3_read(s3: Any, key: str) -> bytes:
    """An object of the test bucket."""
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()  # type: ignore[no-any-return]


def s3_keys(s3: Any, prefix: str) -> list[str]:
    """Keys under ``prefix`` in the test bucket."""
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


__all__ = ["BUCKET", "client_for", "create_model", "model_artifact", "moto_fixture", "s3_keys", "s3_read",
           "server_env", "transform_request", "transform_server", "wait_for_job"]
