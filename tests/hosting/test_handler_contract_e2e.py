"""The handler contract through the whole path: transform_fn, context, custom attributes, defaults, logs."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.hosting.models import deploy, package

TRANSFORM_WITH_CONTEXT = '''
import json

def model_fn(model_dir, context):
    return {"model_dir": model_dir, "gpu": context.system_properties.get("gpu_id")}

def transform_fn(model, body, content_type, accept, context):
    attributes = context.custom_attributes
    context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", f"echo={attributes}")
    payload = {"body": body.decode() if isinstance(body, bytes) else body, "content_type": content_type,
               "accept": accept, "model_dir": model["model_dir"]}
    return json.dumps(payload).encode(), "application/json"
'''

DEFAULTS_ONLY = '''
class Doubler:
    def predict(self, data):
        if isinstance(data, list):
            return [[2 * float(v) for v in row] if isinstance(row, list) else 2 * float(row) for row in data]
        return data * 2

def model_fn(model_dir):
    return Doubler()
'''


def test_transform_fn_context_and_custom_attributes_round_trip(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    deploy(sm, unique, str(package(tmp_path, {"code/inference.py": TRANSFORM_WITH_CONTEXT})))
    response = runtime.invoke_endpoint(EndpointName=unique, ContentType="text/plain", Accept="application/json",
                                       Body=b"hello", CustomAttributes="trace-id=42")
    body = json.loads(response["Body"].read())
    assert body == {"body": "hello", "content_type": "text/plain", "accept": "application/json",
                    "model_dir": "/opt/ml/model"}
    assert response["CustomAttributes"] == "echo=trace-id=42"
    assert response["ContentType"] == "application/json"


def test_default_handlers_for_json_and_csv(sm, runtime, tmp_path, unique):  # type: ignore[no-untyped-def]
    deploy(sm, unique, str(package(tmp_path, {"code/inference.py": DEFAULTS_ONLY})))
    response = runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b"[[1, 2], [3, 4]]")
    assert json.loads(response["Body"].read()) == [[2.0, 4.0], [6.0, 8.0]]
    response = runtime.invoke_endpoint(EndpointName=unique, ContentType="text/csv", Accept="text/csv",
                                       Body=b"1,2\n3,4\n")
    assert response["ContentType"] == "text/csv"
    assert response["Body"].read().decode().split() == ["2.0,4.0", "6.0,8.0"]
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/x-unknown", Body=b"??")
    assert info.value.response["OriginalStatusCode"] == 500  # sagemaker-inference's UnsupportedFormatError is a 500
    assert "application/x-unknown is not supported" in info.value.response["OriginalMessage"]


def test_handler_tracebacks_go_to_the_endpoint_logs(sm, runtime, logs, tmp_path, unique):  # type: ignore[no-untyped-def]
    failing = ('def model_fn(d):\n    return None\n\n'
               'def transform_fn(m, b, c, a):\n    raise KeyError("no such feature: age")\n')
    deploy(sm, unique, str(package(tmp_path, {"code/inference.py": failing})))
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, ContentType="application/json", Body=b"{}")
    assert "no such feature: age" in info.value.response["OriginalMessage"]
    assert "Traceback" not in info.value.response["OriginalMessage"]
    group = f"/aws/sagemaker/Endpoints/{unique}"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    deadline = time.monotonic() + 10
    while True:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        text = "\n".join(e["message"] for e in events)
        if "Traceback" in text and "no such feature: age" in text:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
