"""Escape attempts from a training script (script mode, as the SDK's Estimator starts it), isolated or not;
the findings come back in the job's model.tar.gz."""

from __future__ import annotations

import json

import pytest

from tests.jobs_e2e.jobs_support import BUCKET, put, read_tarball, sourcedir, stack, training_request, wait_training
from tests.sandbox.probe import assert_contained, exactly, host_state, runtime_listings, script, stack_files


@pytest.mark.parametrize("isolated", [False, True])
def test_training_script_cannot_escape(unique: str, isolated: bool) -> None:
    jobs = stack()
    sm, s3 = jobs.client("sagemaker"), jobs.s3()
    data_dir = jobs.server.data_dir
    files = stack_files(jobs, "probe.py", script("/opt/ml/model/probe.json"))
    source = put(s3, f"{unique}/code/sourcedir.tar.gz", sourcedir(files))
    name = f"{unique}-{'iso' if isolated else 'net'}"
    before = host_state(data_dir)
    sm.create_training_job(**training_request(name, program="probe.py", submit=source,
                                              output=f"s3://{BUCKET}/{unique}/models",
                                              EnableNetworkIsolation=isolated))
    described = wait_training(sm, name, timeout=240)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    model = s3.get_object(Bucket=BUCKET, Key=f"{unique}/models/{name}/output/model.tar.gz")["Body"].read()
    seen = json.loads(read_tarball(model)["probe.json"])
    assert_contained(seen, listings=runtime_listings(data_dir, exactly("envs")))
    before.assert_unchanged()
