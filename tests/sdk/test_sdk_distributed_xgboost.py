"""examples/distributed-xgboost through the sagemaker SDK, unchanged: XGBoost on two hosts that really
exchange data (rabit's allreduce over the job network), each host on its shard of the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import client_for
from tests.sdk.conftest import SdkStack, check

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)  # the first job builds the XGBoost environment (a 190 MB wheel)
def test_two_host_xgboost_trains_through_the_sdk(sdk_stack: SdkStack, examples: Path, tmp_path: Path) -> None:
    example = examples / "distributed-xgboost" / "train_distributed.py"
    script = (f"import sys, runpy\nsys.argv = ['x', '--rows', '4000', '--files', '4']\n"
              f"runpy.run_path('{example}', run_name='__main__')\n")
    output = check(sdk_stack.run(script, tmp_path, timeout=600))
    assert "MODEL s3://" in output
    logs = client_for(sdk_stack.server, "logs")
    group = "/aws/sagemaker/TrainingJobs"
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    lines = {}
    for host in ("algo-1", "algo-2"):
        stream = next(s for s in streams if f"/{host}-" in s and s.startswith("sagemaker-xgboost"))
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        lines[host] = "\n".join(e["message"] for e in events)
    assert "algo-1: rank 0 of 2, 2000 local rows, 4000 rows on all hosts" in lines["algo-1"]
    assert "algo-2: rank 1 of 2, 2000 local rows, 4000 rows on all hosts" in lines["algo-2"]
    assert "train-rmse" in lines["algo-1"]
