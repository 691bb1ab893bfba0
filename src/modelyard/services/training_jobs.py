"""Training jobs: the control-plane side. CreateTrainingJob records the job as InProgress/Starting and
returns; the job controller (``ctx.app.jobs``) runs it and records every transition.

    CreateTrainingJob -> InProgress (Starting -> Downloading -> Training -> Uploading) -> Completed | Failed
    StopTrainingJob   -> Stopping -> Stopped
"""

from __future__ import annotations

from typing import Any

from modelyard.context import RequestContext
from modelyard.jobs.metrics import MetricDefinitionError, compile_definitions
from modelyard.jobs.training_status import first_transition, stopping
from modelyard.services.common import arn_for, find, list_page
from modelyard.services.data_locations import check_locations, submit_directory
from modelyard.services.dispatch import operation
from modelyard.services.image_checks import refuse_unrunnable_image
from modelyard.services.instance_capacity import check_capacity, refuse_encryption_on_cluster, runs_on_cluster
from modelyard.services.jobs_common import insert_job, require_unique, stop_job, summary
from modelyard.services.unsupported import refuse_unsupported
from modelyard.services.unsupported_jobs import CREATE_TRAINING_JOB
from modelyard.wire.errors import ServiceError, ValidationException

KIND = "training-job"
MAX_RUNTIME_LIMIT = 28 * 24 * 3600
DEFAULT_MAX_RUNTIME = 24 * 3600
_SUMMARY = ("TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime", "LastModifiedTime",
            "TrainingJobStatus", "SecondaryStatus")
_ECHOED = ("HyperParameters", "RoleArn", "OutputDataConfig", "VpcConfig", "CheckpointConfig", "DebugHookConfig",
           "DebugRuleConfigurations", "TensorBoardOutputConfig", "ExperimentConfig", "ProfilerConfig",
           "ProfilerRuleConfigurations", "Environment", "RetryStrategy", "RemoteDebugConfig", "InfraCheckConfig")


def _not_found(name: str) -> ServiceError:
    return ValidationException("Requested resource not found.")


def _algorithm(request: dict[str, Any]) -> dict[str, Any]:
    algorithm = dict(request.get("AlgorithmSpecification") or {})
    if not algorithm:
        raise ValidationException("AlgorithmSpecification is required: give its TrainingImage and TrainingInputMode")
    if algorithm.get("AlgorithmName"):
        raise ValidationException(
            "AlgorithmSpecification.AlgorithmName is not supported by modelyard (there are no algorithm or "
            "marketplace resources here): give AlgorithmSpecification.TrainingImage instead")
    if not algorithm.get("TrainingImage"):
        raise ValidationException("AlgorithmSpecification.TrainingImage is required")
    mode = algorithm.get("TrainingInputMode") or "File"
    if mode == "Pipe":
        raise ValidationException("TrainingInputMode Pipe is not supported by modelyard; use File or FastFile")
    algorithm["TrainingInputMode"] = mode
    try:
        compile_definitions(algorithm.get("MetricDefinitions"))
    except MetricDefinitionError as exc:
        raise ValidationException(str(exc)) from None
    return algorithm


def _channels(request: dict[str, Any], default_mode: str) -> list[dict[str, Any]]:
    channels = [dict(channel) for channel in request.get("InputDataConfig") or []]
    require_unique([c["ChannelName"] for c in channels], "Channel names")
    for channel in channels:
        source = channel["DataSource"].get("S3DataSource")
        if source is None:
            raise ValidationException(
                f"Channel '{channel['ChannelName']}': only S3DataSource is supported by modelyard "
                "(s3://, file:// or absolute paths); FileSystemDataSource and DatasetSource are not")
        if source["S3DataType"] not in ("S3Prefix", "ManifestFile"):
            raise ValidationException(f"Channel '{channel['ChannelName']}': S3DataType {source['S3DataType']} is not "
                                      "supported by modelyard; use S3Prefix or ManifestFile")
        if channel.get("InputMode") == "Pipe":
            raise ValidationException(f"Channel '{channel['ChannelName']}': Pipe input mode is not supported")
        channel["DataSource"] = {"S3DataSource": {"S3DataDistributionType": "FullyReplicated", **source}}
        channel.setdefault("CompressionType", "None")
        channel.setdefault("RecordWrapperType", "None")
    return channels


def _resources(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    resources = dict(request.get("ResourceConfig") or {})
    if resources.get("InstanceGroups"):
        raise ValidationException("ResourceConfig.InstanceGroups (heterogeneous clusters) is not supported by "
                                  "modelyard; give InstanceType and InstanceCount")
    if not resources.get("InstanceType") or not resources.get("InstanceCount"):
        raise ValidationException("ResourceConfig must give InstanceType and InstanceCount")
    images = [(request.get("AlgorithmSpecification") or {}).get("TrainingImage")]
    check_capacity(ctx, "ResourceConfig.InstanceCount", resources["InstanceType"], int(resources["InstanceCount"]),
                   images)
    refuse_encryption_on_cluster("EnableInterContainerTrafficEncryption",
                                 bool(request.get("EnableInterContainerTrafficEncryption")),
                                 int(resources["InstanceCount"]), runs_on_cluster(ctx, images))
    resources.setdefault("VolumeSizeInGB", 30)
    return resources


def _stopping_condition(request: dict[str, Any]) -> dict[str, Any]:
    condition = dict(request.get("StoppingCondition") or {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME})
    runtime = condition.get("MaxRuntimeInSeconds")
    if runtime is None:
        condition["MaxRuntimeInSeconds"] = runtime = DEFAULT_MAX_RUNTIME
    if runtime > MAX_RUNTIME_LIMIT:
        raise ValidationException(f"StoppingCondition.MaxRuntimeInSeconds {runtime} exceeds the maximum of "
                                  f"{MAX_RUNTIME_LIMIT} seconds (28 days)")
    return condition


def _locations(document: dict[str, Any]) -> list[tuple[str, str | None]]:
    channels = [(f"InputDataConfig '{c['ChannelName']}' DataSource.S3DataSource.S3Uri",
                 c["DataSource"]["S3DataSource"].get("S3Uri")) for c in document["InputDataConfig"]]
    return [*channels,
            ("OutputDataConfig.S3OutputPath", (document.get("OutputDataConfig") or {}).get("S3OutputPath")),
            ("CheckpointConfig.S3Uri", (document.get("CheckpointConfig") or {}).get("S3Uri")),
            ("HyperParameters.sagemaker_submit_directory",
             submit_directory(document.get("HyperParameters"), document.get("Environment")))]


def training_document(ctx: RequestContext, request: dict[str, Any], name: str, arn: str) -> dict[str, Any]:
    """The checked document of a new training job from a CreateTrainingJob-shaped request (also how a
    tuning job checks its TrainingJobDefinition and makes the template of its training jobs)."""
    algorithm = _algorithm(request)
    refuse_unsupported(request, CREATE_TRAINING_JOB)
    refuse_unrunnable_image(ctx, algorithm.get("TrainingImage"), "AlgorithmSpecification.TrainingImage")
    document: dict[str, Any] = {
        "TrainingJobName": name, "TrainingJobArn": arn, **first_transition(ctx.now),
        "AlgorithmSpecification": algorithm,
        "InputDataConfig": _channels(request, algorithm["TrainingInputMode"]),
        "ResourceConfig": _resources(ctx, request),
        "StoppingCondition": _stopping_condition(request),
        "HyperParameters": dict(request.get("HyperParameters") or {}),
        "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
        "EnableInterContainerTrafficEncryption": bool(request.get("EnableInterContainerTrafficEncryption", False)),
        "EnableManagedSpotTraining": bool(request.get("EnableManagedSpotTraining", False)),
        "CreationTime": ctx.now, "LastModifiedTime": ctx.now,
    }
    document.update({key: request[key] for key in _ECHOED if key in request and key not in document})
    if "OutputDataConfig" in document:
        document["OutputDataConfig"] = {"KmsKeyId": "", **document["OutputDataConfig"]}
    check_locations(ctx, _locations(document))
    return document


@operation("sagemaker", "CreateTrainingJob")
def create_training_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Record a training job as InProgress; it runs in the background."""
    name = request["TrainingJobName"]
    arn = arn_for(ctx, KIND, name)
    document = training_document(ctx, request, name, arn)
    insert_job(ctx, request, KIND, name, arn, document, "training")
    return {"TrainingJobArn": arn}


@operation("sagemaker", "DescribeTrainingJob")
def describe_training_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A training job as the controller last recorded it."""
    with ctx.db.session() as conn:
        return find(conn, ctx, KIND, request["TrainingJobName"], _not_found).document


@operation("sagemaker", "ListTrainingJobs")
def list_training_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Training jobs with status, name and time filters, sorting and paging."""
    if request.get("WarmPoolStatusEquals") or request.get("TrainingPlanArnEquals"):
        return {"TrainingJobSummaries": []}
    records, token = list_page(ctx, request, KIND, default_order="Ascending")
    return {"TrainingJobSummaries": [summary(r.document, _SUMMARY) for r in records], "NextToken": token}


@operation("sagemaker", "StopTrainingJob")
def stop_training_job(ctx: RequestContext, request: dict[str, Any]) -> None:
    """InProgress -> Stopping; the controller stops the container (SIGTERM, then SIGKILL) -> Stopped."""
    stop_job(ctx, KIND, request["TrainingJobName"], "TrainingJobStatus", "training", _not_found,
             lambda document: stopping(document, ctx.now))
