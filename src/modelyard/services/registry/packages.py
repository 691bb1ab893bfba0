"""Model packages: create (versioned into a group, or unversioned), describe, list, delete, batch describe.

Versions are allocated inside the write transaction that inserts the package, under the group's row
lock (PostgreSQL) or SQLite's exclusive write transaction; the ``(group, version)`` unique key is the
last word, and a collision is retried. A ClientToken makes a retried create return the first ARN.
"""

from __future__ import annotations

import time
from typing import Any

from modelyard.context import RequestContext
from modelyard.desired.registry import PackageGroupState
from modelyard.services.common import max_results, page, sort_order_descending, store_tags
from modelyard.services.dispatch import operation
from modelyard.services.registry.names import (
    PACKAGE,
    UNVERSIONED,
    VERSIONED,
    find_group,
    find_package,
    group_name_of,
    package_arn,
)
from modelyard.services.unsupported import refuse_unsupported
from modelyard.services.unsupported_registry import CREATE_MODEL_PACKAGE
from modelyard.store.errors import DuplicateKey
from modelyard.store.resources import (
    ANY,
    Query,
    Record,
    delete_record,
    get_records_by_arns,
    insert_record,
    lock_record,
    next_version,
    update_record,
)
from modelyard.store.tags import find_client_token, remember_client_token
from modelyard.wire.errors import ConflictException, ValidationException

_ALLOCATION_ATTEMPTS = 20

# Request members stored verbatim and described back.
_COPIED = (
    "ModelPackageDescription", "InferenceSpecification", "ValidationSpecification",
    "SourceAlgorithmSpecification", "CertifyForMarketplace", "MetadataProperties", "ModelMetrics",
    "Domain", "Task", "SamplePayloadUrl", "CustomerMetadataProperties", "DriftCheckBaselines",
    "AdditionalInferenceSpecifications", "SkipModelValidation", "SourceUri", "SecurityConfig",
    "ModelCard", "ModelLifeCycle", "ModelPackageRegistrationType",
)
_SUMMARY = ("ModelPackageName", "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
            "ModelPackageDescription", "CreationTime", "ModelPackageStatus", "ModelApprovalStatus",
            "ModelLifeCycle", "ModelPackageRegistrationType")
_BATCH_SUMMARY = ("ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
                  "ModelPackageDescription", "CreationTime", "InferenceSpecification", "ModelPackageStatus",
                  "ModelApprovalStatus", "ModelPackageRegistrationType")
_SORT = {"Name": "name", "CreationTime": "created_at"}


def _check_request(request: dict[str, Any]) -> None:
    has_name, has_group = "ModelPackageName" in request, "ModelPackageGroupName" in request
    if has_name == has_group:
        raise ValidationException(
            "Specify exactly one of ModelPackageGroupName (a new version in a group) or ModelPackageName "
            "(an unversioned package)")
    if has_name and "ModelApprovalStatus" in request:
        raise ValidationException(
            "ModelApprovalStatus applies only to versioned model packages; pass ModelPackageGroupName "
            "instead of ModelPackageName")
    for container in (request.get("InferenceSpecification") or {}).get("Containers", []):
        if not container.get("Image") and not container.get("ModelDataUrl") and not container.get("ProductId"):
            raise ValidationException("Each InferenceSpecification container needs an Image")


def _document(request: dict[str, Any], name: str, group: str | None, version: int | None, arn: str,
              now: float) -> dict[str, Any]:
    document: dict[str, Any] = {
        "ModelPackageName": name,
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelPackageArn": arn,
        "CreationTime": now,
        "LastModifiedTime": now,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
        "ModelApprovalStatus": (request.get("ModelApprovalStatus") or "PendingManualApproval") if group else None,
    }
    document.update({key: request[key] for key in _COPIED if key in request})
    return document


@operation("sagemaker", "CreateModelPackage")
def create_model_package(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Create a version in a group (1, 2, 3 … per group) or an unversioned package."""
    _check_request(request)
    refuse_unsupported(request, CREATE_MODEL_PACKAGE)
    token = request.get("ClientToken")
    for _ in range(_ALLOCATION_ATTEMPTS):
        try:
            with ctx.db.session(write=True) as conn:
                if token:
                    previous = find_client_token(conn, ctx.account, ctx.region, "CreateModelPackage", token)
                    if previous:
                        return {"ModelPackageArn": previous}
                record = _insert_package(conn, ctx, request)
                store_tags(conn, record, request.get("Tags"))
                if token:
                    remember_client_token(conn, ctx.account, ctx.region, "CreateModelPackage", token,
                                          record.arn)
                return {"ModelPackageArn": record.arn}
        except DuplicateKey:
            if "ModelPackageName" in request:
                previous = _arn_for_token(ctx, token)
                if previous:
                    return {"ModelPackageArn": previous}
                arn = package_arn(ctx, request["ModelPackageName"])
                raise ValidationException(f"Model Package already exists: {arn}") from None
    raise ConflictException("Could not allocate a model package version under concurrent load; retry")


def _arn_for_token(ctx: RequestContext, token: str | None) -> str | None:
    if not token:
        return None
    with ctx.db.session() as conn:
        return find_client_token(conn, ctx.account, ctx.region, "CreateModelPackage", token)


def _insert_package(conn: Any, ctx: RequestContext, request: dict[str, Any]) -> Record:
    if "ModelPackageName" in request:
        name = request["ModelPackageName"]
        arn = package_arn(ctx, name)
        document = _document(request, name, None, None, arn, ctx.now)
        return insert_record(conn, account=ctx.account, region=ctx.region, kind=PACKAGE, name=name, arn=arn,
                             document=document, created_at=ctx.now, subtype=UNVERSIONED)
    group = find_group(conn, ctx, group_name_of(request["ModelPackageGroupName"]))
    lock_record(conn, group)
    group = find_group(conn, ctx, group.name)
    version = max(next_version(conn, ctx.account, ctx.region, PACKAGE, group.name),
                  PackageGroupState.from_json(group.desired).last_version + 1)
    update_record(conn, group, document=group.document, modified_at=group.modified_at,
                  desired=PackageGroupState(version).to_json())
    now = time.time()  # after the lock, so creation order is version order
    name = f"{group.name}/{version}"
    arn = package_arn(ctx, name)
    document = _document(request, group.name, group.name, version, arn, now)
    return insert_record(conn, account=ctx.account, region=ctx.region, kind=PACKAGE, name=name, arn=arn,
                         document=document, created_at=now, parent=group.name, version=version,
                         status=document["ModelApprovalStatus"], subtype=VERSIONED)


@operation("sagemaker", "DescribeModelPackage")
def describe_model_package(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Describe a package by ARN, unversioned name, or ``<group>/<version>``."""
    with ctx.db.session() as conn:
        return find_package(conn, ctx, request["ModelPackageName"]).document


@operation("sagemaker", "ListModelPackages")
def list_model_packages(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """List packages. Without a group filter the default type is Unversioned, as in SageMaker; with
    ``ModelPackageGroupName`` it lists that group's versions."""
    group = request.get("ModelPackageGroupName")
    package_type = request.get("ModelPackageType") or ("Versioned" if group else "Unversioned")
    subtype: Any = {"Versioned": VERSIONED, "Unversioned": UNVERSIONED, "Both": ANY}[package_type]
    versioned_only = subtype == VERSIONED
    sort_by = request.get("SortBy") or "CreationTime"
    query = Query(
        account=ctx.account, region=ctx.region, kind=PACKAGE,
        parent=group_name_of(group) if group else ANY,
        subtype=subtype,
        status=request.get("ModelApprovalStatus", ANY),
        name_contains=request.get("NameContains"),
        name_field="parent" if versioned_only else "name",
        created_after=request.get("CreationTimeAfter"), created_before=request.get("CreationTimeBefore"),
        sort="parent" if sort_by == "Name" and versioned_only else _SORT[sort_by],
        descending=sort_order_descending(request, "Ascending"),
        limit=max_results(request), token=request.get("NextToken"),
    )
    with ctx.db.session() as conn:
        records, token = page(conn, query)
    summaries = [{key: r.document.get(key) for key in _SUMMARY} for r in records]
    return {"ModelPackageSummaryList": summaries, "NextToken": token}


@operation("sagemaker", "DeleteModelPackage")
def delete_model_package(ctx: RequestContext, request: dict[str, Any]) -> None:
    """Delete a package (a version's number is never reused)."""
    with ctx.db.session(write=True) as conn:
        delete_record(conn, find_package(conn, ctx, request["ModelPackageName"]))


@operation("sagemaker", "BatchDescribeModelPackage")
def batch_describe_model_package(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Summaries of up to 100 packages by ARN, with an error entry for each unknown ARN."""
    arns = list(dict.fromkeys(request["ModelPackageArnList"]))
    with ctx.db.session() as conn:
        found = get_records_by_arns(conn, arns)
    summaries, errors = {}, {}
    for arn in arns:
        record = found.get(arn)
        if record is None or record.kind != PACKAGE or (record.account, record.region) != (ctx.account, ctx.region):
            errors[arn] = {"ErrorCode": "ValidationException",
                           "ErrorResponse": f'Could not find model package "{arn}".'}
        else:
            summaries[arn] = {key: record.document.get(key) for key in _BATCH_SUMMARY}
    return {"ModelPackageSummaries": summaries, "BatchDescribeModelPackageErrorMap": errors}
