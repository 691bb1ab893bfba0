"""A StopTransformJob that lands while the controller records a job's end is never lost (SQLite, PostgreSQL).

The controller's end-of-run write used to read the job in one transaction and write in another; a Stop
committed between the two was overwritten by Completed/Failed. ``StopAfterFirstTransaction`` lands the
Stop, through the real service, right after the controller's first transaction commits: deterministic,
no sleeps, no threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from modelyard.context import AppState
from modelyard.controllers.reconciler import ResourceKey
from modelyard.controllers.transform.controller import TransformController
from modelyard.services.transform_jobs import describe_transform_job, stop_transform_job
from modelyard.store.database import Database
from modelyard.wire.errors import ValidationException
from tests.controllers.conftest import ACCOUNT, REGION, app_state, context
from tests.controllers.resources import add_model, add_transform_job

JOB = ResourceKey(ACCOUNT, REGION, "job")


class StopAfterFirstTransaction:
    """Test double of the controller's Database: the real store, plus a hook run once, right after the
    controller's first transaction ends."""

    def __init__(self, db: Database, hook: Callable[[], None]) -> None:
        self.db = db
        self.hook: Callable[[], None] | None = hook

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Connection]:
        with self.db.session(write=write) as conn:
            yield conn
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()


def _controller(state: AppState, db: Any) -> TransformController:
    return TransformController(db, state.settings.limits, None, None, None)  # type: ignore[arg-type]


def _status(state: AppState) -> str:
    return str(describe_transform_job(context(state), {"TransformJobName": JOB.name})["TransformJobStatus"])


def test_stop_between_controller_transactions_is_not_overwritten(db: Database, tmp_path: Path) -> None:
    state = app_state(db, tmp_path)
    add_model(context(state), "model", "image:1")
    add_transform_job(context(state), JOB.name, "model")
    answers: list[str] = []

    def stop() -> None:
        try:
            stop_transform_job(context(state), {"TransformJobName": JOB.name})
            answers.append("accepted")
        except ValidationException:
            answers.append("refused")

    _controller(state, StopAfterFirstTransaction(db, stop)).record_end(JOB, "Completed", None)

    assert answers, "the Stop never landed"
    assert (answers[0], _status(state)) in (("accepted", "Stopped"), ("refused", "Completed"))


def test_stop_before_the_end_turns_the_end_into_stopped(db: Database, tmp_path: Path) -> None:
    state = app_state(db, tmp_path)
    add_model(context(state), "model", "image:1")
    add_transform_job(context(state), JOB.name, "model")
    stop_transform_job(context(state), {"TransformJobName": JOB.name})

    _controller(state, db).record_end(JOB, "Failed", "some files failed")

    described = describe_transform_job(context(state), {"TransformJobName": JOB.name})
    assert described["TransformJobStatus"] == "Stopped" and "FailureReason" not in described


def test_an_ended_job_is_not_ended_again(db: Database, tmp_path: Path) -> None:
    state = app_state(db, tmp_path)
    add_model(context(state), "model", "image:1")
    add_transform_job(context(state), JOB.name, "model")
    controller = _controller(state, db)

    controller.record_end(JOB, "Completed", None)
    controller.record_end(JOB, "Failed", "late")

    assert _status(state) == "Completed"
