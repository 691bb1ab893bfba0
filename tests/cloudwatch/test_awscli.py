"""The awscli (v1) speaks to modelyard's CloudWatch: put and read a metric, an alarm, an error (few
commands: each ``aws`` start costs seconds)."""

from __future__ import annotations

import json
import time

from tests.cloudwatch.conftest import eventually
from tests.conftest import client_for
from tests.s3.test_awscli import aws, ok
from tests.support.server import ServerProcess


def test_aws_cloudwatch_commands(server: ServerProcess, unique: str) -> None:
    namespace = f"Cli/{unique}"
    ok(aws(server, "cloudwatch", "put-metric-data", "--namespace", namespace, "--metric-name", "Jobs",
           "--dimensions", "Queue=main", "--value", "4", "--unit", "Count"))
    now = int(time.time())

    def statistics() -> list[dict[str, object]]:
        out = ok(aws(server, "cloudwatch", "get-metric-statistics", "--namespace", namespace, "--metric-name", "Jobs",
                     "--dimensions", "Name=Queue,Value=main", "--start-time", str(now - 600), "--end-time",
                     str(now + 600), "--period", "60", "--statistics", "Sum", "Maximum"))
        return json.loads(out)["Datapoints"]  # type: ignore[no-any-return]

    time.sleep(0.5)
    point = eventually(statistics)[0]
    assert point["Sum"] == 4.0 and point["Unit"] == "Count"

    ok(aws(server, "cloudwatch", "put-metric-alarm", "--alarm-name", unique, "--namespace", namespace,
           "--metric-name", "Jobs", "--dimensions", "Name=Queue,Value=main", "--statistic", "Sum", "--period", "60",
           "--evaluation-periods", "1", "--threshold", "3", "--comparison-operator", "GreaterThanThreshold"))
    cw = client_for(server, "cloudwatch")
    assert cw.describe_alarms(AlarmNames=[unique])["MetricAlarms"][0]["Namespace"] == namespace

    refused = aws(server, "cloudwatch", "get-metric-statistics", "--namespace", namespace, "--metric-name", "Jobs",
                  "--start-time", str(now), "--end-time", str(now - 60), "--period", "60", "--statistics", "Sum")
    assert refused.returncode != 0 and "InvalidParameterValue" in refused.stderr
    cw.delete_alarms(AlarmNames=[unique])
