"""Reading training jobs' intermediate objective values from their logs, for early stopping.

The job runner writes every line of a training job to ``/aws/sagemaker/TrainingJobs`` ``<job>/algo-1-…``; the
objective's MetricDefinition (the same regex that fills FinalMetricDataList) finds its values there, in order.
Finished jobs' series never change, so they are read once and kept.
"""

from __future__ import annotations

import re
from typing import Any

from modelyard.jobs.metrics import compile_definitions, metric_value
from modelyard.log_groups import TRAINING_JOBS
from modelyard.logstore import GroupNotFound
from modelyard.ports import LogBackend

PAGE = 10_000
KEEP_FINISHED = 10_000


class ObjectiveSeries:
    """Objective values per training job, read from the log store."""

    def __init__(self, logs: LogBackend) -> None:
        self.logs = logs
        self._finished: dict[tuple[str, str, str], list[float]] = {}

    def values(self, account: str, region: str, training_job: dict[str, Any], metric: str) -> list[float]:
        """The objective values the training job has logged so far, in order."""
        key = (account, region, training_job["TrainingJobName"])
        if key in self._finished:
            return self._finished[key]
        pattern = _pattern(training_job, metric)
        series = [] if pattern is None else self._read(account, region, training_job["TrainingJobName"], pattern)
        if training_job.get("TrainingJobStatus") in ("Completed", "Stopped", "Failed"):
            if len(self._finished) >= KEEP_FINISHED:
                self._finished.clear()
            self._finished[key] = series
        return series

    def _read(self, account: str, region: str, name: str, pattern: re.Pattern[str]) -> list[float]:
        logs = self.logs.scoped(account, region)
        series: list[float] = []
        try:
            streams = logs.streams(TRAINING_JOBS, prefix=f"{name}/")
        except GroupNotFound:
            return series
        for stream in sorted(streams, key=lambda s: s.name):
            token: str | None = None
            while True:
                page = logs.read(TRAINING_JOBS, stream.name, start_from_head=True, limit=PAGE, token=token)
                for event in page.events:
                    value = metric_value(pattern, event.message)
                    if value is not None:
                        series.append(value)
                if not page.events or page.forward_token == token:
                    break
                token = page.forward_token
        return series


def _pattern(training_job: dict[str, Any], metric: str) -> re.Pattern[str] | None:
    definitions = (training_job.get("AlgorithmSpecification") or {}).get("MetricDefinitions")
    for definition in compile_definitions(definitions):
        if definition.name == metric:
            return definition.pattern
    return None
