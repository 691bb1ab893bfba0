"""Early stopping (``TrainingJobEarlyStoppingType: Auto``) the way SageMaker documents its rule.

A training job's objective values in the order its log reported them are its steps (epochs). At its latest
step k the job is stopped when its value there is worse than the median, over the finished training jobs
that reached step k, of their running averages of the objective up to step k. The rule waits for
MIN_PEERS such jobs, so the first training jobs always run to their end.

Hyperband (``hyperband_should_stop``) works on the same series: the steps are its resource (epochs).
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


HYPERBAND_ETA = 3
EPOCH_HYPERPARAMETERS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


def rungs(min_resource: int, max_resource: int, eta: int = HYPERBAND_ETA) -> list[int]:
    """The steps at which Hyperband compares training jobs: MinResource, × eta, … below MaxResource."""
    levels = []
    level = min_resource
    while level < max_resource:
        levels.append(level)
        level *= eta
    return levels


def hyperband_should_stop(current: Sequence[float], others: Sequence[Sequence[float]], maximize: bool,
                          min_resource: int, max_resource: int, eta: int = HYPERBAND_ETA) -> bool:
    """Asynchronous successive halving, stopping-only (a stopped job is never resumed): at the highest rung
    the job has reached it goes on only while it is in the top 1/eta of every training job (running or
    finished) that reached that rung, judged once at least eta have; at MaxResource it is done."""
    steps = len(current)
    if steps >= max_resource:
        return True
    reached = [rung for rung in rungs(min_resource, max_resource, eta) if rung <= steps]
    if not reached:
        return False
    rung = reached[-1]
    values = sorted((series[rung - 1] for series in [*others, current] if len(series) >= rung), reverse=maximize)
    if len(values) < eta:
        return False
    cutoff = values[max(1, len(values) // eta) - 1]
    mine = current[rung - 1]
    return mine < cutoff if maximize else mine > cutoff
