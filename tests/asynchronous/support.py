"""Helpers of the asynchronous-inference tests: async endpoints, inputs in the server's own S3, polling."""

from __future__ import annotations

import time
from typing import Any

from tests.hosting.models import GENERIC_IMAGE, wait_for_status

ROLE = "arn:aws:iam::000000000000:role/modelyard"


def deploy_async(sm: Any, name: str, model_data: str, output: dict[str, Any], *,  # type: ignore[misc]
                 client_config: dict[str, Any] | None = None, count: int = 1) -> dict[str, Any]:
    """Model -> endpoint config with AsyncInferenceConfig -> endpoint, all named ``name``."""
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": GENERIC_IMAGE, "ModelDataUrl": model_data})
    config: dict[str, Any] = {"OutputConfig": output}
    if client_config:
        config["ClientConfig"] = client_config
    sm.create_endpoint_config(EndpointConfigName=name, AsyncInferenceConfig=config, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": count,
         "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_for_status(sm, name)


def wait_for_object(s3: Any, uri: str, timeout: float = 60.0) -> bytes:
    """Poll until the object at ``uri`` exists; its bytes."""
    bucket, key = uri[len("s3://"):].split("/", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            if time.monotonic() > deadline:
                raise AssertionError(f"{uri} did not appear within {timeout}s") from None
            time.sleep(0.1)


def object_exists(s3: Any, uri: str) -> bool:
    """Whether ``uri`` names an object."""
    bucket, key = uri[len("s3://"):].split("/", 1)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError:
        return False
    return True
