"""What the training and processing services share: the controller hand-off, listing, validation bits.

The services write desired state and return at once; the job controller
(``ctx.app.jobs``) runs the job and records every transition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelyard.context import RequestContext
from modelyard.services.common import find, insert_tagged
from modelyard.store.errors import DuplicateKey
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record
from modelyard.wire.errors import ResourceInUse, ServiceError, ValidationException

PROCESSING_ROOT = "/opt/ml/processing/"


def summary(document: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The listed fields of a job document that are set."""
    return {name: document[name] for name in fields if document.get(name) is not None}


def require_unique(values: list[str], what: str) -> None:
    """ValidationException naming the first value that appears twice."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValidationException(f"{what} must be unique within the request; '{value}' appears more than once")
        seen.add(value)


def processing_path(path: str | None, where: str) -> str:
    """A LocalPath under /opt/ml/processing/ (SageMaker's rule), normalized without a trailing slash."""
    if not path:
        raise ValidationException(f"{where}.LocalPath is required")
    clean = "/" + "/".join(part for part in path.split("/") if part)
    if not clean.startswith(PROCESSING_ROOT) or ".." in clean.split("/"):
        raise ValidationException(f"{where}.LocalPath '{path}' must be an absolute path below {PROCESSING_ROOT}")
    return clean


def insert_job(ctx: RequestContext, request: dict[str, Any], kind: str, name: str, arn: str,
               document: dict[str, Any], label: str) -> None:
    """Store a new InProgress job with its tags and wake the job controller; a taken name is ResourceInUse
    ("<label> job names must be unique ...", as SageMaker words it)."""
    try:
        with ctx.db.session(write=True) as conn:
            insert_tagged(conn, ctx, kind, name, arn, document, request.get("Tags"), status="InProgress")
    except DuplicateKey:
        raise ResourceInUse(f"{label.capitalize()} job names must be unique within an AWS account and region, "
                            f"and a {label} job with this name already exists ({arn})") from None
    ctx.app.jobs.notify(kind, ctx.account, ctx.region, name)


def stop_job(ctx: RequestContext, kind: str, name: str, status_field: str, label: str,
             not_found: Callable[[str], ServiceError], stopping: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """InProgress -> Stopping (``stopping`` gives the document changes) in one guarded write, then ask the job
    controller to end the container; a job already Stopping is left as it is, any other state is refused."""
    def change(job: Record) -> Patch | None:
        current = job.document[status_field]
        if current == "Stopping":
            return None
        if current != "InProgress":
            raise ValidationException(f"The {label} job {job.name} is {current}: only a job that is "
                                      "InProgress can be stopped")
        return Patch(stopping(job.document))

    with ctx.db.session(write=True) as conn:
        record = find(conn, ctx, kind, name, not_found)
        if record.status == "Stopping":
            return
        patch_record(conn, record.account, record.region, kind, record.name, change,
                     status_field=status_field, now=ctx.now)
    ctx.app.jobs.request_stop(kind, ctx.account, ctx.region, record.name)
