"""Where a tuning job's next training job samples its hyperparameters, by strategy.

    Random    each value drawn independently, uniformly on the range's scale
    Grid      the index-th combination of the categorical values (row-major, in request order)
    Bayesian  Optuna's TPE sampler over the results so far (parents' results too, on warm start)

Stateless: the history is rebuilt from the stored training jobs before every suggestion, and the seed is
derived from the tuning job's seed and the child's index, so a server restart changes nothing.
Bayesian uses Optuna (https://optuna.org): a maintained, widely used library whose TPE sampler handles
integer, log-scaled and categorical dimensions natively and accepts results added from outside a study.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelyard.jobs.tuning_space import CategoricalRange, NumericRange, Range, SearchSpace


@dataclass(frozen=True)
class Observation:
    """A finished training job's tuned values and its objective metric value."""

    values: dict[str, Any]
    objective: float


def derived_seed(seed: int, index: int) -> int:
    """A 32-bit seed for the ``index``-th suggestion of a tuning job seeded with ``seed``."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def suggest(strategy: str, space: SearchSpace, *, index: int, seed: int, history: Sequence[Observation],
            maximize: bool, budget: int) -> dict[str, Any]:
    """The tuned values of the ``index``-th (0-based) training job."""
    if strategy == "Grid":
        return grid_point(space, index)
    if strategy == "Bayesian":
        return _bayesian(space, derived_seed(seed, index), history, maximize, budget)
    rng = random.Random(derived_seed(seed, index))
    return {item.name: _uniform(item, rng) for item in space.ranges}


def grid_point(space: SearchSpace, index: int) -> dict[str, Any]:
    """The ``index``-th combination of a categorical-only space."""
    axes = [item.values for item in space.ranges if isinstance(item, CategoricalRange)]
    combination = next(itertools.islice(itertools.product(*axes), index, None))
    return dict(zip(space.names, combination, strict=True))


def preload_optimiser() -> None:
    """Import Optuna now (about a second), so the first Bayesian suggestion does not wait for it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _uniform(item: Range, rng: random.Random) -> Any:
    if isinstance(item, CategoricalRange):
        return rng.choice(item.values)
    value = item.from_unit(rng.random())
    return int(value) if item.integer else value


def _bayesian(space: SearchSpace, seed: int, history: Sequence[Observation], maximize: bool,
              budget: int) -> dict[str, Any]:
    import optuna
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def distribution(item: Range) -> BaseDistribution:
        if isinstance(item, CategoricalRange):
            return CategoricalDistribution(list(item.values))
        if item.integer:
            return IntDistribution(int(item.low), int(item.high), log=item.scaling == "Logarithmic")
        if item.scaling == "ReverseLogarithmic":
            return FloatDistribution(1.0 - item.high, 1.0 - item.low, log=True)
        return FloatDistribution(item.low, item.high, log=item.scaling == "Logarithmic")

    def to_optuna(item: Range, value: Any) -> Any:
        reverse = isinstance(item, NumericRange) and item.scaling == "ReverseLogarithmic"
        return 1.0 - value if reverse else value

    distributions = {item.name: distribution(item) for item in space.ranges}
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, budget // 4)))
    study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=sampler)
    for observation in history:
        params = {item.name: to_optuna(item, observation.values[item.name]) for item in space.ranges}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                  value=observation.objective))
    trial = study.ask(distributions)
    return {item.name: to_optuna(item, trial.params[item.name]) for item in space.ranges}
