"""Metric alarms through a real server with boto3, evaluated by the server's background task
(every 0.3 s in tests), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudwatch.conftest import cloudwatch_deleting_alarms, eventually
from tests.support.server import ServerProcess


@pytest.fixture()
def cw(any_server: ServerProcess, unique: str) -> Iterator[Any]:
    """A cloudwatch client; the test's alarms (named after ``unique``) are deleted after it, so the
    shared server does not keep evaluating them for the rest of the session."""
    yield from cloudwatch_deleting_alarms(any_server, unique)


def _alarm(cw: Any, name: str) -> dict[str, Any]:
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]  # type: ignore[no-any-return]


def _state_becomes(cw: Any, name: str, state: str) -> dict[str, Any]:
    return eventually(lambda: (alarm := _alarm(cw, name)) and alarm["StateValue"] == state and alarm)


def _put(cw: Any, name: str, namespace: str, **extra: Any) -> None:
    cw.put_metric_alarm(**{"AlarmName": name, "Namespace": namespace, "MetricName": "Errors", "Statistic": "Sum",
                           "Period": 60, "EvaluationPeriods": 1, "Threshold": 5.0,
                           "ComparisonOperator": "GreaterThanThreshold", **extra})


def test_alarm_goes_from_insufficient_data_to_alarm_and_back_to_ok(cw: Any, unique: str) -> None:
    namespace = f"App/{unique}"
    _put(cw, unique, namespace, Dimensions=[{"Name": "Service", "Value": "api"}])
    created = _alarm(cw, unique)
    assert created["StateValue"] == "INSUFFICIENT_DATA"
    assert created["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{unique}"
    assert created["DatapointsToAlarm"] == 1 and created["TreatMissingData"] == "missing"

    cw.put_metric_data(Namespace=namespace, MetricData=[{
        "MetricName": "Errors", "Dimensions": [{"Name": "Service", "Value": "api"}], "Values": [3.0, 4.0]}])
    alarmed = _state_becomes(cw, unique, "ALARM")
    assert "Threshold Crossed" in alarmed["StateReason"]
    assert json.loads(alarmed["StateReasonData"])["recentDatapoints"] == [7.0]
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=unique, StateValue="ALARM")["MetricAlarms"]] \
        == [unique]
    for_metric = cw.describe_alarms_for_metric(Namespace=namespace, MetricName="Errors",
                                               Dimensions=[{"Name": "Service", "Value": "api"}])["MetricAlarms"]
    assert [a["AlarmName"] for a in for_metric] == [unique]

    _put(cw, unique, namespace, Dimensions=[{"Name": "Service", "Value": "api"}], Threshold=100.0)
    _state_becomes(cw, unique, "OK")


def test_missing_data_treatments(cw: Any, unique: str) -> None:
    namespace = f"App/{unique}"
    for treatment in ("missing", "breaching", "notBreaching"):
        _put(cw, f"{unique}-{treatment}", namespace, TreatMissingData=treatment, EvaluationPeriods=2,
             DatapointsToAlarm=2)
    _put(cw, f"{unique}-ignore", namespace, TreatMissingData="ignore")
    _state_becomes(cw, f"{unique}-breaching", "ALARM")
    _state_becomes(cw, f"{unique}-notBreaching", "OK")
    time.sleep(0.7)
    assert _alarm(cw, f"{unique}-missing")["StateValue"] == "INSUFFICIENT_DATA"
    assert _alarm(cw, f"{unique}-ignore")["StateValue"] == "INSUFFICIENT_DATA"


def test_set_alarm_state_lasts_until_the_next_evaluation(cw: Any, unique: str) -> None:
    _put(cw, unique, f"App/{unique}", TreatMissingData="notBreaching")
    _state_becomes(cw, unique, "OK")
    cw.set_alarm_state(AlarmName=unique, StateValue="ALARM", StateReason="testing the rollback",
                       StateReasonData='{"by": "test"}')
    _state_becomes(cw, unique, "OK")
    with pytest.raises(ClientError) as caught:
        cw.set_alarm_state(AlarmName=unique, StateValue="ALARM", StateReason="x", StateReasonData="not json")
    assert caught.value.response["Error"]["Code"] == "InvalidFormat"
    with pytest.raises(ClientError) as caught:
        cw.set_alarm_state(AlarmName=f"{unique}-none", StateValue="ALARM", StateReason="x")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"


def test_describe_pages_and_delete(cw: Any, unique: str) -> None:
    names = [f"{unique}-{index}" for index in range(5)]
    for name in names:
        _put(cw, name, f"App/{unique}")
    first = cw.describe_alarms(AlarmNamePrefix=unique, MaxRecords=3)
    second = cw.describe_alarms(AlarmNamePrefix=unique, MaxRecords=3, NextToken=first["NextToken"])
    assert [a["AlarmName"] for a in first["MetricAlarms"] + second["MetricAlarms"]] == names
    assert "NextToken" not in second
    cw.delete_alarms(AlarmNames=[names[0], f"{unique}-never-existed"])
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix=unique)["MetricAlarms"]] == names[1:]
    cw.delete_alarms(AlarmNames=names[1:])
    assert cw.describe_alarms(AlarmNamePrefix=unique)["MetricAlarms"] == []


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"AlarmActions": ["arn:aws:sns:us-east-1:000000000000:topic"]}, "ValidationError", "SNS"),
    ({"OKActions": ["arn:aws:sns:us-east-1:000000000000:topic"]}, "ValidationError", "not supported"),
    ({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}, "ValidationError", "anomaly"),
    ({"DatapointsToAlarm": 3}, "ValidationError", "DatapointsToAlarm"),
    ({"Period": 90}, "InvalidParameterValue", "multiple of 60"),
    ({"Period": 3600, "EvaluationPeriods": 200}, "ValidationError", "a week"),
    ({"TreatMissingData": "sometimes"}, "ValidationError", "TreatMissingData"),
    ({"Statistic": None, "ExtendedStatistic": "p99", "EvaluateLowSampleCountPercentile": "ignore"},
     "ValidationError", "EvaluateLowSampleCountPercentile"),
    ({"ExtendedStatistic": "p99"}, "InvalidParameterCombination", "Exactly one"),
    ({"Statistic": None, "ExtendedStatistic": "x99"}, "InvalidParameterValue", "x99"),
    ({"Threshold": None}, "ValidationError", "Threshold"),
    ({"Metrics": [{"Id": "m1", "Expression": "SUM(METRICS())"}]}, "ValidationError", "metric math"),
    ({"Tags": [{"Key": "team", "Value": "ml"}]}, "ValidationError", "tags"),
])
def test_bad_alarms_are_refused(cw: Any, unique: str, change: dict[str, Any], code: str, words: str) -> None:
    request = {"AlarmName": unique, "Namespace": "App/x", "MetricName": "Errors", "Statistic": "Sum",
               "Period": 60, "EvaluationPeriods": 2, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"}
    request.update(change)
    found_code, message = _error(cw.put_metric_alarm, **{k: v for k, v in request.items() if v is not None})
    assert found_code == code and words in message
    assert cw.describe_alarms(AlarmNames=[unique])["MetricAlarms"] == []


def test_bad_describe_requests(cw: Any) -> None:
    assert _error(cw.describe_alarms, AlarmNames=["a"], AlarmNamePrefix="a")[0] == "InvalidParameterCombination"
    assert _error(cw.describe_alarms, NextToken="junk")[0] == "InvalidNextToken"
