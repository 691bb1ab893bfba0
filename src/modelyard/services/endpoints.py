"""Endpoints: the control-plane side. Calls write desired state and return at once; the hosting
controller (``ctx.app.endpoints``) drives instances and records every transition.

    CreateEndpoint -> Creating -> InService | Failed
    UpdateEndpoint / UpdateEndpointWeightsAndCapacities -> Updating -> InService (or back, with reason)
    DeleteEndpoint -> Deleting -> gone
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from modelyard.context import RequestContext
from modelyard.desired.capture import capture_summary
from modelyard.desired.endpoints import EndpointDesired
from modelyard.services.common import (
    arn_for,
    find,
    insert_tagged,
    list_page,
    notify_controller,
    validation_missing,
)
from modelyard.services.deployment_checks import check_deployment_config
from modelyard.services.dispatch import operation
from modelyard.services.endpoint_config_checks import is_serverless
from modelyard.services.unsupported import refuse_unsupported
from modelyard.services.unsupported_hosting import (
    CREATE_ENDPOINT,
    UPDATE_ENDPOINT,
    UPDATE_WEIGHTS_AND_CAPACITIES,
)
from modelyard.store.errors import DuplicateKey
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record, get_record
from modelyard.wire.errors import ValidationException

ENDPOINT = "endpoint"
ENDPOINT_CONFIG = "endpoint-config"
_SUMMARY = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")


def find_endpoint(conn: Connection, ctx: RequestContext, name: str) -> Record:
    """An endpoint by name or ARN, or SageMaker's "Could not find endpoint" error."""
    return find(conn, ctx, ENDPOINT, name, validation_missing("endpoint"))


def _find_config(conn: Connection, ctx: RequestContext, name: str) -> Record:
    return find(conn, ctx, ENDPOINT_CONFIG, name, validation_missing("endpoint configuration"))


def _variant_summaries(config: Record) -> list[dict[str, Any]]:
    """Variants as DescribeEndpoint shows them before any instance is up."""
    summaries = []
    for variant in config.document.get("ProductionVariants", []):
        summary: dict[str, Any] = {"VariantName": variant["VariantName"],
                                   "DesiredWeight": variant.get("InitialVariantWeight", 1.0)}
        if "ServerlessConfig" in variant:
            summary["DesiredServerlessConfig"] = variant["ServerlessConfig"]
        else:
            summary["DesiredInstanceCount"] = variant.get("InitialInstanceCount", 1)
        summaries.append(summary)
    return summaries


@operation("sagemaker", "CreateEndpoint")
def create_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Record a new endpoint as Creating; its instances start in the background."""
    name = request["EndpointName"]
    refuse_unsupported(request, CREATE_ENDPOINT)
    arn = arn_for(ctx, ENDPOINT, name)
    try:
        with ctx.db.session(write=True) as conn:
            config = _find_config(conn, ctx, request["EndpointConfigName"])
            deployment = request.get("DeploymentConfig")
            if deployment:
                check_deployment_config(conn, ctx, deployment, config.document, None)
            document = {
                "EndpointName": name, "EndpointArn": arn, "EndpointConfigName": config.name,
                "EndpointStatus": "Creating", "CreationTime": ctx.now, "LastModifiedTime": ctx.now,
                "ProductionVariants": _variant_summaries(config),
                "DataCaptureConfig": capture_summary(config.document.get("DataCaptureConfig"), started=False),
                "LastDeploymentConfig": deployment or None,
            }
            insert_tagged(conn, ctx, ENDPOINT, name, arn, document, request.get("Tags"), status="Creating",
                          desired=EndpointDesired(config.name).to_json())
    except DuplicateKey:
        raise ValidationException(f'Cannot create already existing endpoint "{arn}".') from None
    notify_controller(ctx, ctx.app.endpoints, name)
    return {"EndpointArn": arn}


@operation("sagemaker", "DescribeEndpoint")
def describe_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Describe an endpoint as its controller last recorded it (``DataCaptureConfig`` says ``Started`` only
    once the controller runs the capture of the deployed config)."""
    with ctx.db.session() as conn:
        return find_endpoint(conn, ctx, request["EndpointName"]).document


@operation("sagemaker", "ListEndpoints")
def list_endpoints(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """List endpoints with name, status and time filters, sorting and paging."""
    records, token = list_page(ctx, request, ENDPOINT)
    return {"Endpoints": [{k: r.document.get(k) for k in _SUMMARY} for r in records], "NextToken": token}


def _require_in_service(record: Record, action: str, allowed: tuple[str, ...] = ("InService",)) -> None:
    status = record.document["EndpointStatus"]
    if status not in allowed:
        raise ValidationException(
            f'Cannot {action} endpoint "{record.arn}" while it is {status}; wait until it is InService')


_UPDATABLE = ("InService", "UpdateRollbackFailed")
"""SageMaker's way out of UpdateRollbackFailed is another UpdateEndpoint."""


@operation("sagemaker", "UpdateEndpoint")
def update_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Move an endpoint to another config: blue/green (all at once, canary or linear traffic shifting with
    baking) or rolling per ``DeploymentConfig``, rolled back when an AutoRollbackConfiguration alarm fires;
    without one, new instances become healthy before traffic moves all at once."""
    refuse_unsupported(request, UPDATE_ENDPOINT)

    def change(current: Record) -> Patch:
        _require_in_service(current, "update", _UPDATABLE)
        return Patch({"EndpointStatus": "Updating", "FailureReason": None, "LastDeploymentConfig": deployment},
                     desired=EndpointDesired(config.name, deployment=deployment).to_json())

    with ctx.db.session(write=True) as conn:
        record = find_endpoint(conn, ctx, request["EndpointName"])
        config = _find_config(conn, ctx, request["EndpointConfigName"])
        current = get_record(conn, ctx.account, ctx.region, ENDPOINT_CONFIG, record.document["EndpointConfigName"])
        if current is not None and not is_serverless(current.document["ProductionVariants"]) and is_serverless(
                config.document["ProductionVariants"]):
            raise ValidationException(
                f'Endpoint "{record.name}" runs instance-based variants and cannot be updated to the serverless '
                f'endpoint configuration "{config.name}"; create a new endpoint for it')
        deployment = request.get("DeploymentConfig") or (
            record.document.get("LastDeploymentConfig") if request.get("RetainDeploymentConfig") else None)
        if deployment:
            check_deployment_config(conn, ctx, deployment, config.document,
                                    current.document if current is not None else None)
        _require_in_service(record, "update", _UPDATABLE)
        _patch(conn, record, change, ctx.now)
    notify_controller(ctx, ctx.app.endpoints, record.name)
    return {"EndpointArn": record.arn}


@operation("sagemaker", "UpdateEndpointWeightsAndCapacities")
def update_endpoint_weights_and_capacities(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Change variant weights and instance counts in place."""
    refuse_unsupported(request, UPDATE_WEIGHTS_AND_CAPACITIES)

    def change(current: Record) -> Patch:
        _require_in_service(current, "update")
        summaries = current.document.get("ProductionVariants", [])
        known = {v["VariantName"] for v in summaries}
        serverless = {v["VariantName"]: v.get("DesiredServerlessConfig") or v.get("CurrentServerlessConfig")
                      for v in summaries}
        desired = EndpointDesired.from_json(current.desired or {})
        weights = dict(desired.weights)
        for wanted in request["DesiredWeightsAndCapacities"]:
            variant = wanted["VariantName"]
            if variant not in known:
                raise ValidationException(
                    f'The variant name(s) "{variant}" is/are not present in endpoint "{current.name}"; '
                    f"its variants are {sorted(known)}")
            if "DesiredInstanceCount" in wanted and serverless.get(variant):
                raise ValidationException(
                    f'Variant "{variant}" is serverless and has no instances to count; change its concurrency '
                    "with ServerlessUpdateConfig")
            if "ServerlessUpdateConfig" in wanted and not serverless.get(variant):
                raise ValidationException(f'Variant "{variant}" is not serverless; remove ServerlessUpdateConfig '
                                          "or change DesiredInstanceCount")
            if not {"DesiredWeight", "DesiredInstanceCount", "ServerlessUpdateConfig"} & set(wanted):
                raise ValidationException(f"Give DesiredWeight, DesiredInstanceCount or ServerlessUpdateConfig for "
                                          f"variant {variant}")
            changed = {k: wanted[k] for k in ("DesiredWeight", "DesiredInstanceCount") if k in wanted}
            changed.update(_serverless_change(wanted.get("ServerlessUpdateConfig"), serverless.get(variant),
                                              {**weights.get(variant, {}), **changed}, variant))
            weights[variant] = {**weights.get(variant, {}), **changed}
        return Patch({"EndpointStatus": "Updating"}, desired=desired.with_weights(weights).to_json())

    with ctx.db.session(write=True) as conn:
        record = find_endpoint(conn, ctx, request["EndpointName"])
        _patch(conn, record, change, ctx.now)
    notify_controller(ctx, ctx.app.endpoints, record.name)
    return {"EndpointArn": record.arn}


def _serverless_change(update: dict[str, Any] | None, shown: dict[str, Any] | None, overrides: dict[str, Any],
                       variant: str) -> dict[str, int]:
    """The concurrency overrides a ServerlessUpdateConfig asks for, checked against the variant's config."""
    if not update or not shown:
        return {}
    changed: dict[str, int] = {key: int(update[key]) for key in ("MaxConcurrency", "ProvisionedConcurrency")
                               if key in update}
    if not changed:
        raise ValidationException(f"ServerlessUpdateConfig of variant {variant} needs MaxConcurrency and/or "
                                  "ProvisionedConcurrency")
    merged: dict[str, Any] = dict(shown)
    merged.update({k: overrides[k] for k in ("MaxConcurrency", "ProvisionedConcurrency") if k in overrides})
    merged.update(changed)
    provisioned, maximum = merged.get("ProvisionedConcurrency"), merged["MaxConcurrency"]
    if provisioned is not None and provisioned > maximum:
        raise ValidationException(f"ServerlessUpdateConfig of variant {variant}: ProvisionedConcurrency "
                                  f"({provisioned}) cannot exceed MaxConcurrency ({maximum})")
    return changed


@operation("sagemaker", "DeleteEndpoint")
def delete_endpoint(ctx: RequestContext, request: dict[str, Any]) -> None:
    """Mark an endpoint Deleting; the controller stops its instances and removes it."""
    with ctx.db.session(write=True) as conn:
        record = find_endpoint(conn, ctx, request["EndpointName"])
        _patch(conn, record, Patch({"EndpointStatus": "Deleting"}), ctx.now)
    notify_controller(ctx, ctx.app.endpoints, record.name)


def _patch(conn: Connection, record: Record, change: Callable[[Record], Patch] | Patch, now: float) -> None:
    patch_record(conn, record.account, record.region, ENDPOINT, record.name, change,
                 status_field="EndpointStatus", now=now)
