"""``modelyard endpoints --models``: which models each multi-model instance holds, from the snapshots
the instances write to their endpoint's deployment log (``log_groups.MODEL_SNAPSHOT_MARK``)."""

from __future__ import annotations

import json
from typing import Any

from modelyard.cli.connection import Connection, not_found, pages
from modelyard.log_groups import MODEL_SNAPSHOT_MARK, MODEL_SNAPSHOT_SUFFIX, deployment_group

SNAPSHOT_LINES = 20


def instance_snapshots(conn: Connection, endpoint: str) -> list[dict[str, Any]]:
    """The last snapshot of every running multi-model instance of ``endpoint`` (none for other endpoints)."""
    logs = conn.client("logs")
    group = deployment_group(endpoint)
    try:
        streams = list(pages(logs.describe_log_streams, "logStreams", "nextToken", logGroupName=group))
    except Exception as exc:
        if not_found(exc):
            return []
        raise
    found = []
    for stream in streams:
        name = stream["logStreamName"]
        if not name.endswith(MODEL_SNAPSHOT_SUFFIX):
            continue
        events = logs.get_log_events(logGroupName=group, logStreamName=name, limit=SNAPSHOT_LINES,
                                     startFromHead=False)["events"]
        lines = [e["message"] for e in events if e["message"].startswith(MODEL_SNAPSHOT_MARK)]
        if lines:
            snapshot = json.loads(lines[-1][len(MODEL_SNAPSHOT_MARK):])
            if not snapshot.get("Stopped"):
                found.append({"EndpointName": endpoint, **snapshot})
    return found


def model_rows(snapshots: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One table row per (instance, model)."""
    rows = []
    for snapshot in snapshots:
        for model in snapshot["Models"]:
            state = "loaded" if model["Loaded"] else "loading" if model["Loading"] else "unloaded"
            memory = model.get("MemoryBytes")
            seconds = model.get("LastLoadSeconds")
            rows.append((snapshot["EndpointName"], snapshot["Variant"], snapshot["InstanceId"], model["TargetModel"],
                         state, model["Loads"], model["Unloads"], model["Hits"], model["Misses"],
                         "" if seconds is None else f"{seconds:.3f}s",
                         "" if memory is None else f"{memory // (1 << 20)} MiB"))
    return rows


MODEL_COLUMNS = ["endpoint", "variant", "instance", "model", "state", "loads", "unloads", "hits", "misses",
                 "last load", "memory"]
