"""A training job's status fields: TrainingJobStatus, SecondaryStatus and its transitions, times.

    InProgress: Starting ─► Downloading ─► Training ─► Uploading ─► Completed
                                      └──────────┴────────────► Failed
    Stopping (StopTrainingJob)  ─► Stopped / MaxRuntimeExceeded (status Stopped)

Each transition closes the previous one (EndTime) and opens the next with SageMaker's StatusMessage.
Pure functions of the stored document; they return the changes to merge.
"""

from __future__ import annotations

from typing import Any

MESSAGES = {
    "Starting": "Launching requested ML instances",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped: it exceeded its MaxRuntimeInSeconds",
}
TERMINAL = ("Completed", "Failed", "Stopped")


def first_transition(now: float) -> dict[str, Any]:
    """The status fields of a job just created."""
    return {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting",
            "SecondaryStatusTransitions": [{"Status": "Starting", "StartTime": now,
                                            "StatusMessage": MESSAGES["Starting"]}]}


def transition(document: dict[str, Any], status: str, now: float, message: str | None = None,
               final: bool = False) -> dict[str, Any]:
    """Move SecondaryStatus to ``status``; ``final`` closes the new transition at once."""
    transitions = [dict(t) for t in document.get("SecondaryStatusTransitions") or []]
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    entry: dict[str, Any] = {"Status": status, "StartTime": now, "StatusMessage": message or MESSAGES[status]}
    if final:
        entry["EndTime"] = now
    transitions.append(entry)
    return {"SecondaryStatus": status, "SecondaryStatusTransitions": transitions}


def progress(document: dict[str, Any], status: str, now: float) -> dict[str, Any]:
    """A step of a running job; nothing once a stop was requested or the job ended."""
    if document.get("TrainingJobStatus") != "InProgress":
        return {}
    changes = transition(document, status, now)
    if status == "Downloading" and "TrainingStartTime" not in document:
        changes["TrainingStartTime"] = now
    return changes


def stopping(document: dict[str, Any], now: float) -> dict[str, Any]:
    """StopTrainingJob: InProgress ─► Stopping."""
    return {"TrainingJobStatus": "Stopping", **transition(document, "Stopping", now)}


def terminal(document: dict[str, Any], status: str, reason: str | None, now: float,
             secondary: str | None = None) -> dict[str, Any]:
    """End the job as ``status`` (Completed, Failed, Stopped); ``secondary`` defaults to the same word."""
    secondary = secondary or status
    message = reason if status == "Failed" and reason else None
    changes: dict[str, Any] = {"TrainingJobStatus": status,
                               **transition(document, secondary, now, message, final=True),
                               "TrainingEndTime": now}
    started = document.get("TrainingStartTime")
    if started is None:
        changes["TrainingStartTime"] = now
        started = now
    seconds = max(0, int(round(now - started)))
    changes["TrainingTimeInSeconds"] = seconds
    changes["BillableTimeInSeconds"] = seconds
    if status == "Failed":
        changes["FailureReason"] = reason or MESSAGES["Failed"]
    return changes
