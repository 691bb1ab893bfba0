"""InvokeEndpointAsync on a Serial multi-container endpoint: the chain runs over files, the output is
the last container's answer, and a container's error goes to the failure path naming it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.asynchronous.conftest import AsyncSetup
from tests.asynchronous.support import ROLE, wait_for_object
from tests.hosting.models import GENERIC_IMAGE, package, wait_for_status
from tests.hosting.test_multi_container import STEP


def test_serial_pipeline_answers_asynchronously(async_setup: AsyncSetup, tmp_path: Path, unique: str) -> None:
    sm, s3 = async_setup.client("sagemaker"), async_setup.client("s3")
    runtime = async_setup.client("sagemaker-runtime")
    data = f"file://{package(tmp_path, {'code/inference.py': STEP})}"
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=[
        {"Image": GENERIC_IMAGE, "ModelDataUrl": data,
         "Environment": {"STEP": "double", "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}},
        {"Image": GENERIC_IMAGE, "ModelDataUrl": data, "Environment": {"STEP": "increment"}}])
    bucket = async_setup.bucket
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": f"s3://{bucket}/{unique}/out",
                                               "S3FailurePath": f"s3://{bucket}/{unique}/failed"}})
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    described = wait_for_status(sm, unique)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")

    s3.put_object(Bucket=bucket, Key=f"{unique}/in/good.json", Body=b'{"x": [1, 2]}')
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/bad.json", Body=b'{"x": [6.5]}')
    good = runtime.invoke_endpoint_async(EndpointName=unique, ContentType="application/json",
                                         Accept="application/json", InputLocation=f"s3://{bucket}/{unique}/in/good.json")
    bad = runtime.invoke_endpoint_async(EndpointName=unique, ContentType="application/json",
                                        InputLocation=f"s3://{bucket}/{unique}/in/bad.json")
    assert json.loads(wait_for_object(s3, good["OutputLocation"])) == {"x": [3.0, 5.0]}
    failure = wait_for_object(s3, bad["FailureLocation"]).decode()
    assert "from container-2" in failure and "refuses 13" in failure, failure
    sm.delete_endpoint(EndpointName=unique)
