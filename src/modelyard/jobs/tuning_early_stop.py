"""Early stopping (``TrainingJobEarlyStoppingType: Auto``) the way SageMaker documents its rule.

A training job's objective values in the order its log reported them are its steps (epochs). At its latest
step k the job is stopped when its value there is worse than the median, over the finished training jobs
that reached step k, of their running averages of the objective up to step k. The rule waits for
MIN_PEERS such jobs, so the first training jobs always run to their end.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

MIN_PEERS = 2


def running_average(values: Sequence[float], steps: int) -> float:
    """The mean of the first ``steps`` values."""
    return sum(values[:steps]) / steps


def should_stop(current: Sequence[float], finished: Sequence[Sequence[float]], maximize: bool) -> bool:
    """Whether a running training job with objective values ``current`` is worse than its peers' median."""
    steps = len(current)
    if steps == 0:
        return False
    peers = [running_average(values, steps) for values in finished if len(values) >= steps]
    if len(peers) < MIN_PEERS:
        return False
    median = statistics.median(peers)
    latest = current[-1]
    return latest < median if maximize else latest > median
