"""Resources created through the real service functions, in process."""

from __future__ import annotations

from typing import Any

from modelyard.context import RequestContext
from modelyard.services.endpoint_configs import create_endpoint_config
from modelyard.services.models import create_model
from modelyard.services.transform_jobs import create_transform_job

ROLE = "arn:aws:iam::000000000000:role/test"


def add_model(ctx: RequestContext, name: str, image: str) -> None:
    """A single-container model running ``image``."""
    create_model(ctx, {"ModelName": name, "ExecutionRoleArn": ROLE,
                       "PrimaryContainer": {"Image": image, "ModelDataUrl": f"s3://bucket/{name}/model.tar.gz"}})


def add_config(ctx: RequestContext, name: str, model: str, count: int = 1) -> None:
    """An endpoint config with one variant ``main`` of ``model``."""
    create_endpoint_config(ctx, {"EndpointConfigName": name, "ProductionVariants": [
        {"VariantName": "main", "ModelName": model, "InitialInstanceCount": count,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}]})


def add_transform_job(ctx: RequestContext, name: str, model: str) -> dict[str, Any]:
    """An InProgress transform job of ``model``."""
    return create_transform_job(ctx, {
        "TransformJobName": name, "ModelName": model,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://in/x"}}},
        "TransformOutput": {"S3OutputPath": "s3://out/x"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}})
