"""Model package groups: create, describe, list, delete."""

from __future__ import annotations

from typing import Any

from modelyard.context import RequestContext
from modelyard.services.common import insert_tagged, list_page
from modelyard.services.dispatch import operation
from modelyard.services.registry.names import GROUP, PACKAGE, find_group, group_arn
from modelyard.store.errors import DuplicateKey
from modelyard.store.resources import count_records, delete_record
from modelyard.wire.errors import ConflictException, ValidationException


@operation("sagemaker", "CreateModelPackageGroup")
def create_model_package_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Create a group; an existing name fails with "already exists", as in SageMaker."""
    name = request["ModelPackageGroupName"]
    arn = group_arn(ctx, name)
    document = {
        "ModelPackageGroupName": name,
        "ModelPackageGroupArn": arn,
        "ModelPackageGroupDescription": request.get("ModelPackageGroupDescription"),
        "CreationTime": ctx.now,
        "ModelPackageGroupStatus": "Completed",
    }
    try:
        with ctx.db.session(write=True) as conn:
            insert_tagged(conn, ctx, GROUP, name, arn, document, request.get("Tags"), status="Completed")
    except DuplicateKey:
        raise ValidationException(f"Model Package Group already exists: {arn}") from None
    return {"ModelPackageGroupArn": arn}


@operation("sagemaker", "DescribeModelPackageGroup")
def describe_model_package_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Describe a group by name or ARN."""
    with ctx.db.session() as conn:
        return find_group(conn, ctx, request["ModelPackageGroupName"]).document


@operation("sagemaker", "ListModelPackageGroups")
def list_model_package_groups(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """List groups with name and creation-time filters, sorting and keyset paging."""
    records, token = list_page(ctx, request, GROUP, default_order="Ascending")
    summaries = [{
        "ModelPackageGroupName": r.document["ModelPackageGroupName"],
        "ModelPackageGroupArn": r.arn,
        "ModelPackageGroupDescription": r.document.get("ModelPackageGroupDescription"),
        "CreationTime": r.created_at,
        "ModelPackageGroupStatus": r.document["ModelPackageGroupStatus"],
    } for r in records]
    return {"ModelPackageGroupSummaryList": summaries, "NextToken": token}


@operation("sagemaker", "DeleteModelPackageGroup")
def delete_model_package_group(ctx: RequestContext, request: dict[str, Any]) -> None:
    """Delete a group; refused while it still holds versions, as SageMaker refuses."""
    with ctx.db.session(write=True) as conn:
        record = find_group(conn, ctx, request["ModelPackageGroupName"])
        versions = count_records(conn, ctx.account, ctx.region, PACKAGE, record.name)
        if versions:
            raise ConflictException(
                f"Model package group {record.name} still holds {versions} model package version(s); "
                "delete them (DeleteModelPackage) before deleting the group.")
        delete_record(conn, record)
