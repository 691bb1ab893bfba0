"""Hyperparameter tuning jobs: the control-plane side. Create checks everything up front (search space,
objective, limits, the training job definition exactly as CreateTrainingJob would) and records the job as
InProgress with its children's template; the tuner (``controllers/tuning``) launches the training jobs.

    CreateHyperParameterTuningJob -> InProgress -> Completed | Failed
    StopHyperParameterTuningJob   -> Stopping (running training jobs are stopped) -> Stopped
"""

from __future__ import annotations

import hashlib
from typing import Any

from modelyard.context import RequestContext
from modelyard.desired.tuning import TuningDesired
from modelyard.jobs.tuning_early_stop import EPOCH_HYPERPARAMETERS
from modelyard.jobs.tuning_progress import Objective, child_summary
from modelyard.jobs.tuning_space import SearchSpace, TuningConfigError, parse_space
from modelyard.page_tokens import InvalidPageToken, decode_token, encode_token, expect_int
from modelyard.services.common import arn_for, find, insert_tagged, list_page, max_results, sort_order_descending
from modelyard.services.dispatch import operation
from modelyard.services.jobs_common import summary
from modelyard.services.training_jobs import training_document
from modelyard.services.unsupported import refuse_unsupported
from modelyard.services.unsupported_tuning import CREATE_TUNING_JOB
from modelyard.store.errors import DuplicateKey
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record, children_of, get_record
from modelyard.wire.errors import ResourceInUse, ResourceNotFound, ServiceError, ValidationException

KIND = "hyper-parameter-tuning-job"
TRAINING_KIND = "training-job"
MAX_TRAINING_JOBS = 500
MAX_PARENTS = 5
STATUS = "HyperParameterTuningJobStatus"
_TRAINING_MEMBERS = ("AlgorithmSpecification", "RoleArn", "InputDataConfig", "VpcConfig", "OutputDataConfig",
                     "ResourceConfig", "StoppingCondition", "EnableNetworkIsolation",
                     "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining", "CheckpointConfig",
                     "RetryStrategy", "Environment")
_SUMMARY = ("HyperParameterTuningJobName", "HyperParameterTuningJobArn", STATUS, "CreationTime",
            "HyperParameterTuningEndTime", "LastModifiedTime", "TrainingJobStatusCounters", "ObjectiveStatusCounters")
_CHILD_SORT = {"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"}


def _not_found(name: str) -> ServiceError:
    return ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {name}")


def _objective(config: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    objective = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective")
    if not objective:
        raise ValidationException("HyperParameterTuningJobConfig.HyperParameterTuningJobObjective is required: "
                                  "give the objective's MetricName and Type (Maximize or Minimize)")
    names = [d["Name"] for d in definition["AlgorithmSpecification"].get("MetricDefinitions") or []]
    if objective["MetricName"] not in names:
        known = ", ".join(f"'{n}'" for n in names) or "none"
        raise ValidationException(
            f"The objective metric '{objective['MetricName']}' is not defined in "
            f"TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions (defined: {known}); add a "
            "MetricDefinition with that Name and a Regex that finds its value in the training log")
    return dict(objective)


def _space(config: dict[str, Any], definition: dict[str, Any]) -> SearchSpace:
    ranges = config.get("ParameterRanges") or definition.get("HyperParameterRanges")
    try:
        space = parse_space(ranges)
    except TuningConfigError as exc:
        raise ValidationException(f"ParameterRanges: {exc}") from None
    static = definition.get("StaticHyperParameters") or {}
    clash = [name for name in space.names if name in static]
    if clash:
        raise ValidationException(f"Hyperparameter '{clash[0]}' is both static (StaticHyperParameters) and "
                                  "tuned (ParameterRanges); give it in one place only")
    return space


def _limits(ctx: RequestContext, config: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    limits = dict(config["ResourceLimits"])
    parallel = limits["MaxParallelTrainingJobs"]
    if parallel > ctx.settings.job_workers:
        raise ValidationException(
            f"ResourceLimits.MaxParallelTrainingJobs {parallel} exceeds what this modelyard server runs at once "
            f"({ctx.settings.job_workers} jobs, MODELYARD_JOB_WORKERS); lower it or start the server with more "
            "job workers")
    total = limits.get("MaxNumberOfTrainingJobs")
    if config["Strategy"] == "Grid":
        if not space.categorical_only:
            raise ValidationException("The Grid strategy searches categorical ranges only; give every range as "
                                      "CategoricalParameterRanges or use Bayesian or Random")
        if total is None and space.grid_size() > MAX_TRAINING_JOBS:
            raise ValidationException(f"The grid has {space.grid_size()} combinations, more than the "
                                      f"{MAX_TRAINING_JOBS} training jobs a tuning job may run; give fewer values "
                                      "or a MaxNumberOfTrainingJobs that caps it")
        limits["MaxNumberOfTrainingJobs"] = min(space.grid_size(), total or MAX_TRAINING_JOBS)
    elif total is None:
        raise ValidationException(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {config['Strategy']} "
                                  "strategy")
    if limits["MaxNumberOfTrainingJobs"] > MAX_TRAINING_JOBS:
        raise ValidationException(f"ResourceLimits.MaxNumberOfTrainingJobs {total} exceeds the limit of "
                                  f"{MAX_TRAINING_JOBS} training jobs per tuning job")
    return limits


def _resource_config(definition: dict[str, Any]) -> dict[str, Any] | None:
    """ResourceConfig, or the SDK's HyperParameterTuningResourceConfig read as one (its one InstanceConfig)."""
    if definition.get("ResourceConfig") or not definition.get("HyperParameterTuningResourceConfig"):
        return definition.get("ResourceConfig")
    tuning = dict(definition["HyperParameterTuningResourceConfig"])
    tuning.pop("AllocationStrategy", None)
    configs = tuning.pop("InstanceConfigs", None) or []
    return {**tuning, **(configs[0] if configs else {})}


def _template(ctx: RequestContext, definition: dict[str, Any]) -> dict[str, Any]:
    request = {key: definition[key] for key in _TRAINING_MEMBERS if key in definition}
    resources = _resource_config(definition)
    if resources is not None:
        request["ResourceConfig"] = resources
    request["HyperParameters"] = dict(definition.get("StaticHyperParameters") or {})
    request["TrainingJobName"] = "template"
    try:
        return training_document(ctx, request, "template", arn_for(ctx, TRAINING_KIND, "template"))
    except ValidationException as exc:
        raise ValidationException(f"TrainingJobDefinition: {exc.message}") from None


def _parents(ctx: RequestContext, warm_start: dict[str, Any] | None, objective: dict[str, Any],
             definition: dict[str, Any]) -> list[str]:
    if not warm_start:
        return []
    names = [p["HyperParameterTuningJobName"] for p in warm_start["ParentHyperParameterTuningJobs"]]
    if not 1 <= len(names) <= MAX_PARENTS or len(set(names)) != len(names):
        raise ValidationException(f"WarmStartConfig.ParentHyperParameterTuningJobs must name 1 to {MAX_PARENTS} "
                                  "distinct tuning jobs")
    image = definition["AlgorithmSpecification"].get("TrainingImage")
    with ctx.db.session() as conn:
        for name in names:
            parent = get_record(conn, ctx.account, ctx.region, KIND, name)
            if parent is None:
                raise ValidationException(f"WarmStartConfig: the parent tuning job {name} does not exist")
            if parent.document[STATUS] in ("InProgress", "Stopping"):
                raise ValidationException(f"WarmStartConfig: the parent tuning job {name} is "
                                          f"{parent.document[STATUS]}; it must have ended")
            parent_objective = parent.document["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
            if parent_objective["MetricName"] != objective["MetricName"]:
                raise ValidationException(f"WarmStartConfig: the parent tuning job {name} tuned the objective "
                                          f"'{parent_objective['MetricName']}', not '{objective['MetricName']}'")
            parent_image = parent.document["TrainingJobDefinition"]["AlgorithmSpecification"].get("TrainingImage")
            if warm_start["WarmStartType"] == "IdenticalDataAndAlgorithm" and parent_image != image:
                raise ValidationException(f"WarmStartConfig: IdenticalDataAndAlgorithm needs the parent's training "
                                          f"image; {name} used {parent_image}, this job {image} (use "
                                          "TransferLearning)")
    return names


def _hyperband(config: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any] | None:
    """The StrategyConfig to record: Hyperband's MinResource and MaxResource (inferred from an epochs
    hyperparameter, as SageMaker does, when not given)."""
    strategy_config = config.get("StrategyConfig") or {}
    if config["Strategy"] != "Hyperband":
        if strategy_config:
            raise ValidationException("HyperParameterTuningJobConfig.StrategyConfig is read only by the Hyperband "
                                      f"strategy; remove it for {config['Strategy']}")
        return None
    if config.get("TrainingJobEarlyStoppingType") == "Auto":
        raise ValidationException("TrainingJobEarlyStoppingType must be Off with the Hyperband strategy, which "
                                  "stops training jobs itself")
    hyperband = dict(strategy_config.get("HyperbandStrategyConfig") or {})
    hyperband.setdefault("MinResource", 1)
    if hyperband.get("MaxResource") is None:
        static = definition.get("StaticHyperParameters") or {}
        for name in EPOCH_HYPERPARAMETERS:
            if name in static:
                try:
                    hyperband["MaxResource"] = int(str(static[name]).strip('"'))
                except ValueError:
                    raise ValidationException(f"StaticHyperParameters.{name} '{static[name]}' is not a whole "
                                              "number of epochs; give HyperbandStrategyConfig.MaxResource") from None
                break
        else:
            raise ValidationException("The Hyperband strategy needs HyperbandStrategyConfig.MaxResource, or a static "
                                      f"hyperparameter giving the epochs ({', '.join(EPOCH_HYPERPARAMETERS)})")
    if not 1 <= hyperband["MinResource"] <= hyperband["MaxResource"]:
        raise ValidationException(f"HyperbandStrategyConfig: MinResource {hyperband['MinResource']} must be at "
                                  f"least 1 and at most MaxResource {hyperband['MaxResource']}")
    return {"HyperbandStrategyConfig": hyperband}


def _seed(config: dict[str, Any], arn: str) -> int:
    if config.get("RandomSeed") is not None:
        return int(config["RandomSeed"])
    return int.from_bytes(hashlib.sha256(arn.encode()).digest()[:4], "big")


@operation("sagemaker", "CreateHyperParameterTuningJob")
def create_tuning_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Check the tuning job whole and record it as InProgress; the tuner launches its training jobs."""
    name = request["HyperParameterTuningJobName"]
    arn = arn_for(ctx, KIND, name)
    refuse_unsupported(request, CREATE_TUNING_JOB)
    definition = request.get("TrainingJobDefinition")
    if not definition:
        raise ValidationException("TrainingJobDefinition is required: the training job every tuning trial runs")
    config = dict(request["HyperParameterTuningJobConfig"])
    template = _template(ctx, definition)
    objective = _objective(config, template)
    space = _space(config, definition)
    config.update({"HyperParameterTuningJobObjective": objective, "ResourceLimits": _limits(ctx, config, space),
                   "ParameterRanges": config.get("ParameterRanges") or definition.get("HyperParameterRanges"),
                   "TrainingJobEarlyStoppingType": config.get("TrainingJobEarlyStoppingType") or "Off"})
    strategy_config = _hyperband(config, definition)
    if strategy_config is not None:
        config["StrategyConfig"] = strategy_config
    parents = _parents(ctx, request.get("WarmStartConfig"), objective, template)
    document: dict[str, Any] = {
        "HyperParameterTuningJobName": name, "HyperParameterTuningJobArn": arn,
        "HyperParameterTuningJobConfig": config, "TrainingJobDefinition": definition, STATUS: "InProgress",
        "CreationTime": ctx.now, "LastModifiedTime": ctx.now,
        "TrainingJobStatusCounters": {"Completed": 0, "InProgress": 0, "RetryableError": 0,
                                      "NonRetryableError": 0, "Stopped": 0},
        "ObjectiveStatusCounters": {"Succeeded": 0, "Pending": 0, "Failed": 0},
    }
    if request.get("WarmStartConfig"):
        document["WarmStartConfig"] = request["WarmStartConfig"]
    desired = TuningDesired(template, _seed(config, arn), parents)
    try:
        with ctx.db.session(write=True) as conn:
            insert_tagged(conn, ctx, KIND, name, arn, document, request.get("Tags"), status="InProgress",
                          subtype=config["Strategy"], desired=desired.to_json())
    except DuplicateKey:
        raise ResourceInUse(f"Tuning job names must be unique within an AWS account and region, and a tuning job "
                            f"with this name already exists ({arn})") from None
    if ctx.app.tuning is not None:
        ctx.app.tuning.notify(ctx.account, ctx.region, name)
    return {"HyperParameterTuningJobArn": arn}


@operation("sagemaker", "DescribeHyperParameterTuningJob")
def describe_tuning_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A tuning job as the tuner last recorded it."""
    with ctx.db.session() as conn:
        return find(conn, ctx, KIND, request["HyperParameterTuningJobName"], _not_found).document


@operation("sagemaker", "ListHyperParameterTuningJobs")
def list_tuning_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Tuning jobs with status, name and time filters, sorting and paging."""
    records, token = list_page(ctx, request, KIND, default_order="Ascending")
    summaries = []
    for record in records:
        item = summary(record.document, _SUMMARY)
        config = record.document["HyperParameterTuningJobConfig"]
        item.update({"Strategy": config["Strategy"], "ResourceLimits": config["ResourceLimits"]})
        summaries.append(item)
    return {"HyperParameterTuningJobSummaries": summaries, "NextToken": token}


@operation("sagemaker", "StopHyperParameterTuningJob")
def stop_tuning_job(ctx: RequestContext, request: dict[str, Any]) -> None:
    """InProgress -> Stopping; the tuner stops the running training jobs, then records Stopped."""
    def change(job: Record) -> Patch | None:
        current = job.document[STATUS]
        if current == "Stopping":
            return None
        if current != "InProgress":
            raise ValidationException(f"The tuning job {job.name} is {current}: only a tuning job that is "
                                      "InProgress can be stopped")
        return Patch({STATUS: "Stopping", "LastModifiedTime": ctx.now})

    with ctx.db.session(write=True) as conn:
        record = find(conn, ctx, KIND, request["HyperParameterTuningJobName"], _not_found)
        patch_record(conn, record.account, record.region, KIND, record.name, change, status_field=STATUS,
                     now=ctx.now)
    if ctx.app.tuning is not None:
        ctx.app.tuning.notify(ctx.account, ctx.region, record.name)


@operation("sagemaker", "ListTrainingJobsForHyperParameterTuningJob")
def list_tuning_training_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The tuning job's training jobs with their tuned hyperparameters and objective values."""
    with ctx.db.session() as conn:
        tuning = find(conn, ctx, KIND, request["HyperParameterTuningJobName"], _not_found)
        children = children_of(conn, tuning.account, tuning.region, TRAINING_KIND, tuning.name)
    config = tuning.document["HyperParameterTuningJobConfig"]
    objective = Objective.of(config["HyperParameterTuningJobObjective"])
    tuned = parse_space(config["ParameterRanges"]).names
    items = [child_summary(c.document, tuning.name, tuned, objective) for c in children]
    if request.get("StatusEquals"):
        items = [i for i in items if i["TrainingJobStatus"] == request["StatusEquals"]]
    sort_by = request.get("SortBy") or "Name"
    descending = sort_order_descending(request, "Ascending")
    if sort_by == "FinalObjectiveMetricValue":
        scored = sorted((i for i in items if i.get("FinalHyperParameterTuningJobObjectiveMetric")),
                        key=lambda i: i["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], reverse=descending)
        items = scored + [i for i in items if not i.get("FinalHyperParameterTuningJobObjectiveMetric")]
    else:
        items.sort(key=lambda i: i[_CHILD_SORT[sort_by]], reverse=descending)
    start = _offset(request.get("NextToken"), tuning.name)
    limit = max_results(request)
    page = items[start:start + limit]
    token = encode_token(f"tuning-children:{tuning.name}", start + limit) if start + limit < len(items) else None
    return {"TrainingJobSummaries": page, "NextToken": token}


def _offset(token: str | None, name: str) -> int:
    if not token:
        return 0
    try:
        return expect_int(decode_token(f"tuning-children:{name}", token))
    except InvalidPageToken:
        raise ValidationException(f"Invalid pagination token '{token}'") from None
