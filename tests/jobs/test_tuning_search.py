"""The tuning job's pure parts: search spaces by SageMaker's rules, the samplers, counters and the best job."""

from __future__ import annotations

import math

import pytest

from modelyard.jobs.tuning_progress import Objective, best_summary, child_summary, status_counters
from modelyard.jobs.tuning_samplers import Observation, grid_point, suggest
from modelyard.jobs.tuning_space import TuningConfigError, format_value, parse_space

SPACE = parse_space({
    "IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "64", "ScalingType": "Logarithmic"}],
    "ContinuousParameterRanges": [{"Name": "momentum", "MinValue": "0.5", "MaxValue": "0.999",
                                   "ScalingType": "ReverseLogarithmic"},
                                  {"Name": "lr", "MinValue": "1e-5", "MaxValue": "1", "ScalingType": "Logarithmic"}],
    "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}]})


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_suggestions_stay_in_range_and_repeat_for_the_same_seed(strategy: str) -> None:
    history: list[Observation] = []
    for index in range(12):
        values = suggest(strategy, SPACE, index=index, seed=7, history=history, maximize=False, budget=12)
        again = suggest(strategy, SPACE, index=index, seed=7, history=history, maximize=False, budget=12)
        assert values == again
        assert isinstance(values["depth"], int) and 1 <= values["depth"] <= 64
        assert 0.5 <= values["momentum"] <= 0.999 and 1e-5 <= values["lr"] <= 1
        assert values["kind"] in ("a", "b", "c")
        assert SPACE.parse({name: format_value(item, values[name])
                            for name, item in zip(SPACE.names, SPACE.ranges, strict=True)}) is not None
        history.append(Observation(values, math.log10(values["lr"]) ** 2))


def test_logarithmic_scaling_spreads_samples_over_decades() -> None:
    samples = [suggest("Random", SPACE, index=i, seed=1, history=[], maximize=False, budget=1)["lr"]
               for i in range(400)]
    below = sum(1 for value in samples if value < 1e-3)
    assert 120 < below < 280  # about 3 of the 5 decades; a linear draw would put almost none there


def test_bayesian_uses_the_history_it_is_given() -> None:
    space = parse_space({"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "10"}]})
    history = [Observation({"x": x / 2}, (x / 2 - 8) ** 2) for x in range(21)]
    picks = [suggest("Bayesian", space, index=i, seed=3, history=history, maximize=False, budget=40)["x"]
             for i in range(20)]
    assert sum(1 for x in picks if 6 <= x <= 10) >= 15


def test_grid_enumerates_every_combination() -> None:
    space = parse_space({"CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2"]},
                                                        {"Name": "b", "Values": ["x", "y", "z"]}]})
    points = [grid_point(space, i) for i in range(space.grid_size())]
    assert space.grid_size() == 6 and len({tuple(p.values()) for p in points}) == 6


@pytest.mark.parametrize("ranges, words", [
    ({"IntegerParameterRanges": [{"Name": "n", "MinValue": "1.5", "MaxValue": "3"}]}, "must be an integer"),
    ({"ContinuousParameterRanges": [{"Name": "c", "MinValue": "nan", "MaxValue": "3"}]}, "finite"),
    ({"CategoricalParameterRanges": [{"Name": "k", "Values": ["a", "a"]}]}, "more than once"),
    ({"CategoricalParameterRanges": [{"Name": "k", "Values": [str(i) for i in range(31)]}]}, "at most 30"),
    ({"IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "3"}],
      "CategoricalParameterRanges": [{"Name": "n", "Values": ["a"]}]}, "more than one range"),
    ({}, "at least one"),
    ({"AutoParameters": [{"Name": "n", "ValueHint": "1"}]}, "Autotune"),
])
def test_spaces_sagemaker_refuses(ranges: dict[str, object], words: str) -> None:
    with pytest.raises(TuningConfigError, match=words):
        parse_space(ranges)  # type: ignore[arg-type]


def _job(name: str, status: str, loss: float | None = None, reason: str | None = None) -> dict[str, object]:
    job: dict[str, object] = {"TrainingJobName": name, "TrainingJobArn": f"arn:{name}", "CreationTime": 1.0,
                              "TrainingJobStatus": status, "HyperParameters": {"kind": "a", "other": "1"}}
    if loss is not None:
        job["FinalMetricDataList"] = [{"MetricName": "acc", "Value": 0.5}, {"MetricName": "loss", "Value": loss}]
    if reason:
        job["FailureReason"] = reason
    return job


def test_counters_objectives_and_the_best_job() -> None:
    objective = Objective("loss", maximize=False)
    jobs = [_job("a", "Completed", 0.3), _job("b", "Completed", 0.1), _job("c", "InProgress"),
            _job("d", "Failed", reason="restart"), _job("e", "Failed", reason="bug"), _job("f", "Completed")]
    counters = status_counters(jobs, objective, lambda job: job.get("FailureReason") == "restart")  # type: ignore[arg-type]
    assert counters == {"TrainingJobStatusCounters": {"Completed": 3, "InProgress": 1, "RetryableError": 1,
                                                      "NonRetryableError": 1, "Stopped": 0},
                        "ObjectiveStatusCounters": {"Succeeded": 2, "Pending": 1, "Failed": 3}}
    summaries = [child_summary(job, "t", ["kind"], objective) for job in jobs]  # type: ignore[arg-type]
    assert summaries[0]["TunedHyperParameters"] == {"kind": "a"}
    best = best_summary(summaries, objective)
    assert best is not None and best["TrainingJobName"] == "b"
    assert best_summary(summaries, Objective("loss", maximize=True))["TrainingJobName"] == "a"  # type: ignore[index]


def test_early_stopping_compares_with_the_median_of_peers_running_averages() -> None:
    from modelyard.jobs.tuning_early_stop import should_stop

    peers = [[1.0, 0.8, 0.6], [1.2, 1.0, 0.8], [0.9, 0.7]]
    assert not should_stop([5.0], peers[:1], maximize=False)  # too few finished peers yet
    assert should_stop([1.2], peers, maximize=False)  # step 1: median of 1.0, 1.2, 0.9 is 1.0
    assert not should_stop([0.95], peers, maximize=False)
    assert should_stop([1.0, 0.95, 0.9], peers, maximize=False)  # step 3: averages 0.8, 1.0 -> median 0.9
    assert not should_stop([1.0, 0.9, 0.85], peers, maximize=False)
    assert should_stop([0.1], [[0.5], [0.6], [0.7]], maximize=True)
    assert not should_stop([], peers, maximize=False)


def test_hyperband_halves_at_rungs_and_ends_at_max_resource() -> None:
    from modelyard.jobs.tuning_early_stop import hyperband_should_stop, rungs

    assert rungs(1, 27) == [1, 3, 9] and rungs(2, 2) == []
    others = [[0.2, 0.2, 0.2], [0.5, 0.5, 0.5], [0.9, 0.9, 0.9]]
    assert not hyperband_should_stop([0.1], others[:1], maximize=False, min_resource=1, max_resource=27)
    assert hyperband_should_stop([0.6], others, maximize=False, min_resource=1, max_resource=27)  # not top 1/3
    assert not hyperband_should_stop([0.1], others, maximize=False, min_resource=1, max_resource=27)
    assert not hyperband_should_stop([0.6, 0.5], others, maximize=False, min_resource=3, max_resource=27)
    assert hyperband_should_stop([0.1] * 27, others, maximize=False, min_resource=1, max_resource=27)
    assert not hyperband_should_stop([0.95], others, maximize=True, min_resource=1, max_resource=27)
