"""PutMetricData, GetMetricStatistics, GetMetricData and ListMetrics through a real server with boto3,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudwatch.conftest import eventually
from tests.conftest import client_for
from tests.support.server import ServerProcess


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(second=30, microsecond=0)


@pytest.fixture()
def cw(any_server: ServerProcess) -> Any:
    return client_for(any_server, "cloudwatch")


def _stats(cw: Any, namespace: str, name: str, **extra: Any) -> list[dict[str, Any]]:
    now = _now()
    request = {"Namespace": namespace, "MetricName": name, "StartTime": now - dt.timedelta(minutes=10),
               "EndTime": now + dt.timedelta(minutes=2), "Period": 60, "Statistics": ["Sum", "SampleCount"], **extra}
    return cw.get_metric_statistics(**request)["Datapoints"]  # type: ignore[no-any-return]


def test_values_counts_and_statistic_sets_aggregate_per_minute(cw: Any, unique: str) -> None:
    namespace, at = f"App/{unique}", _now()
    dims = [{"Name": "Host", "Value": "a"}]
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": at, "Value": 10.0, "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": at, "Values": [20.0, 30.0], "Counts": [1, 2],
         "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": at, "Unit": "Milliseconds",
         "StatisticValues": {"SampleCount": 2, "Sum": 80.0, "Minimum": 40.0, "Maximum": 40.0}},
    ])
    points = eventually(lambda: _stats(cw, namespace, "Latency", Dimensions=dims,
                                       Statistics=["Sum", "SampleCount", "Minimum", "Maximum", "Average"]))
    assert len(points) == 1
    point = points[0]
    assert point["SampleCount"] == 6 and point["Sum"] == 170.0
    assert point["Minimum"] == 10.0 and point["Maximum"] == 40.0
    assert point["Average"] == pytest.approx(170 / 6)
    assert point["Unit"] == "Milliseconds"
    assert point["Timestamp"].replace(second=0) == at.replace(second=0)
    assert _stats(cw, namespace, "Latency") == [], "dimensions must match exactly"


def test_percentiles_within_one_percent(cw: Any, unique: str) -> None:
    namespace, at = f"App/{unique}", _now()
    values = [float(v) for v in range(1, 151)]
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Lat", "Timestamp": at, "Values": values},
        {"MetricName": "Lat", "Timestamp": at, "Values": [v + 150 for v in values]},
    ])
    points = eventually(lambda: _extended(cw, namespace, "Lat", ["p50", "p99", "p100"]))
    extended = points[0]["ExtendedStatistics"]
    assert extended["p50"] == pytest.approx(150, rel=0.01)
    assert extended["p99"] == pytest.approx(297, rel=0.01)
    assert extended["p100"] == 300


def _extended(cw: Any, namespace: str, name: str, stats: list[str]) -> list[dict[str, Any]]:
    now = _now()
    return cw.get_metric_statistics(  # type: ignore[no-any-return]
        Namespace=namespace, MetricName=name, StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=1), Period=300, ExtendedStatistics=stats)["Datapoints"]


def test_get_metric_data_and_list_metrics(cw: Any, unique: str) -> None:
    namespace, at = f"App/{unique}", _now()
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Requests", "Dimensions": [{"Name": "Endpoint", "Value": name}], "Timestamp": at,
         "Value": float(index + 1)} for index, name in enumerate(["a", "b", "c"])])
    query = {"Id": "m1", "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": "Requests",
                                                   "Dimensions": [{"Name": "Endpoint", "Value": "b"}]},
                                        "Period": 60, "Stat": "Sum"}}
    window = {"StartTime": at - dt.timedelta(minutes=5), "EndTime": at + dt.timedelta(minutes=5)}

    def results() -> list[dict[str, Any]] | None:
        found = cw.get_metric_data(MetricDataQueries=[query], **window)["MetricDataResults"]
        return found if found[0]["Values"] else None

    result = eventually(results)
    assert result[0]["Id"] == "m1" and result[0]["Label"] == "Requests"
    assert result[0]["Values"] == [2.0] and result[0]["StatusCode"] == "Complete"

    listed = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert sorted(m["Dimensions"][0]["Value"] for m in listed) == ["a", "b", "c"]
    only_c = cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Endpoint", "Value": "c"}])["Metrics"]
    assert [m["Dimensions"] for m in only_c] == [[{"Name": "Endpoint", "Value": "c"}]]
    assert cw.list_metrics(Namespace=namespace, MetricName="Other")["Metrics"] == []
    assert len(cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Endpoint"}])["Metrics"]) == 3


def _code(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_bad_input_gets_cloudwatch_errors(cw: Any, unique: str) -> None:
    now = _now()
    base = {"Namespace": "App/x", "MetricName": "M", "StartTime": now - dt.timedelta(hours=1), "EndTime": now}
    assert _code(cw.get_metric_statistics, **base, Period=60, Statistics=["Median"])[0] == "ValidationError"
    code, message = _code(cw.get_metric_statistics, **base, Period=60, ExtendedStatistics=["q99"])
    assert code == "InvalidParameterValue" and "q99" in message
    code, message = _code(cw.get_metric_statistics, **base, Period=90, Statistics=["Sum"])
    assert code == "InvalidParameterValue" and "multiple of 60" in message
    code, message = _code(cw.get_metric_statistics, **base, Period=10, Statistics=["Sum"])
    assert code == "InvalidParameterValue" and "high-resolution" in message
    code, message = _code(cw.get_metric_statistics, **{**base, "StartTime": now - dt.timedelta(days=2)}, Period=60,
                          Statistics=["Sum"])
    assert code == "InvalidParameterCombination" and "exceeds the limit of 1,440" in message
    backwards = {**base, "StartTime": now, "EndTime": now - dt.timedelta(hours=1)}
    code, message = _code(cw.get_metric_statistics, **backwards, Period=60, Statistics=["Sum"])
    assert code == "InvalidParameterValue" and "StartTime must be less than" in message
    assert _code(cw.get_metric_statistics, **base, Period=60)[0] == "MissingParameter"
    assert _code(cw.get_metric_statistics, **base, Period=60, Statistics=["Sum"],
                 ExtendedStatistics=["p99"])[0] == "InvalidParameterCombination"
    many = [{"Name": f"d{i}", "Value": "v"} for i in range(31)]
    assert _code(cw.get_metric_statistics, **base, Period=60, Statistics=["Sum"], Dimensions=many)[0] in (
        "ValidationError", "ParamValidationError")
    code, message = _code(cw.put_metric_data, Namespace="AWS/SageMaker", MetricData=[{"MetricName": "M", "Value": 1}])
    assert code == "InvalidParameterValue" and "AWS/" in message
    assert _code(cw.put_metric_data, Namespace="App/x", MetricData=[
        {"MetricName": "M", "Value": 1, "Values": [1.0]}])[0] == "InvalidParameterCombination"
    assert _code(cw.put_metric_data, Namespace="App/x", MetricData=[
        {"MetricName": "M", "Values": [1.0, 2.0], "Counts": [1.0]}])[0] == "InvalidParameterValue"
    assert _code(cw.put_metric_data, Namespace="App/x", MetricData=[
        {"MetricName": "M", "Value": 1, "Timestamp": now - dt.timedelta(days=20)}])[0] == "InvalidParameterValue"
    assert _code(cw.put_metric_data, Namespace="App/x", MetricData=[
        {"MetricName": "M", "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 5, "Maximum": 1}}])[0] == (
        "InvalidParameterValue")
    code, message = _code(cw.get_metric_data, StartTime=now - dt.timedelta(hours=1), EndTime=now,
                          MetricDataQueries=[{"Id": "e1", "Expression": "SUM(METRICS())"}])
    assert code == "ValidationError" and "not supported" in message
    assert _code(cw.get_metric_data, StartTime=now - dt.timedelta(hours=1), EndTime=now, MetricDataQueries=[
        {"Id": "Bad", "MetricStat": {"Metric": {"Namespace": "A", "MetricName": "M"}, "Period": 60,
                                     "Stat": "Sum"}}])[0] == "ValidationError"
    assert _code(cw.get_metric_data, StartTime=now - dt.timedelta(hours=1), EndTime=now, NextToken="junk",
                 MetricDataQueries=[{"Id": "a", "MetricStat": {"Metric": {"Namespace": "A", "MetricName": "M"},
                                                               "Period": 60, "Stat": "Sum"}}])[0] == "InvalidNextToken"
    assert _code(cw.list_metrics, NextToken="junk")[0] == "InvalidNextToken"
    code, message = _code(cw.describe_anomaly_detectors)
    assert code == "NotImplemented" and "DescribeAnomalyDetectors" in message


def test_large_put_metric_data_is_gzipped_by_botocore_and_inflated(cw: Any, unique: str) -> None:
    namespace, at = f"App/{unique}", _now()
    data = [{"MetricName": "Big", "Timestamp": at, "Values": [float(v) for v in range(150)]} for _ in range(20)]
    cw.put_metric_data(Namespace=namespace, MetricData=data)
    points = eventually(lambda: _stats(cw, namespace, "Big"))
    assert points[0]["SampleCount"] == 3000


def test_corrupt_gzip_body_is_a_serialization_error(any_server: ServerProcess) -> None:
    import urllib.error
    import urllib.request

    from tests.support.server import signed_headers

    body = b"\x1f\x8b\x08\x00not really gzip"
    headers = {"Content-Type": "application/x-amz-json-1.0", "Content-Encoding": "gzip",
               "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData"}
    signed = signed_headers(any_server, "POST", any_server.url + "/", body, headers, service="monitoring")
    request = urllib.request.Request(any_server.url + "/", data=body, headers=signed, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-query-error"] == "SerializationException;Sender"


def test_list_metrics_pages_by_500(cw: Any, unique: str) -> None:
    namespace = f"App/{unique}"
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Many", "Dimensions": [{"Name": "Shard", "Value": str(index)}], "Value": 1.0}
        for index in range(501)])

    def pages() -> list[dict[str, Any]] | None:
        first = cw.list_metrics(Namespace=namespace)
        if "NextToken" not in first:
            return None
        return [first, cw.list_metrics(Namespace=namespace, NextToken=first["NextToken"])]

    first, second = eventually(pages)
    assert len(first["Metrics"]) == 500 and len(second["Metrics"]) == 1 and "NextToken" not in second
    shards = {m["Dimensions"][0]["Value"] for m in first["Metrics"] + second["Metrics"]}
    assert shards == {str(index) for index in range(501)}


def test_query_protocol_requests_are_told_what_is_served(any_server: ServerProcess) -> None:
    import urllib.error
    import urllib.request

    from tests.support.server import signed_headers

    body = b"Action=ListMetrics&Version=2010-08-01"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    signed = signed_headers(any_server, "POST", any_server.url + "/", body, headers, service="monitoring")
    request = urllib.request.Request(any_server.url + "/", data=body, headers=signed, method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400 and b"query-protocol" in caught.value.read()


def test_get_metric_data_agrees_with_get_metric_statistics_across_periods_units_and_pages(
        cw: Any, unique: str) -> None:
    """GetMetricData sums basic statistics in the database and reads percentiles from each minute's
    histogram; GetMetricStatistics folds minutes in Python. Both must give the same numbers."""
    namespace, end = f"App/{unique}", _now().replace(second=0)
    start = end - dt.timedelta(minutes=12)
    data = []
    for endpoint in ("a", "b"):
        dims = [{"Name": "Endpoint", "Value": endpoint}]
        for minute in range(12):
            at = start + dt.timedelta(minutes=minute, seconds=10)
            values = [float(minute * 10 + k + (5 if endpoint == "b" else 0)) for k in range(1, 8)]
            data.append({"MetricName": "Latency", "Dimensions": dims, "Timestamp": at, "Values": values,
                         "Unit": "Milliseconds"})
            if minute % 3 == 0:
                data.append({"MetricName": "Latency", "Dimensions": dims, "Timestamp": at, "Value": 1000.0,
                             "Unit": "Seconds"})
    cw.put_metric_data(Namespace=namespace, MetricData=data)
    metric = {"Namespace": namespace, "MetricName": "Latency"}
    eventually(lambda: len(cw.get_metric_statistics(
        **metric, Dimensions=[{"Name": "Endpoint", "Value": "b"}], StartTime=start, EndTime=end, Period=60,
        Statistics=["SampleCount"])["Datapoints"]) == 12, timeout=20)
    stats = ["SampleCount", "Sum", "Average", "Minimum", "Maximum", "p50", "p99", "p0", "p100"]
    for period in (60, 180, 300):
        for unit in (None, "Milliseconds", "Seconds"):
            for endpoint in ("a", "b"):
                dims = [{"Name": "Endpoint", "Value": endpoint}]
                with_unit = {"Unit": unit} if unit else {}
                expected = {}
                for stat in stats:
                    kind = "ExtendedStatistics" if stat.startswith("p") else "Statistics"
                    for point in cw.get_metric_statistics(**metric, Dimensions=dims, StartTime=start, EndTime=end,
                                                          Period=period, **{kind: [stat]}, **with_unit)["Datapoints"]:
                        value = point["ExtendedStatistics"][stat] if kind == "ExtendedStatistics" else point[stat]
                        expected[(stat, point["Timestamp"].timestamp())] = value
                queries = [{"Id": f"q{index}", "ReturnData": True, "MetricStat": {
                    "Metric": {**metric, "Dimensions": dims}, "Period": period, "Stat": stat, **with_unit}}
                    for index, stat in enumerate(stats)]
                queries.insert(2, {"Id": "hidden", "ReturnData": False, "MetricStat": queries[0]["MetricStat"]})
                got: dict[tuple[str, float], float] = {}
                token, pages = None, 0
                while True:
                    page = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                                              ScanBy="TimestampAscending", MaxDatapoints=7,
                                              **({"NextToken": token} if token else {}))
                    pages += 1
                    for result in page["MetricDataResults"]:
                        assert result["Id"] != "hidden"
                        assert result["Timestamps"] == sorted(result["Timestamps"])
                        stat = stats[int(result["Id"][1:])]
                        for at, value in zip(result["Timestamps"], result["Values"], strict=True):
                            assert (stat, at.timestamp()) not in got
                            got[(stat, at.timestamp())] = value
                    token = page.get("NextToken")
                    if not token:
                        break
                assert pages >= 2
                assert got.keys() == expected.keys(), (period, unit, endpoint)
                for key, value in expected.items():
                    assert got[key] == pytest.approx(value, rel=1e-9), (period, unit, endpoint, key)
