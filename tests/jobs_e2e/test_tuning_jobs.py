"""Hyperparameter tuning jobs end to end: real boto3, a real server, real training jobs in the sandbox, moto S3.

The training script is tiny (no third-party packages): its loss is a known function of its hyperparameters,
so the objective values and the best training job can be checked exactly.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import client_for
from tests.jobs_e2e.jobs_support import BUCKET, ROLE, Stack, put, server_env, sourcedir, stack, training_request
from tests.support.server import create_pg_database, drop_pg_database, start_server

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
EPOCHS = r'''
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
args, _ = parser.parse_known_args()
for epoch in range(40 if args.alpha > 1 else 3):
    print(f"epoch {epoch} loss={args.alpha + 1 / (epoch + 1)}", flush=True)
    time.sleep(0.5 if args.alpha > 1 else 0)
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("done")
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
        loss = expected_loss(item["TunedHyperParameters"])
        assert metric == {"Type": "Minimize", "MetricName": "loss", "Value": loss}
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
    found = sm.search(Resource="HyperParameterTuningJob", SearchExpression={"Filters": [
        {"Name": "HyperParameterTuningJobName", "Operator": "Equals", "Value": name}]})["Results"]
    assert [r["HyperParameterTuningJob"]["BestTrainingJob"]["TrainingJobName"] for r in found] == [
        best["TrainingJobName"]]
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


def _ranges(**kinds: list[dict[str, Any]]) -> dict[str, Any]:
    return {f"{kind}ParameterRanges": items for kind, items in kinds.items()}


def _bad_requests(name: str, source: str) -> dict[str, tuple[dict[str, Any], str]]:
    def with_definition(change: Any) -> dict[str, Any]:
        request = tuning_request(name, source)
        change(request["TrainingJobDefinition"])
        return request

    def without_definition() -> dict[str, Any]:
        request = tuning_request(name, source)
        del request["TrainingJobDefinition"]
        return request

    return {
        "min above max": (tuning_request(name, source, ranges=_ranges(
            Integer=[{"Name": "alpha", "MinValue": "7", "MaxValue": "2"}])), "MinValue 7 is greater than MaxValue 2"),
        "log from zero": (tuning_request(name, source, ranges=_ranges(
            Continuous=[{"Name": "alpha", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}])),
            "Logarithmic scaling needs a MinValue greater than 0"),
        "reverse log integer": (tuning_request(name, source, ranges=_ranges(
            Integer=[{"Name": "alpha", "MinValue": "0", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}])),
            "ReverseLogarithmic scaling is only valid for continuous ranges"),
        "reverse log to one": (tuning_request(name, source, ranges=_ranges(
            Continuous=[{"Name": "alpha", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "ReverseLogarithmic"}])),
            "needs 0 <= MinValue and MaxValue < 1"),
        "not a number": (tuning_request(name, source, ranges=_ranges(
            Continuous=[{"Name": "alpha", "MinValue": "low", "MaxValue": "1"}])), "MinValue must be a number"),
        "unknown metric": (tuning_request(name, source, HyperParameterTuningJobObjective={
            "Type": "Minimize", "MetricName": "validation:rmse"}),
            "objective metric 'validation:rmse' is not defined in TrainingJobDefinition.AlgorithmSpecification"),
        "too parallel": (tuning_request(name, source, parallel=5), "MODELYARD_JOB_WORKERS"),
        "grid of integers": (tuning_request(name, source, strategy="Grid", max_jobs=None),
                             "The Grid strategy searches categorical ranges only"),
        "grid too big": (tuning_request(name, source, strategy="Grid", max_jobs=None, ranges=_ranges(Categorical=[
            {"Name": f"p{i}", "Values": [str(v) for v in range(10)]} for i in range(3)])),
            "The grid has 1000 combinations"),
        "no budget": (tuning_request(name, source, max_jobs=None), "MaxNumberOfTrainingJobs is required"),
        "hyperband without epochs": (tuning_request(name, source, strategy="Hyperband"),
                                     "needs HyperbandStrategyConfig.MaxResource"),
        "hyperband with early stopping": (tuning_request(name, source, strategy="Hyperband",
                                                         TrainingJobEarlyStoppingType="Auto"),
                                          "must be Off with the Hyperband strategy"),
        "hyperband min above max": (tuning_request(name, source, strategy="Hyperband", StrategyConfig={
            "HyperbandStrategyConfig": {"MinResource": 9, "MaxResource": 3}}), "MinResource 9 must be"),
        "strategy config for random": (tuning_request(name, source, StrategyConfig={
            "HyperbandStrategyConfig": {"MaxResource": 3}}), "read only by the Hyperband strategy"),
        "static and tuned": (tuning_request(name, source, static={"alpha": "1"}),
                             "'alpha' is both static (StaticHyperParameters) and tuned"),
        "no definition": (without_definition(), "TrainingJobDefinition is required"),
        "no resources": (with_definition(lambda d: d.pop("ResourceConfig")),
                         "TrainingJobDefinition: ResourceConfig must give InstanceType and InstanceCount"),
        "no image": (with_definition(lambda d: d["AlgorithmSpecification"].pop("TrainingImage")),
                     "TrainingJobDefinition: AlgorithmSpecification.TrainingImage is required"),
        "unknown parent": (tuning_request(name, source) | {"WarmStartConfig": {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "nosuchparent"}],
            "WarmStartType": "TransferLearning"}}, "the parent tuning job nosuchparent does not exist"),
    }


BAD_CASES = list(_bad_requests("n", "s3://b/k"))


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_tuning_requests_are_refused_and_leave_nothing(jobs: Stack, source: str, unique: str, case: str) -> None:
    sm = jobs.client("sagemaker")
    name = unique[:28]
    request, words = _bad_requests(name, source)[case]
    with pytest.raises(ClientError) as refused:
        sm.create_hyper_parameter_tuning_job(**request)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert words in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    assert sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"] == []


def test_a_taken_name_is_refused_without_touching_the_first_job(jobs: Stack, source: str, unique: str) -> None:
    sm = jobs.client("sagemaker")
    name = unique[:28]
    sm.create_hyper_parameter_tuning_job(**tuning_request(name, source, max_jobs=1, parallel=1))
    with pytest.raises(ClientError) as taken:
        sm.create_hyper_parameter_tuning_job(**tuning_request(name, source, strategy="Bayesian", max_jobs=2))
    assert taken.value.response["Error"]["Code"] == "ResourceInUse"
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobConfig"]["Strategy"] == "Random"
    assert described["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 1
    with pytest.raises(ClientError) as unknown:
        sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=f"{name}x")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as forged:
        sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, NextToken="forged")
    assert forged.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.slow
def test_a_tuning_job_goes_on_after_the_server_is_killed(jobs: Stack, source: str, unique: str,
                                                         tmp_path: Path) -> None:
    """On PostgreSQL (the other tests run on SQLite): the tuner's queries and guarded writes on both stores."""
    url, database = create_pg_database()
    try:
        run_kill_and_restart(jobs, source, unique[:28], tmp_path / "data", url)
    finally:
        drop_pg_database(database)


def run_kill_and_restart(jobs: Stack, source: str, name: str, data_dir: Path, url: str) -> None:
    first = start_server(data_dir, database_url=url, env=server_env(jobs.moto))
    try:
        sm = client_for(first, "sagemaker")
        sm.create_hyper_parameter_tuning_job(**tuning_request(name, source, max_jobs=3, static={"sleep": "2"}))
        deadline = time.monotonic() + 120
        while sum(1 for c in children(sm, name) if "TrainingStartTime" in c) < 2:
            assert time.monotonic() < deadline, children(sm, name)
            time.sleep(0.1)
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(30)
    finally:
        first.stop()
    second = start_server(data_dir, database_url=url, env=server_env(jobs.moto))
    try:
        sm = client_for(second, "sagemaker")
        described = wait_tuning(sm, name)
        listed = children(sm, name)
    finally:
        second.stop()
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    lost = [c for c in listed if c["TrainingJobStatus"] == "Failed"]
    assert len(lost) == 2 and all("server restarted" in c["FailureReason"] for c in lost)
    assert described["TrainingJobStatusCounters"] == {"Completed": 3, "InProgress": 0, "RetryableError": 2,
                                                      "NonRetryableError": 0, "Stopped": 0}
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 3
    assert sorted(int(c["TrainingJobName"].split("-")[-2]) for c in listed) == [1, 2, 3, 4, 5]


@pytest.mark.slow
def test_a_reached_target_ends_the_search_and_warm_start_builds_on_a_parent(jobs: Stack, source: str,
                                                                             unique: str) -> None:
    sm = jobs.client("sagemaker")
    parent = f"{unique[:24]}-p"
    ranges = {"CategoricalParameterRanges": [{"Name": "alpha", "Values": ["3", "1", "0"]},
                                             {"Name": "kind", "Values": ["a"]}]}
    sm.create_hyper_parameter_tuning_job(**tuning_request(
        parent, source, strategy="Grid", max_jobs=None, parallel=1, ranges=ranges,
        TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.5}))
    with pytest.raises(ClientError) as running:
        sm.create_hyper_parameter_tuning_job(**warm_request(f"{unique[:24]}-w", parent, source))
    assert "must have ended" in running.value.response["Error"]["Message"]
    described = wait_tuning(sm, parent)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert len(children(sm, parent)) == 1  # (3, a) has loss 0: the target is reached, nothing more starts
    assert described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.0

    child = f"{unique[:24]}-w"
    sm.create_hyper_parameter_tuning_job(**warm_request(child, parent, source))
    described = wait_tuning(sm, child)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    assert described["TrainingJobStatusCounters"]["Completed"] == 2


def warm_request(name: str, parent: str, source: str) -> dict[str, Any]:
    request = tuning_request(name, source, strategy="Bayesian", max_jobs=2)
    request["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
                                  "WarmStartType": "IdenticalDataAndAlgorithm"}
    return request


@pytest.mark.slow
def test_early_stopping_stops_a_training_job_worse_than_the_median(jobs: Stack, unique: str) -> None:
    sm = jobs.client("sagemaker")
    name = unique[:28]
    epochs = put(jobs.s3(), f"{unique}/epochs/sourcedir.tar.gz", sourcedir({"quadratic.py": EPOCHS}))
    ranges = {"CategoricalParameterRanges": [{"Name": "alpha", "Values": ["0", "0.5", "5"]}]}
    request = tuning_request(name, epochs, strategy="Grid", max_jobs=None, parallel=1, ranges=ranges,
                             TrainingJobEarlyStoppingType="Auto")
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
    sm.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(sm, name, timeout=120)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    by_alpha = {c["TunedHyperParameters"]["alpha"]: c for c in children(sm, name)}
    assert by_alpha["0"]["TrainingJobStatus"] == "Completed" and by_alpha["0.5"]["TrainingJobStatus"] == "Completed"
    assert by_alpha["5"]["TrainingJobStatus"] == "Stopped"  # 40 epochs of 0.5 s: stopped well before its end
    stopped = sm.describe_training_job(TrainingJobName=by_alpha["5"]["TrainingJobName"])
    assert (stopped["TrainingEndTime"] - stopped["TrainingStartTime"]).total_seconds() < 15
    assert described["TrainingJobStatusCounters"]["Stopped"] == 1
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"alpha": "0"}


@pytest.mark.slow
def test_hyperband_stops_training_jobs_at_max_resource(jobs: Stack, unique: str) -> None:
    sm = jobs.client("sagemaker")
    name = unique[:28]
    epochs = put(jobs.s3(), f"{unique}/epochs/sourcedir.tar.gz", sourcedir({"quadratic.py": EPOCHS}))
    ranges = {"CategoricalParameterRanges": [{"Name": "alpha", "Values": ["5", "6"]}]}
    request = tuning_request(name, epochs, strategy="Hyperband", max_jobs=3, ranges=ranges,
                             static={"epochs": "4"})
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
    sm.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(sm, name, timeout=120)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["HyperParameterTuningJobConfig"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 4}}
    listed = children(sm, name)
    assert len(listed) == 3 and {c["TrainingJobStatus"] for c in listed} == {"Stopped"}
    for child in listed:  # 40 epochs of 0.5 s each, cut after the 4th
        job = sm.describe_training_job(TrainingJobName=child["TrainingJobName"])
        assert (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds() < 15
        assert child["ObjectiveStatus"] == "Succeeded"
