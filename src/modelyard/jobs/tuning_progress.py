"""A tuning job's view of its training jobs: objective values, summaries, counters, the best job.

Pure functions of stored training-job documents (DescribeTrainingJob's shape). A training job's
objective is the last value of the objective metric in its FinalMetricDataList (MetricDefinitions read
from its log); a job that ended without one has ObjectiveStatus Failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

ACTIVE = ("InProgress", "Stopping")


@dataclass(frozen=True)
class Objective:
    """The tuning job's objective: a metric name and a direction."""

    metric: str
    maximize: bool

    @classmethod
    def of(cls, config: dict[str, Any]) -> Objective:
        """From ``HyperParameterTuningJobObjective``."""
        return cls(config["MetricName"], config.get("Type") == "Maximize")

    def value(self, training_job: dict[str, Any]) -> float | None:
        """The training job's final value of the objective metric, or None."""
        for item in training_job.get("FinalMetricDataList") or []:
            if item.get("MetricName") == self.metric:
                return float(item["Value"])
        return None

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` beats ``b``."""
        return a > b if self.maximize else a < b


def objective_status(training_job: dict[str, Any], objective: Objective) -> str:
    """Succeeded (the job completed or stopped with a value), Pending (still running) or Failed."""
    status = training_job.get("TrainingJobStatus")
    if status in ACTIVE:
        return "Pending"
    if status in ("Completed", "Stopped") and objective.value(training_job) is not None:
        return "Succeeded"
    return "Failed"


def child_summary(training_job: dict[str, Any], tuning_name: str, tuned: Sequence[str],
                  objective: Objective) -> dict[str, Any]:
    """``HyperParameterTrainingJobSummary`` of one training job of the tuning job."""
    hyperparameters = training_job.get("HyperParameters") or {}
    summary: dict[str, Any] = {
        "TrainingJobName": training_job["TrainingJobName"], "TrainingJobArn": training_job["TrainingJobArn"],
        "TuningJobName": tuning_name, "CreationTime": training_job["CreationTime"],
        "TrainingJobStatus": training_job["TrainingJobStatus"],
        "TunedHyperParameters": {name: hyperparameters[name] for name in tuned if name in hyperparameters},
        "ObjectiveStatus": objective_status(training_job, objective),
    }
    for field in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if training_job.get(field) is not None:
            summary[field] = training_job[field]
    value = objective.value(training_job)
    if value is not None and summary["ObjectiveStatus"] == "Succeeded":
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": "Maximize" if objective.maximize else "Minimize", "MetricName": objective.metric, "Value": value}
    return summary


def status_counters(training_jobs: Sequence[dict[str, Any]], objective: Objective,
                    retryable: Callable[[dict[str, Any]], bool]) -> dict[str, dict[str, int]]:
    """``TrainingJobStatusCounters`` and ``ObjectiveStatusCounters`` over the training jobs."""
    jobs = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    objectives = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for job in training_jobs:
        status = job.get("TrainingJobStatus")
        if status in ACTIVE:
            jobs["InProgress"] += 1
        elif status == "Failed":
            jobs["RetryableError" if retryable(job) else "NonRetryableError"] += 1
        elif status in jobs:
            jobs[status] += 1
        objectives[objective_status(job, objective)] += 1
    return {"TrainingJobStatusCounters": jobs, "ObjectiveStatusCounters": objectives}


def best_summary(summaries: Sequence[dict[str, Any]], objective: Objective) -> dict[str, Any] | None:
    """The summary with the best objective value (the earliest wins a tie), or None."""
    best: dict[str, Any] | None = None
    for summary in summaries:
        metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric")
        if metric is None:
            continue
        if best is None or objective.better(metric["Value"],
                                            best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]):
            best = summary
    return best
