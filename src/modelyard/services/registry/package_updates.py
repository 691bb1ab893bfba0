"""UpdateModelPackage: approval status transitions and metadata changes.

Approval: PendingManualApproval -> Approved | Rejected, Approved <-> Rejected; nothing returns to
PendingManualApproval once decided. Unversioned packages have no approval status.
"""

from __future__ import annotations

from typing import Any

from modelyard.context import RequestContext
from modelyard.services.dispatch import operation
from modelyard.services.registry.names import UNVERSIONED, find_package
from modelyard.store.resources import update_record
from modelyard.wire.errors import ValidationException

_PENDING = "PendingManualApproval"
_REPLACED = ("InferenceSpecification", "SourceUri", "ModelCard", "ModelLifeCycle", "ModelPackageRegistrationType")


def _approval(document: dict[str, Any], subtype: str | None, requested: str | None, arn: str) -> str | None:
    current = document.get("ModelApprovalStatus")
    if requested is None:
        return current
    if subtype == UNVERSIONED:
        raise ValidationException(f"Model package {arn} is unversioned and has no approval status to update")
    if requested == _PENDING and current != _PENDING:
        raise ValidationException(
            f"Cannot change the approval status of {arn} from {current} back to {_PENDING}; "
            "use Approved or Rejected")
    return requested


def _metadata(document: dict[str, Any], request: dict[str, Any]) -> dict[str, str] | None:
    properties = dict(document.get("CustomerMetadataProperties") or {})
    to_add = request.get("CustomerMetadataProperties") or {}
    to_remove = request.get("CustomerMetadataPropertiesToRemove") or []
    clash = sorted(set(to_add) & set(to_remove))
    if clash:
        raise ValidationException(
            f"Keys {clash} are both added and removed; a key may appear in only one of "
            "CustomerMetadataProperties and CustomerMetadataPropertiesToRemove")
    properties.update(to_add)
    for key in to_remove:
        properties.pop(key, None)
    return properties or None


@operation("sagemaker", "UpdateModelPackage")
def update_model_package(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Update approval, approval description, metadata properties and inference specifications."""
    with ctx.db.session(write=True) as conn:
        record = find_package(conn, ctx, request["ModelPackageArn"])
        document = dict(record.document)
        status = _approval(document, record.subtype, request.get("ModelApprovalStatus"), record.arn)
        document["ModelApprovalStatus"] = status
        if "ApprovalDescription" in request:
            document["ApprovalDescription"] = request["ApprovalDescription"]
        document["CustomerMetadataProperties"] = _metadata(document, request)
        added = request.get("AdditionalInferenceSpecificationsToAdd")
        if added:
            existing = list(document.get("AdditionalInferenceSpecifications") or [])
            names = {spec["Name"] for spec in existing}
            duplicate = [spec["Name"] for spec in added if spec["Name"] in names]
            if duplicate:
                raise ValidationException(f"Additional inference specifications {duplicate} already exist")
            document["AdditionalInferenceSpecifications"] = existing + added
        for key in _REPLACED:
            if key in request:
                document[key] = request[key]
        document["LastModifiedTime"] = ctx.now
        update_record(conn, record, document=document, modified_at=ctx.now, status=status)
    return {"ModelPackageArn": record.arn}
