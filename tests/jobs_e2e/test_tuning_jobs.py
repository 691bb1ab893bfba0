"""Hyperparameter tuning jobs end to end: real boto3, a real server, real training jobs in the sandbox, moto S3.

The training script is tiny (no third-party packages): its loss is a known function of its hyperparameters,
so the objective values and the best training job can be checked exactly.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.jobs_e2e.jobs_support import BUCKET, ROLE, Stack, put, sourcedir, stack, training_request

QUADRATIC = r'''
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
parser.add_argument("--kind", default="a")
parser.add_argument("--sleep", type=float, default=0)
args, _ = parser.parse_known_args()
time.sleep(args.sleep)
loss = (args.alpha - 3) ** 2 + {"a": 0.0, "b": 1.0, "c": 2.0}[args.kind]
print(f"epoch 1 loss={loss + 10}")
print(f"final loss={loss}")
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write(str(loss))
'''
METRICS = [{"Name": "loss", "Regex": r"final loss=([-0-9.e]+)"}]
TERMINAL = ("Completed", "Failed", "Stopped")


@pytest.fixture(scope="module")
def jobs() -> Stack:
    return stack()


@pytest.fixture(scope="module")
def source(jobs: Stack) -> str:
    return put(jobs.s3(), "code/quadratic/sourcedir.tar.gz", sourcedir({"quadratic.py": QUADRATIC}))


def definition(name: str, source: str, static: dict[str, str] | None = None) -> dict[str, Any]:
    """A TrainingJobDefinition as the SDK's HyperparameterTuner sends it."""
    request = training_request(name, program="quadratic.py", submit=source, output=f"s3://{BUCKET}/{name}/out",
                               hyperparameters=static)
    hyperparameters = request["HyperParameters"]
    hyperparameters.pop("sagemaker_job_name")
    hyperparameters["_tuning_objective_metric"] = '"loss"'
    return {"StaticHyperParameters": hyperparameters, "RoleArn": ROLE,
            "AlgorithmSpecification": {**request["AlgorithmSpecification"], "MetricDefinitions": METRICS},
            "OutputDataConfig": request["OutputDataConfig"], "ResourceConfig": request["ResourceConfig"],
            "StoppingCondition": request["StoppingCondition"]}


def tuning_request(name: str, source: str, *, strategy: str = "Random", max_jobs: int | None = 3,
                   parallel: int = 2, ranges: dict[str, Any] | None = None, static: dict[str, str] | None = None,
                   **config: Any) -> dict[str, Any]:
    limits = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    ranges = ranges or {"IntegerParameterRanges": [{"Name": "alpha", "MinValue": "0", "MaxValue": "6"}],
                        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}]}
    return {"HyperParameterTuningJobName": name,
            "HyperParameterTuningJobConfig": {"Strategy": strategy, "ResourceLimits": limits,
                                              "HyperParameterTuningJobObjective": {"Type": "Minimize",
                                                                                   "MetricName": "loss"},
                                              "ParameterRanges": ranges, **config},
            "TrainingJobDefinition": definition(name, source, static)}


def wait_tuning(sm: Any, name: str, timeout: float = 240.0, statuses: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if described["HyperParameterTuningJobStatus"] in statuses:
            return described  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"tuning job still {described['HyperParameterTuningJobStatus']}"
        time.sleep(0.2)


def children(sm: Any, name: str) -> list[dict[str, Any]]:
    return sm.list_training_jobs_for_hyper_parameter_tuning_job(  # type: ignore[no-any-return]
        HyperParameterTuningJobName=name, MaxResults=100)["TrainingJobSummaries"]


def expected_loss(tuned: dict[str, str]) -> float:
    return (float(tuned["alpha"]) - 3) ** 2 + {"a": 0.0, "b": 1.0, "c": 2.0}[tuned.get("kind", "a")]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_a_tuning_job_runs_its_training_jobs_and_finds_the_best(jobs: Stack, source: str, unique: str,
                                                                 strategy: str) -> None:
    sm = jobs.client("sagemaker")
    name = unique[:28]
    arn = sm.create_hyper_parameter_tuning_job(**tuning_request(name, source, strategy=strategy))[
        "HyperParameterTuningJobArn"]
    assert arn.endswith(f":hyper-parameter-tuning-job/{name.lower()}")
    described = wait_tuning(sm, name)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TrainingJobStatusCounters"] == {"Completed": 3, "InProgress": 0, "RetryableError": 0,
                                                      "NonRetryableError": 0, "Stopped": 0}
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 0, "Failed": 0}
    assert described["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Off"
    listed = children(sm, name)
    assert len(listed) == 3
    for item in listed:
        assert re.fullmatch(rf"{name}-00[1-3]-[0-9a-f]{{8}}", item["TrainingJobName"])
        assert set(item["TunedHyperParameters"]) == {"alpha", "kind"}
        metric = item["FinalHyperParameterTuningJobObjectiveMetric"]
        assert metric == {"Type": "Minimize", "MetricName": "loss", "Value": expected_loss(item["TunedHyperParameters"])}
        assert item["ObjectiveStatus"] == "Succeeded" and item["TuningJobName"] == name
    best = min(listed, key=lambda i: i["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert described["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    by_objective = children_sorted(sm, name)
    assert by_objective[0] == best["TrainingJobName"]
    child = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert child["TuningJobArn"] == arn
    assert child["HyperParameters"]["alpha"] == best["TunedHyperParameters"]["alpha"]
    assert child["HyperParameters"]["sagemaker_program"] == '"quadratic.py"'
    assert child["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"{best['TrainingJobName']}/output/model.tar.gz")
    summaries = sm.list_hyper_parameter_tuning_jobs(NameContains=name)["HyperParameterTuningJobSummaries"]
    assert [(s["HyperParameterTuningJobName"], s["Strategy"], s["HyperParameterTuningJobStatus"])
            for s in summaries] == [(name, strategy, "Completed")]


def children_sorted(sm: Any, name: str) -> list[str]:
    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName=name, SortBy="FinalObjectiveMetricValue", SortOrder="Ascending",
        PaginationConfig={"PageSize": 1})
    return [item["TrainingJobName"] for page in pages for item in page["TrainingJobSummaries"]]


@pytest.mark.slow
def test_grid_search_runs_every_combination_once(jobs: Stack, source: str, unique: str) -> None:
    sm = jobs.client("sagemaker")
    name = unique[:28]
    ranges = {"CategoricalParameterRanges": [{"Name": "alpha", "Values": ["2", "3"]},
                                             {"Name": "kind", "Values": ["a", "c"]}]}
    sm.create_hyper_parameter_tuning_job(**tuning_request(name, source, strategy="Grid", max_jobs=None,
                                                          ranges=ranges))
    described = wait_tuning(sm, name)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 4
    tuned = sorted((i["TunedHyperParameters"]["alpha"], i["TunedHyperParameters"]["kind"]) for i in children(sm, name))
    assert tuned == [("2", "a"), ("2", "c"), ("3", "a"), ("3", "c")]
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"alpha": "3", "kind": "a"}
    assert described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.0


@pytest.mark.slow
def test_stopping_a_tuning_job_stops_its_running_training_jobs(jobs: Stack, source: str, unique: str) -> None:
    sm = jobs.client("sagemaker")
    name = unique[:28]
    sm.create_hyper_parameter_tuning_job(**tuning_request(name, source, max_jobs=4, static={"sleep": "60"}))
    deadline = time.monotonic() + 60
    while len(children(sm, name)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    described = wait_tuning(sm, name, timeout=90, statuses=("Stopped", "Failed", "Completed"))
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    listed = children(sm, name)
    assert len(listed) == 2
    assert {item["TrainingJobStatus"] for item in listed} == {"Stopped"}
    assert described["TrainingJobStatusCounters"]["Stopped"] == 2
    with pytest.raises(ClientError) as again:
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert again.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.slow
def test_a_tuning_job_whose_metric_never_appears_fails_with_a_reason(jobs: Stack, source: str, unique: str) -> None:
    sm = jobs.client("sagemaker")
    name = unique[:28]
    request = tuning_request(name, source, max_jobs=2)
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "loss", "Regex": r"validation loss=([0-9.]+)"}]
    sm.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(sm, name)
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert "None of the 2 training jobs reported the objective metric 'loss'" in described["FailureReason"]
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 2}
    assert "BestTrainingJob" not in described
