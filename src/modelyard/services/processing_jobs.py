"""Processing jobs: the control-plane side. CreateProcessingJob records the job as InProgress and returns;
the job controller (``ctx.app.jobs``) runs it and records how it ends.

    CreateProcessingJob -> InProgress -> Completed | Failed
    StopProcessingJob   -> Stopping -> Stopped
"""

from __future__ import annotations

from typing import Any

from modelyard.context import RequestContext
from modelyard.services.common import arn_for, find, list_page
from modelyard.services.data_locations import check_locations
from modelyard.services.dispatch import operation
from modelyard.services.image_checks import refuse_unrunnable_image
from modelyard.services.instance_capacity import check_capacity, refuse_encryption_on_cluster, runs_on_cluster
from modelyard.services.jobs_common import (
    insert_job,
    processing_path,
    require_unique,
    stop_job,
    summary,
)
from modelyard.services.unsupported import refuse_unsupported
from modelyard.services.unsupported_jobs import CREATE_PROCESSING_JOB
from modelyard.wire.errors import ServiceError, ValidationException

KIND = "processing-job"
MAX_RUNTIME_LIMIT = 7 * 24 * 3600
DEFAULT_MAX_RUNTIME = 24 * 3600
MAX_INPUTS = 10
MAX_OUTPUTS = 10
_SUMMARY = ("ProcessingJobName", "ProcessingJobArn", "CreationTime", "ProcessingEndTime", "LastModifiedTime",
            "ProcessingJobStatus", "FailureReason", "ExitMessage")
_ECHOED = ("Environment", "NetworkConfig", "RoleArn", "ExperimentConfig")


def _not_found(name: str) -> ServiceError:
    return ValidationException(f"Could not find requested job with name {name}")


def _inputs(request: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = [dict(item) for item in request.get("ProcessingInputs") or []]
    if len(inputs) > MAX_INPUTS:
        raise ValidationException(f"A processing job can have at most {MAX_INPUTS} inputs; got {len(inputs)}")
    require_unique([item["InputName"] for item in inputs], "ProcessingInputs InputName values")
    for item in inputs:
        where = f"ProcessingInputs '{item['InputName']}'"
        source = item.get("S3Input")
        if source is None:
            raise ValidationException(f"{where}: only S3Input is supported by modelyard (DatasetDefinition is not)")
        if source.get("S3InputMode") == "Pipe":
            raise ValidationException(f"{where}: S3InputMode Pipe is not supported by modelyard; use File")
        item["S3Input"] = {"S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
                           "S3CompressionType": "None", **source,
                           "LocalPath": processing_path(source.get("LocalPath"), where)}
        item.setdefault("AppManaged", False)
    require_unique([item["S3Input"]["LocalPath"] for item in inputs], "ProcessingInputs LocalPath values")
    return inputs


def _outputs(request: dict[str, Any]) -> dict[str, Any] | None:
    config = request.get("ProcessingOutputConfig")
    if config is None:
        return None
    outputs = [dict(item) for item in config.get("Outputs") or []]
    if len(outputs) > MAX_OUTPUTS:
        raise ValidationException(f"A processing job can have at most {MAX_OUTPUTS} outputs; got {len(outputs)}")
    require_unique([item["OutputName"] for item in outputs], "ProcessingOutputConfig OutputName values")
    for item in outputs:
        where = f"ProcessingOutputConfig output '{item['OutputName']}'"
        target = item.get("S3Output")
        if target is None:
            raise ValidationException(f"{where}: only S3Output is supported by modelyard (FeatureStoreOutput is not)")
        item["S3Output"] = {**target, "LocalPath": processing_path(target.get("LocalPath"), where)}
        item.setdefault("AppManaged", False)
    return {**config, "Outputs": outputs}


def _resources(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    cluster = dict(request["ProcessingResources"]["ClusterConfig"])
    if not cluster.get("InstanceType") or not cluster.get("InstanceCount"):
        raise ValidationException("ProcessingResources.ClusterConfig must give InstanceType and InstanceCount")
    images = [(request.get("AppSpecification") or {}).get("ImageUri")]
    check_capacity(ctx, "ProcessingResources.ClusterConfig.InstanceCount", cluster["InstanceType"],
                   int(cluster["InstanceCount"]), images)
    refuse_encryption_on_cluster("NetworkConfig.EnableInterContainerTrafficEncryption",
                                 bool((request.get("NetworkConfig") or {}).get(
                                     "EnableInterContainerTrafficEncryption")),
                                 int(cluster["InstanceCount"]), runs_on_cluster(ctx, images))
    return {"ClusterConfig": cluster}


def _stopping_condition(request: dict[str, Any]) -> dict[str, Any]:
    condition = dict(request.get("StoppingCondition") or {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME})
    if condition["MaxRuntimeInSeconds"] > MAX_RUNTIME_LIMIT:
        raise ValidationException(f"StoppingCondition.MaxRuntimeInSeconds {condition['MaxRuntimeInSeconds']} "
                                  f"exceeds the maximum of {MAX_RUNTIME_LIMIT} seconds (7 days)")
    return condition


def _locations(document: dict[str, Any]) -> list[tuple[str, str | None]]:
    inputs = [(f"ProcessingInputs '{item['InputName']}' S3Input.S3Uri", item["S3Input"].get("S3Uri"))
              for item in document["ProcessingInputs"]]
    outputs = [(f"ProcessingOutputConfig output '{item['OutputName']}' S3Output.S3Uri", item["S3Output"].get("S3Uri"))
               for item in (document.get("ProcessingOutputConfig") or {}).get("Outputs", [])]
    return inputs + outputs


@operation("sagemaker", "CreateProcessingJob")
def create_processing_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Record a processing job as InProgress; it runs in the background."""
    name = request["ProcessingJobName"]
    arn = arn_for(ctx, KIND, name)
    document: dict[str, Any] = {
        "ProcessingJobName": name, "ProcessingJobArn": arn, "ProcessingJobStatus": "InProgress",
        "ProcessingInputs": _inputs(request), "ProcessingOutputConfig": _outputs(request),
        "ProcessingResources": _resources(ctx, request),
        "StoppingCondition": _stopping_condition(request),
        "AppSpecification": dict(request["AppSpecification"]),
        "CreationTime": ctx.now, "LastModifiedTime": ctx.now,
    }
    refuse_unsupported(request, CREATE_PROCESSING_JOB)
    refuse_unrunnable_image(ctx, request["AppSpecification"].get("ImageUri"), "AppSpecification.ImageUri")
    document.update({key: request[key] for key in _ECHOED if key in request})
    document = {k: v for k, v in document.items() if v is not None}
    check_locations(ctx, _locations(document))
    insert_job(ctx, request, KIND, name, arn, document, "processing")
    return {"ProcessingJobArn": arn}


@operation("sagemaker", "DescribeProcessingJob")
def describe_processing_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A processing job as the controller last recorded it."""
    with ctx.db.session() as conn:
        return find(conn, ctx, KIND, request["ProcessingJobName"], _not_found).document


@operation("sagemaker", "ListProcessingJobs")
def list_processing_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Processing jobs with status, name and time filters, sorting and paging."""
    records, token = list_page(ctx, request, KIND, default_order="Ascending")
    return {"ProcessingJobSummaries": [summary(r.document, _SUMMARY) for r in records], "NextToken": token}


@operation("sagemaker", "StopProcessingJob")
def stop_processing_job(ctx: RequestContext, request: dict[str, Any]) -> None:
    """InProgress -> Stopping; the controller stops the container -> Stopped."""
    stop_job(ctx, KIND, request["ProcessingJobName"], "ProcessingJobStatus", "processing", _not_found,
             lambda document: {"ProcessingJobStatus": "Stopping"})
