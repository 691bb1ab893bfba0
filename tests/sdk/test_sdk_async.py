"""The SDK's asynchronous-inference flow, unchanged: deploy with AsyncInferenceConfig, then
AsyncPredictor.predict_async / predict, with inputs and outputs in modelyard's own S3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hosting.models import scaler_model
from tests.sdk.conftest import BUCKET, ROLE, SdkStack, check


@pytest.mark.slow
def test_async_deploy_predict_async_and_predict(sdk_stack: SdkStack, tmp_path: Path, unique: str) -> None:
    model_tar = scaler_model(tmp_path / "scaler", scale=3.0)
    script = f'''
import json
import os
import sagemaker
from sagemaker.async_inference import AsyncInferenceConfig, WaiterConfig
from sagemaker.serializers import JSONSerializer
from sagemaker.deserializers import JSONDeserializer

session = sagemaker.Session()
model_data = session.upload_data("{model_tar}", key_prefix="async/{unique}")
model = sagemaker.Model(image_uri="modelyard/python:3.11", model_data=model_data, role="{ROLE}",
                        predictor_cls=sagemaker.predictor.Predictor, sagemaker_session=session)
predictor = model.deploy(
    instance_type="ml.m5.xlarge", initial_instance_count=1, endpoint_name="{unique}",
    serializer=JSONSerializer(), deserializer=JSONDeserializer(),
    async_inference_config=AsyncInferenceConfig(output_path="s3://{BUCKET}/async/{unique}/out",
                                                failure_path="s3://{BUCKET}/async/{unique}/failed"))
print("PREDICTOR", type(predictor).__name__)
fast = WaiterConfig(max_attempts=120, delay=1)
print("PREDICT", json.dumps(predictor.predict({{"x": [1, 2]}}, waiter_config=fast)))
response = predictor.predict_async({{"x": [5]}})
print("OUTPUT_PATH", response.output_path)
print("ASYNC", json.dumps(response.get_result(fast)))
predictor.delete_endpoint()
print("DELETED", flush=True)
# The SDK leaves one thread per call waiting for a failure file that never comes, until its waiter's
# max_attempts run out (two minutes here, on AWS too); the script's work is done.
os._exit(0)
'''
    output = check(sdk_stack.run(script, tmp_path))

    def printed(marker: str) -> str:
        return output.split(f"{marker} ", 1)[1].splitlines()[0]

    lines = {marker: printed(marker) for marker in ("PREDICTOR", "PREDICT", "OUTPUT_PATH", "ASYNC")}
    assert lines["PREDICTOR"] == "AsyncPredictor"
    assert json.loads(lines["PREDICT"])["y"] == [3.0, 6.0]
    assert lines["OUTPUT_PATH"].startswith(f"s3://{BUCKET}/async/{unique}/out/")
    assert json.loads(lines["ASYNC"])["y"] == [15.0]
    assert "DELETED" in output
