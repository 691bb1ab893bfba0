"""Conformance: our script-mode env equals what the real sagemaker-training toolkit computes.

Builds a small uv venv with sagemaker-training (no heavy dependencies), writes the same
config files, and compares ``Environment().to_env_vars()`` and ``to_cmd_args()`` with ours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from modelyard.jobs import (
    TrainingPaths,
    host_names,
    hyperparameters_file,
    input_data_config_file,
    resource_config_file,
    script_mode_environment,
)

TOOLKIT = "sagemaker-training==5.1.4"
TOOLKIT_DEPS = ["six", "boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3"]
PROBE = """
import json, sys
from sagemaker_training import environment
env = environment.Environment()
json.dump({"env": env.to_env_vars(), "argv": env.to_cmd_args()}, sys.stdout)
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def toolkit_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("toolkit") / "venv"
    uv = [sys.executable, "-m", "uv"]
    subprocess.run([*uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True, timeout=300)
    subprocess.run(
        [
            *uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin/python"),
            "--no-deps",
            TOOLKIT,
            *TOOLKIT_DEPS,
        ],
        check=True,
        timeout=300,
    )
    return venv / "bin/python"


HPS = {
    "epochs": "10",
    "lr": "0.05",
    "optimizer": '"adam"',
    "name": "plain string",
    "layers": "[64, 32]",
    "flag": "true",
    "cfg": '{"b": 2, "a": "x"}',
    "x": "1",
    "sagemaker_program": '"train.py"',
    "sagemaker_submit_directory": '"s3://b/job/source/sourcedir.tar.gz"',
    "sagemaker_container_log_level": "10",
    "sagemaker_region": '"eu-west-1"',
    "sagemaker_job_name": '"job-1"',
    "_tuning_objective_metric": '"loss"',
}
GROUPS = [
    {"instance_group_name": "cpu", "instance_type": "ml.c5.xlarge", "hosts": ["algo-1"]},
    {"instance_group_name": "gpu", "instance_type": "ml.p3.2xlarge", "hosts": ["algo-2", "algo-3"]},
]
SCENARIOS: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "single-host": (HPS, {"current_host": "algo-1", "hosts": host_names(1), "instance_type": "ml.m5.large"}),
    "mpi-second-host": (
        {**HPS, "sagemaker_mpi_enabled": "true"},
        {"current_host": "algo-2", "hosts": host_names(3), "instance_type": "ml.m5.large"},
    ),
    "heterogeneous": (
        {"sagemaker_distribution_instance_groups": '["gpu"]', "n": "1"},
        {
            "current_host": "algo-1",
            "hosts": host_names(3),
            "instance_type": "ml.c5.xlarge",
            "current_group_name": "cpu",
            "instance_groups": GROUPS,
        },
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_matches_sagemaker_training(toolkit_python: Path, tmp_path: Path, scenario: str) -> None:
    raw_hps, resource_kwargs = SCENARIOS[scenario]
    hps = hyperparameters_file(raw_hps)
    channels = input_data_config_file(
        [{"ChannelName": "train", "ContentType": "text/csv"}, {"ChannelName": "validation"}]
    )
    resources = resource_config_file(**resource_kwargs)
    config_dir = tmp_path / "input/config"
    config_dir.mkdir(parents=True)
    (tmp_path / "model").mkdir()
    for name, content in (
        ("hyperparameters.json", hps),
        ("inputdataconfig.json", channels),
        ("resourceconfig.json", resources),
    ):
        (config_dir / name).write_text(json.dumps(content))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    env.update(
        {"SAGEMAKER_BASE_DIR": str(tmp_path), "TRAINING_JOB_NAME": "job-1", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    probe = subprocess.run(
        [str(toolkit_python), "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    theirs = json.loads(probe.stdout)

    ours = script_mode_environment(
        paths=TrainingPaths(PurePosixPath(tmp_path)),
        hyperparameters=hps,
        input_data_config=channels,
        resource_config=resources,
        num_cpus=os.cpu_count() or 1,
        num_gpus=0,
        job_name="job-1",
    )
    extra = {"CURRENT_HOST", "SAGEMAKER_JOB_NAME", "SAGEMAKER_REGION"}
    assert {k: v for k, v in ours.env.items() if k not in extra} == theirs["env"]
    assert ours.argv == theirs["argv"]
