"""The tuner's passes over a real store (SQLite). The job controller is a recording stand-in (it only notes
which training jobs it was asked to run or stop), so a pass can be checked step by step, including a tuning
job past its MaxRuntimeInSeconds (the API's minimum is 120 s: too long to wait for in a test)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from modelyard.controllers.tuning.children import Children
from modelyard.controllers.tuning.early_stopping import ObjectiveSeries
from modelyard.controllers.tuning.tuner import Tuner
from modelyard.desired.tuning import TuningDesired
from modelyard.logstore import LogStore
from modelyard.store.database import Database
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import children_of, get_record, insert_record

ACCOUNT, REGION = "000000000000", "us-east-1"
TUNING = "hyper-parameter-tuning-job"


class RecordingScheduler:
    """Stand-in for the job controller: remembers the training jobs it was asked to run and to stop."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []

    def notify(self, kind: str, account: str, region: str, name: str) -> None:
        self.started.append(name)

    def request_stop(self, kind: str, account: str, region: str, name: str) -> None:
        self.stopped.append(name)


def _tuning(db: Database, name: str, *, created: float, runtime: int | None = None) -> None:
    limits: dict[str, Any] = {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2}
    if runtime is not None:
        limits["MaxRuntimeInSeconds"] = runtime
    document = {"HyperParameterTuningJobName": name, "HyperParameterTuningJobArn": f"arn:aws:sagemaker:{REGION}:"
                f"{ACCOUNT}:hyper-parameter-tuning-job/{name}", "HyperParameterTuningJobStatus": "InProgress",
                "CreationTime": created, "HyperParameterTuningJobConfig": {
                    "Strategy": "Random", "ResourceLimits": limits,
                    "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
                    "ParameterRanges": {"IntegerParameterRanges": [{"Name": "alpha", "MinValue": "0",
                                                                    "MaxValue": "6"}]}}}
    template = {"TrainingJobName": "template", "HyperParameters": {"epochs": "2"},
                "AlgorithmSpecification": {"TrainingImage": "modelyard/python:3.11"}}
    with db.session(write=True) as conn:
        insert_record(conn, account=ACCOUNT, region=REGION, kind=TUNING, name=name, arn=document[
            "HyperParameterTuningJobArn"], document=document, created_at=created, status="InProgress",
            desired=TuningDesired(template, seed=1).to_json())


def _document(db: Database, kind: str, name: str) -> dict[str, Any]:
    with db.session() as conn:
        record = get_record(conn, ACCOUNT, REGION, kind, name)
    assert record is not None
    return record.document


def _children(db: Database, name: str) -> list[dict[str, Any]]:
    with db.session() as conn:
        return [r.document for r in children_of(conn, ACCOUNT, REGION, "training-job", name)]


def test_a_pass_launches_up_to_the_parallel_limit_from_the_template(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'store.db'}")
    scheduler = RecordingScheduler()
    tuner = Tuner(db, Children(db, scheduler), ObjectiveSeries(LogStore(tmp_path / 'logs')))
    _tuning(db, "tune", created=time.time())
    tuner.pass_once()
    tuner.pass_once()
    launched = _children(db, "tune")
    assert [c["TrainingJobName"] for c in launched] == scheduler.started and len(launched) == 2
    for index, child in enumerate(launched, start=1):
        assert re.fullmatch(rf"tune-00{index}-[0-9a-f]{{8}}", child["TrainingJobName"])
        assert child["TuningJobArn"].endswith(":hyper-parameter-tuning-job/tune")
        assert child["HyperParameters"]["epochs"] == "2" and 0 <= int(child["HyperParameters"]["alpha"]) <= 6
        assert child["TrainingJobStatus"] == "InProgress" and child["SecondaryStatus"] == "Starting"
    counters = _document(db, TUNING, "tune")["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 2


def test_past_its_runtime_a_tuning_job_stops_its_training_jobs_then_completes(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'store.db'}")
    scheduler = RecordingScheduler()
    tuner = Tuner(db, Children(db, scheduler), ObjectiveSeries(LogStore(tmp_path / 'logs')))
    _tuning(db, "late", created=time.time() - 5)
    tuner.pass_once()
    first = _children(db, "late")
    assert len(first) == 2
    with db.session(write=True) as conn:
        record = get_record(conn, ACCOUNT, REGION, TUNING, "late")
        assert record is not None
        config = record.document["HyperParameterTuningJobConfig"]
        config["ResourceLimits"]["MaxRuntimeInSeconds"] = 1
        patch_record(conn, ACCOUNT, REGION, TUNING, "late", Patch({"HyperParameterTuningJobConfig": config}),
                     status_field="HyperParameterTuningJobStatus")
    tuner.pass_once()
    assert sorted(scheduler.stopped) == sorted(c["TrainingJobName"] for c in first)
    assert {c["TrainingJobStatus"] for c in _children(db, "late")} == {"Stopping"}
    assert _document(db, TUNING, "late")["HyperParameterTuningJobStatus"] == "InProgress"
    for index, child in enumerate(first):
        with db.session(write=True) as conn:
            patch_record(conn, ACCOUNT, REGION, "training-job", child["TrainingJobName"], Patch({
                "TrainingJobStatus": "Stopped", "FinalMetricDataList": [{"MetricName": "loss", "Value": index}]}),
                status_field="TrainingJobStatus")
    tuner.pass_once()
    described = _document(db, TUNING, "late")
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert len(_children(db, "late")) == 2
    assert described["BestTrainingJob"]["TrainingJobName"] == first[0]["TrainingJobName"]
    assert described["TrainingJobStatusCounters"]["Stopped"] == 2
    assert "HyperParameterTuningEndTime" in described
