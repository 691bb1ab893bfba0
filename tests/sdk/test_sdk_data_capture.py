"""The SDK's data capture, unchanged: Model.deploy(data_capture_config=...), predict, disable_data_capture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sdk.conftest import BUCKET, ROLE, SdkStack, check
from tests.sdk.test_sdk_hosting import upload_vectors


@pytest.mark.slow
def test_deploy_with_data_capture_config(sdk_stack: SdkStack, tmp_path: Path, examples: Path, unique: str) -> None:
    recommender = examples / "recommender"
    script = upload_vectors(recommender) + f'''
import json
import time
import sagemaker
from sagemaker.model_monitor import DataCaptureConfig
from sagemaker.s3 import S3Downloader

destination = "s3://{BUCKET}/data-capture/{unique}"
model = sagemaker.Model(image_uri="modelyard/python:3.11", model_data=model_data, role="{ROLE}",
                        entry_point="inference.py", source_dir="{recommender / 'model' / 'code'}",
                        predictor_cls=sagemaker.predictor.Predictor, sagemaker_session=session)
predictor = model.deploy(instance_type="ml.m5.xlarge", initial_instance_count=1, endpoint_name="{unique}",
                         data_capture_config=DataCaptureConfig(enable_capture=True, sampling_percentage=100,
                                                               destination_s3_uri=destination))
print("STARTED", json.dumps(session.sagemaker_client.describe_endpoint(EndpointName="{unique}")["DataCaptureConfig"]))
for user in ("114521", "100137", "100274"):
    predictor.predict(json.dumps({{"user_id": user, "k": 2}}), initial_args={{"ContentType": "application/json"}})
predictor.disable_data_capture()
print("STOPPED", json.dumps(session.sagemaker_client.describe_endpoint(EndpointName="{unique}")["DataCaptureConfig"]))
files = S3Downloader.list(destination)
records = [json.loads(line) for uri in files for line in S3Downloader.read_file(uri).splitlines()]
print("FILES", json.dumps(files))
print("RECORDS", json.dumps(records))
predictor.delete_endpoint()
'''
    output = check(sdk_stack.run(script, tmp_path))
    lines = {marker: json.loads(output.split(f"{marker} ", 1)[1].splitlines()[0])
             for marker in ("STARTED", "STOPPED", "FILES", "RECORDS")}
    destination = f"s3://{BUCKET}/data-capture/{unique}"
    assert lines["STARTED"] == {"EnableCapture": True, "CaptureStatus": "Started", "CurrentSamplingPercentage": 100,
                                "DestinationS3Uri": destination}
    assert lines["STOPPED"]["CaptureStatus"] == "Stopped" and lines["STOPPED"]["EnableCapture"] is False
    assert lines["FILES"] and all(uri.startswith(f"{destination}/{unique}/AllTraffic/") for uri in lines["FILES"])
    users = sorted(json.loads(r["captureData"]["endpointInput"]["data"])["user_id"] for r in lines["RECORDS"])
    assert users == ["100137", "100274", "114521"]
    for record in lines["RECORDS"]:
        assert record["captureData"]["endpointInput"]["encoding"] == "JSON"
        assert record["captureData"]["endpointOutput"]["encoding"] == "JSON"
        assert len(json.loads(record["captureData"]["endpointOutput"]["data"])["recommendations"]) == 2
