"""The pure parts behind training jobs: metric extraction, failure reasons, status transitions."""

from __future__ import annotations

import pytest

from modelyard.jobs import training_status as status
from modelyard.jobs.failures import MAX_REASON, algorithm_error, last_meaningful_line
from modelyard.jobs.metrics import MetricDefinitionError, MetricTracker, compile_definitions, metric_value


def test_metrics_keep_the_last_value_per_metric_in_definition_order() -> None:
    tracker = MetricTracker(compile_definitions([
        {"Name": "acc", "Regex": r"acc=([0-9.]+)"}, {"Name": "loss", "Regex": r"loss: (\S+)"},
        {"Name": "whole", "Regex": r"\d+\.\d+e-\d+"}, {"Name": "absent", "Regex": r"nope=(\d)"}]))
    for stamp, line in enumerate(["loss: 0.9 acc=0.1", "loss: nan", "loss: abc", "acc=0.75 loss: 0.25",
                                  "tiny 1.5e-3", "loss: inf"]):
        tracker.observe(line, float(stamp))
    assert tracker.final() == [{"MetricName": "acc", "Value": 0.75, "Timestamp": 3.0},
                               {"MetricName": "loss", "Value": 0.25, "Timestamp": 3.0},
                               {"MetricName": "whole", "Value": 0.0015, "Timestamp": 4.0}]


@pytest.mark.parametrize("definitions, message", [
    ([{"Name": "a", "Regex": "("}], "The regex of metric 'a' is not valid"),
    ([{"Name": "a", "Regex": "x"}, {"Name": "a", "Regex": "y"}], "defined more than once"),
    ([{"Name": f"m{i}", "Regex": "x"} for i in range(41)], "At most 40"),
])
def test_bad_metric_definitions(definitions, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MetricDefinitionError, match=message):
        compile_definitions(definitions)


def test_optional_group_that_did_not_match_is_no_value() -> None:
    pattern = compile_definitions([{"Name": "a", "Regex": r"a=(\d+)?x"}])[0].pattern
    assert metric_value(pattern, "a=x") is None and metric_value(pattern, "a=12x") == 12.0


def test_failure_reasons() -> None:
    lines = ["Traceback (most recent call last):", '  File "train.py", line 3', "ValueError: no rows", "",
             "modelyard: container exited"]
    assert last_meaningful_line(lines) == "ValueError: no rows"
    assert last_meaningful_line(["modelyard: only notes", "  "]) is None
    reason = algorithm_error(failure_text=None, exit_code=1, lines=lines, command=["python", "train.py", "--a b"])
    assert reason == ('AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "ValueError: no rows"\n'
                      "Command \"python train.py '--a b'\"")
    assert algorithm_error(failure_text=" disk full \n", exit_code=3, lines=lines, command=[]) == \
        "AlgorithmError: disk full"
    killed = algorithm_error(failure_text="", exit_code=137, lines=[], command=["x"])
    assert "the container wrote no output (killed by signal 9)" in killed
    long = algorithm_error(failure_text="x" * 5000, exit_code=1, lines=[], command=[])
    assert len(long) == MAX_REASON and long.endswith("...")


def test_status_transitions() -> None:
    document = {"TrainingJobName": "j", **status.first_transition(10.0)}
    document.update(status.progress(document, "Downloading", 11.0))
    assert document["TrainingStartTime"] == 11.0
    document.update(status.progress(document, "Training", 12.0))
    document.update(status.stopping(document, 13.0))
    assert status.progress(document, "Uploading", 14.0) == {}
    document.update(status.terminal(document, "Stopped", None, 15.5))
    assert [(t["Status"], t["StartTime"], t.get("EndTime")) for t in document["SecondaryStatusTransitions"]] == [
        ("Starting", 10.0, 11.0), ("Downloading", 11.0, 12.0), ("Training", 12.0, 13.0), ("Stopping", 13.0, 15.5),
        ("Stopped", 15.5, 15.5)]
    assert (document["TrainingJobStatus"], document["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert document["TrainingTimeInSeconds"] == document["BillableTimeInSeconds"] == 4
    assert "FailureReason" not in document
    failed = status.terminal({"SecondaryStatusTransitions": []}, "Failed", "boom", 3.0)
    assert failed["FailureReason"] == "boom" and failed["TrainingStartTime"] == 3.0
    assert failed["SecondaryStatusTransitions"][-1]["StatusMessage"] == "boom"
    timed_out = status.terminal(document, "Stopped", None, 16.0, secondary="MaxRuntimeExceeded")
    assert timed_out["SecondaryStatus"] == "MaxRuntimeExceeded"
