"""Batch transform jobs: the control-plane side. CreateTransformJob validates and records the job,
then returns at once; the transform controller (``ctx.app.transforms``) runs it::

    CreateTransformJob -> InProgress -> Completed | Failed
    StopTransformJob   -> Stopping   -> Stopped

The model's containers are snapshotted into the job's desired state (``TransformDesired``), so
deleting the model later does not change a job that already exists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from modelyard.context import RequestContext
from modelyard.desired.transform import TransformDesired
from modelyard.jobs import (
    DataProcessing,
    DataProcessingError,
    InvalidJsonPathError,
    RecordProcessor,
    data_format_for,
)
from modelyard.model_documents import model_containers
from modelyard.services.common import (
    arn_for,
    find,
    insert_tagged,
    list_page,
    notify_controller,
)
from modelyard.services.data_locations import check_locations
from modelyard.services.dispatch import operation
from modelyard.services.instance_capacity import check_capacity
from modelyard.services.unsupported import refuse_unsupported
from modelyard.services.unsupported_jobs import CREATE_TRANSFORM_JOB
from modelyard.store.errors import DuplicateKey
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record, get_record
from modelyard.wire.errors import ResourceInUse, ServiceError, ValidationException

TRANSFORM_JOB = "transform-job"
MAX_PAYLOAD_IN_MB = 100
_SUMMARY = ("TransformJobName", "TransformJobArn", "CreationTime", "TransformEndTime", "LastModifiedTime",
            "TransformJobStatus", "FailureReason")
_COPIED = ("ModelName", "MaxConcurrentTransforms", "ModelClientConfig", "MaxPayloadInMB", "BatchStrategy",
           "Environment", "TransformInput", "TransformOutput", "DataCaptureConfig", "TransformResources",
           "DataProcessing", "ExperimentConfig")


def _job_missing(name: str) -> ServiceError:
    return ValidationException(f"Could not find requested job with name {name}")


def find_transform_job(conn: Connection, ctx: RequestContext, name: str) -> Record:
    """A transform job by name or ARN, or SageMaker's not-found ValidationException."""
    return find(conn, ctx, TRANSFORM_JOB, name, _job_missing)


def check_request(request: dict[str, Any]) -> None:
    """Refuse settings SageMaker refuses: payload limits, filters, and formats filters need."""
    payload = request.get("MaxPayloadInMB")
    if payload is not None and payload > MAX_PAYLOAD_IN_MB:
        raise ValidationException(
            f"MaxPayloadInMB is {payload}; it must be at most {MAX_PAYLOAD_IN_MB} (MB)")
    concurrent = request.get("MaxConcurrentTransforms")
    if payload and concurrent and payload * concurrent > MAX_PAYLOAD_IN_MB:
        raise ValidationException(
            f"MaxConcurrentTransforms ({concurrent}) * MaxPayloadInMB ({payload}) must not exceed "
            f"{MAX_PAYLOAD_IN_MB} MB")
    transform_input = request["TransformInput"]
    if (request.get("BatchStrategy") == "MultiRecord" and payload == 0
            and transform_input.get("SplitType") not in (None, "None")):
        raise ValidationException(
            "MaxPayloadInMB=0 (no limit) works only with SplitType None or BatchStrategy SingleRecord")
    processing_request = request.get("DataProcessing")
    try:
        processing = DataProcessing.from_wire(processing_request)
    except InvalidJsonPathError as exc:
        member = _member_with(processing_request or {}, exc.expression)
        raise ValidationException(f"DataProcessing.{member} {exc.expression!r} is not a valid JSONPath "
                                  f"for batch transform: {exc.reason}") from None
    except ValueError as exc:
        raise ValidationException(f"DataProcessing: {exc}") from None
    try:
        RecordProcessor(processing, data_format_for(transform_input.get("ContentType")),
                        data_format_for(request["TransformOutput"].get("Accept")))
    except DataProcessingError as exc:
        raise ValidationException(f"DataProcessing: {exc}") from None


def _member_with(processing: dict[str, Any], expression: str) -> str:
    for member in ("InputFilter", "OutputFilter"):
        if processing.get(member) == expression:
            return member
    return "InputFilter"


def _model_snapshot(conn: Connection, ctx: RequestContext, name: str) -> TransformDesired:
    model = get_record(conn, ctx.account, ctx.region, "model", name)
    if model is None:
        raise ValidationException(f'Could not find model "{name}".')
    if (model.document.get("InferenceExecutionConfig") or {}).get("Mode") == "Direct":
        raise ValidationException(f'Model "{name}" is a multi-container model with Direct invocation; batch '
                                  "transform sends every record through all containers of a model and cannot pick "
                                  "one: create the model with InferenceExecutionConfig Mode Serial")
    return TransformDesired(model_containers(model), bool(model.document.get("EnableNetworkIsolation")))


@operation("sagemaker", "CreateTransformJob")
def create_transform_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Record a transform job as InProgress; the controller runs it in the background."""
    name = request["TransformJobName"]
    check_request(request)
    refuse_unsupported(request, CREATE_TRANSFORM_JOB)
    check_locations(ctx, [
        ("TransformInput.DataSource.S3DataSource.S3Uri", request["TransformInput"]["DataSource"]
         .get("S3DataSource", {}).get("S3Uri")),
        ("TransformOutput.S3OutputPath", request["TransformOutput"].get("S3OutputPath"))])
    arn = arn_for(ctx, TRANSFORM_JOB, name)
    try:
        with ctx.db.session(write=True) as conn:
            desired = _model_snapshot(conn, ctx, request["ModelName"])
            resources = request["TransformResources"]
            check_capacity(ctx, "TransformResources.InstanceCount", resources.get("InstanceType"),
                           int(resources.get("InstanceCount", 1)), [c.get("Image") for c in desired.containers])
            document: dict[str, Any] = {k: request[k] for k in _COPIED if k in request}
            document.update({
                "TransformJobName": name, "TransformJobArn": arn, "TransformJobStatus": "InProgress",
                "CreationTime": ctx.now, "LastModifiedTime": ctx.now,
            })
            insert_tagged(conn, ctx, TRANSFORM_JOB, name, arn, document, request.get("Tags"), status="InProgress",
                          desired=desired.to_json())
    except DuplicateKey:
        raise ResourceInUse("Job name must be unique within an AWS account and region, and a job with this "
                            f"name already exists ({arn})") from None
    notify_controller(ctx, ctx.app.transforms, name)
    return {"TransformJobArn": arn}


@operation("sagemaker", "DescribeTransformJob")
def describe_transform_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Describe a transform job as its controller last recorded it."""
    with ctx.db.session() as conn:
        return find_transform_job(conn, ctx, request["TransformJobName"]).document


@operation("sagemaker", "ListTransformJobs")
def list_transform_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """List transform jobs with name, status and time filters, newest first by default, keyset-paged."""
    records, token = list_page(ctx, request, TRANSFORM_JOB)
    summaries = [{k: r.document.get(k) for k in _SUMMARY} for r in records]
    return {"TransformJobSummaries": summaries, "NextToken": token}


@operation("sagemaker", "StopTransformJob")
def stop_transform_job(ctx: RequestContext, request: dict[str, Any]) -> None:
    """Ask a running job to stop: InProgress -> Stopping; the controller moves it to Stopped."""
    with ctx.db.session(write=True) as conn:
        record = find_transform_job(conn, ctx, request["TransformJobName"])
        patch_record(conn, record.account, record.region, TRANSFORM_JOB, record.name, _stopping,
                     status_field="TransformJobStatus", now=ctx.now)
    notify_controller(ctx, ctx.app.transforms, record.name)


def _stopping(job: Record) -> Patch | None:
    status = job.document["TransformJobStatus"]
    if status == "Stopping":
        return None
    if status != "InProgress":
        raise ValidationException(f"The request was rejected because the transform job is in status {status}.")
    return Patch({"TransformJobStatus": "Stopping"})
