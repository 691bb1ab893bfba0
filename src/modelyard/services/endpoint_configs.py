"""Endpoint configurations: CreateEndpointConfig, DescribeEndpointConfig, ListEndpointConfigs, Delete.

A configuration is immutable once created: its variants name existing models (checked at creation, as
SageMaker does), and endpoints copy what they need when they are created or updated. ARNs are
lower-cased, as AWS writes them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from modelyard.context import RequestContext
from modelyard.model_documents import model_containers
from modelyard.services.common import (
    arn_for,
    could_not_find,
    insert_tagged,
    list_page,
)
from modelyard.services.data_locations import check_locations
from modelyard.services.dispatch import operation
from modelyard.services.endpoint_config_checks import (
    check_async,
    check_data_capture,
    check_serverless_features,
    check_serverless_model,
    check_variants,
)
from modelyard.services.models import MODEL
from modelyard.services.unsupported import refuse_unsupported
from modelyard.services.unsupported_hosting import CREATE_ENDPOINT_CONFIG
from modelyard.store.errors import DuplicateKey
from modelyard.store.resources import delete_record, get_record
from modelyard.wire.errors import ValidationException

ENDPOINT_CONFIG = "endpoint-config"

_COPIED = ("KmsKeyId", "DataCaptureConfig", "AsyncInferenceConfig", "ExecutionRoleArn", "EnableNetworkIsolation",
           "MetricsConfig")


def endpoint_config_arn(ctx: RequestContext, name: str) -> str:
    """ARN of an endpoint configuration (lower-cased)."""
    return arn_for(ctx, ENDPOINT_CONFIG, name)


def find_endpoint_config(conn: Connection, ctx: RequestContext, name: str) -> dict[str, Any]:
    """A configuration's document, or SageMaker's 'Could not find endpoint configuration' error."""
    record = get_record(conn, ctx.account, ctx.region, ENDPOINT_CONFIG, name)
    if record is None:
        raise could_not_find("endpoint configuration", name)
    return record.document


def _variant(variant: dict[str, Any]) -> dict[str, Any]:
    return {**variant, "InitialVariantWeight": float(variant.get("InitialVariantWeight", 1.0))}


def _check_models(conn: Connection, ctx: RequestContext, variants: list[dict[str, Any]], *,
                  asynchronous: bool) -> None:
    for variant in variants:
        name = variant["ModelName"]
        model = get_record(conn, ctx.account, ctx.region, MODEL, name)
        if model is None:
            raise could_not_find("model", name)
        if "ServerlessConfig" in variant:
            check_serverless_model(model.document, variant["VariantName"])
        if asynchronous and any(c.get("Mode") == "MultiModel" for c in model_containers(model)):
            raise ValidationException(f'Model "{name}" is a multi-model model; asynchronous inference endpoints '
                                      "host single-model models only: remove AsyncInferenceConfig")
        if asynchronous and (model.document.get("InferenceExecutionConfig") or {}).get("Mode") == "Direct":
            raise ValidationException(f'Model "{name}" is a multi-container model with Direct invocation; '
                                      "InvokeEndpointAsync cannot name a TargetContainerHostname, so asynchronous "
                                      "endpoints cannot host it: use Mode Serial or remove AsyncInferenceConfig")


@operation("sagemaker", "CreateEndpointConfig")
def create_endpoint_config(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Create an endpoint configuration after checking its variants and their models."""
    name = request["EndpointConfigName"]
    production = request["ProductionVariants"]
    shadow = request.get("ShadowProductionVariants") or []
    check_variants(production, shadow)
    asynchronous = request.get("AsyncInferenceConfig")
    check_async(asynchronous, production, notifications_enabled=bool(ctx.settings.sns_endpoint_url))
    if asynchronous and shadow:
        raise ValidationException("ShadowProductionVariants copy real-time invocations; an asynchronous endpoint "
                                  "(AsyncInferenceConfig) takes none: remove one of them")
    if asynchronous and request.get("DataCaptureConfig"):
        raise ValidationException("DataCaptureConfig is not supported by modelyard yet on asynchronous endpoints "
                                  "(AsyncInferenceConfig): only real-time invocations are captured; remove one of them")
    if asynchronous:
        output = asynchronous["OutputConfig"]
        check_locations(ctx, [("AsyncInferenceConfig.OutputConfig.S3OutputPath", output.get("S3OutputPath")),
                              ("AsyncInferenceConfig.OutputConfig.S3FailurePath", output.get("S3FailurePath"))])
    capture = request.get("DataCaptureConfig")
    check_data_capture(capture)
    check_serverless_features(request)
    if capture:
        check_locations(ctx, [("DataCaptureConfig.DestinationS3Uri", capture["DestinationS3Uri"])])
    refuse_unsupported(request, CREATE_ENDPOINT_CONFIG)
    arn = endpoint_config_arn(ctx, name)
    document: dict[str, Any] = {
        "EndpointConfigName": name,
        "EndpointConfigArn": arn,
        "ProductionVariants": [_variant(v) for v in production],
        "CreationTime": ctx.now,
    }
    if shadow:
        document["ShadowProductionVariants"] = [_variant(v) for v in shadow]
    document.update({key: request[key] for key in _COPIED if key in request})
    try:
        with ctx.db.session(write=True) as conn:
            _check_models(conn, ctx, production + shadow, asynchronous="AsyncInferenceConfig" in request)
            insert_tagged(conn, ctx, ENDPOINT_CONFIG, name, arn, document, request.get("Tags"))
    except DuplicateKey:
        raise ValidationException(f'Cannot create already existing endpoint configuration "{arn}".') from None
    return {"EndpointConfigArn": arn}


@operation("sagemaker", "DescribeEndpointConfig")
def describe_endpoint_config(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Describe an endpoint configuration."""
    with ctx.db.session() as conn:
        return find_endpoint_config(conn, ctx, request["EndpointConfigName"])


@operation("sagemaker", "ListEndpointConfigs")
def list_endpoint_configs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """List configurations with name and creation-time filters, newest first by default, keyset-paged."""
    records, token = list_page(ctx, request, ENDPOINT_CONFIG)
    configs = [{"EndpointConfigName": r.name, "EndpointConfigArn": r.arn, "CreationTime": r.created_at}
               for r in records]
    return {"EndpointConfigs": configs, "NextToken": token}


@operation("sagemaker", "DeleteEndpointConfig")
def delete_endpoint_config(ctx: RequestContext, request: dict[str, Any]) -> None:
    """Delete a configuration (running endpoints keep what they copied from it, as in SageMaker)."""
    name = request["EndpointConfigName"]
    with ctx.db.session(write=True) as conn:
        record = get_record(conn, ctx.account, ctx.region, ENDPOINT_CONFIG, name)
        if record is None:
            raise could_not_find("endpoint configuration", name)
        delete_record(conn, record)
