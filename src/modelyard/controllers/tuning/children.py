"""A tuning job's training jobs: launched from the job's template through the job controller, stopped, and
read back as the optimiser's history.

    launch   template + name ``<tuning>-<NNN>-<8 hex>`` + static and sampled hyperparameters
             ─► a training-job record (parent: the tuning job, TuningJobArn set) ─► JobController.notify
    stop     InProgress ─► Stopping (as StopTrainingJob) ─► JobController.request_stop
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from modelyard.arns import sagemaker_arn
from modelyard.controllers.jobs.controller import RESTARTED
from modelyard.jobs.training_status import first_transition, stopping
from modelyard.jobs.tuning_progress import Objective
from modelyard.jobs.tuning_samplers import Observation
from modelyard.jobs.tuning_space import SearchSpace, format_value
from modelyard.ports import JobScheduler
from modelyard.store.database import Database
from modelyard.store.patches import Patch, patch_record
from modelyard.store.resources import Record, children_of, get_record, insert_record

TRAINING_KIND = "training-job"
TUNING_KIND = "hyper-parameter-tuning-job"
STATUS = "TrainingJobStatus"


def lost_to_restart(training_job: dict[str, Any]) -> bool:
    """Whether the training job failed because the server restarted under it (retried, not counted)."""
    return training_job.get(STATUS) == "Failed" and str(training_job.get("FailureReason") or "").startswith(
        RESTARTED[:40])


class Children:
    """Store access for one server's tuning jobs' training jobs."""

    def __init__(self, db: Database, jobs: JobScheduler) -> None:
        self.db = db
        self.jobs = jobs

    def of(self, tuning: Record) -> list[dict[str, Any]]:
        """The tuning job's training jobs (documents), oldest first."""
        with self.db.session() as conn:
            return [r.document for r in children_of(conn, tuning.account, tuning.region, TRAINING_KIND, tuning.name)]

    def launch(self, tuning: Record, template: dict[str, Any], space: SearchSpace, values: dict[str, Any],
               index: int) -> dict[str, Any]:
        """Create and start the ``index``-th (1-based) training job with the sampled ``values``."""
        name = f"{tuning.name}-{index:03d}-{secrets.token_hex(4)}"
        arn = sagemaker_arn(tuning.region, tuning.account, TRAINING_KIND, name)
        now = time.time()
        document = copy.deepcopy(template)
        hyperparameters = dict(document.get("HyperParameters") or {})
        hyperparameters.update({item.name: format_value(item, values[item.name]) for item in space.ranges})
        document.update({"TrainingJobName": name, "TrainingJobArn": arn, **first_transition(now),
                         "HyperParameters": hyperparameters, "CreationTime": now, "LastModifiedTime": now,
                         "TuningJobArn": tuning.document["HyperParameterTuningJobArn"]})
        with self.db.session(write=True) as conn:
            insert_record(conn, account=tuning.account, region=tuning.region, kind=TRAINING_KIND, name=name, arn=arn,
                          document=document, created_at=now, parent=tuning.name, status="InProgress")
        self.jobs.notify(TRAINING_KIND, tuning.account, tuning.region, name)
        return document

    def stop(self, tuning: Record, training_job: dict[str, Any]) -> None:
        """Ask a running training job to stop, as StopTrainingJob does."""
        name = training_job["TrainingJobName"]

        def change(record: Record) -> Patch | None:
            if record.document.get(STATUS) != "InProgress":
                return None
            return Patch(stopping(record.document, time.time()))

        with self.db.session(write=True) as conn:
            patch_record(conn, tuning.account, tuning.region, TRAINING_KIND, name, change, status_field=STATUS)
        self.jobs.request_stop(TRAINING_KIND, tuning.account, tuning.region, name)

    def parents_history(self, tuning: Record, parents: list[str], space: SearchSpace,
                        objective: Objective) -> list[Observation]:
        """The finished training jobs of the warm-start parents that fall inside this job's search space."""
        observations: list[Observation] = []
        for parent in parents:
            with self.db.session() as conn:
                record = get_record(conn, tuning.account, tuning.region, TUNING_KIND, parent)
            if record is not None:
                observations += history(space, objective, self.of(record))
        return observations


def history(space: SearchSpace, objective: Objective, training_jobs: list[dict[str, Any]]) -> list[Observation]:
    """The training jobs that reported the objective, as the optimiser's observations."""
    observations = []
    for job in training_jobs:
        value = objective.value(job)
        values = space.parse(job.get("HyperParameters") or {})
        if value is not None and values is not None and job.get(STATUS) in ("Completed", "Stopped"):
            observations.append(Observation(values, value))
    return observations
