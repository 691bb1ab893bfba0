"""The script-mode environment and argv, as sagemaker-training builds them."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import pytest

from modelyard.jobs import (
    TrainingPaths,
    decode_hyperparameters,
    host_names,
    hyperparameters_file,
    input_data_config_file,
    resource_config_file,
    script_mode_environment,
    to_cmd_args,
)
from modelyard.jobs.training_env import split_hyperparameters, to_env_vars

SDK_HPS = {
    "epochs": "10",
    "lr": "0.05",
    "optimizer": '"adam"',
    "name": "plain string",
    "layers": "[64, 32]",
    "flag": "true",
    "sagemaker_program": '"train.py"',
    "sagemaker_submit_directory": '"s3://bucket/job/source/sourcedir.tar.gz"',
    "sagemaker_container_log_level": "20",
    "sagemaker_region": '"eu-west-1"',
    "sagemaker_job_name": '"job-1"',
    "sagemaker_mpi_enabled": "false",
    "_tuning_objective_metric": '"loss"',
}


def _env(hps: dict[str, str] | None = None, **kwargs: Any) -> Any:
    channels = [{"ChannelName": "train", "ContentType": "text/csv"}, {"ChannelName": "test"}]
    defaults: dict[str, Any] = {
        "paths": TrainingPaths(),
        "hyperparameters": hyperparameters_file(SDK_HPS if hps is None else hps),
        "input_data_config": input_data_config_file(channels),
        "resource_config": resource_config_file(
            current_host="algo-1", hosts=host_names(2), instance_type="ml.m5.large"
        ),
        "num_cpus": 4,
        "num_gpus": 0,
        "job_name": "job-1",
    }
    return script_mode_environment(**{**defaults, **kwargs})


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("10", 10),
        ("0.5", 0.5),
        ('"adam"', "adam"),
        ("adam", "adam"),
        ("true", True),
        ("null", None),
        ("[1, 2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ("", ""),
        ("1e3", 1000.0),
        ("s3://b/k", "s3://b/k"),
    ],
)
def test_decode_hyperparameters(raw: str, decoded: Any) -> None:
    assert decode_hyperparameters({"x": raw}) == {"x": decoded}


def test_split_hyperparameters() -> None:
    user, framework = split_hyperparameters(decode_hyperparameters(SDK_HPS))
    assert sorted(user) == ["epochs", "flag", "layers", "lr", "name", "optimizer"]
    assert "_tuning_objective_metric" in framework and "sagemaker_mpi_enabled" in framework


@pytest.mark.parametrize(
    ("hps", "argv"),
    [
        ({}, []),
        ({"epochs": 10, "lr": 0.1}, ["--epochs", "10", "--lr", "0.1"]),
        ({"b": "x", "a": "y"}, ["-a", "y", "-b", "x"]),
        ({"flag": True}, ["--flag", "True"]),
        ({"layers": [64, 32]}, ["--layers", "[64, 32]"]),
        ({"cfg": {"z": 1, "a": "b"}}, ["--cfg", "a=b,z=1"]),
        ({"nothing": None}, ["--nothing", ""]),
        ({"data-dir": "/x"}, ["--data-dir", "/x"]),
    ],
)
def test_to_cmd_args(hps: dict[str, Any], argv: list[str]) -> None:
    assert to_cmd_args(hps) == argv


@pytest.mark.parametrize(
    ("mapping", "env"),
    [
        ({"model_dir": "/opt/ml/model"}, {"SM_MODEL_DIR": "/opt/ml/model"}),
        ({"num_cpus": 2}, {"SM_NUM_CPUS": "2"}),
        ({"hosts": ["algo-1"]}, {"SM_HOSTS": '["algo-1"]'}),
        ({"x": None}, {"SM_X": ""}),
        ({"is_hetero": False}, {"SM_IS_HETERO": "false"}),
        ({"d": {"b": 1, "a": [1, 2]}}, {"SM_D": '{"a":[1,2],"b":1}'}),
        ({"uni": "é"}, {"SM_UNI": "é"}),
        ({"nested": {"k": "é"}}, {"SM_NESTED": '{"k":"\\u00e9"}'}),
    ],
)
def test_to_env_vars(mapping: dict[str, Any], env: dict[str, str]) -> None:
    assert to_env_vars(mapping) == env


def test_script_mode_env_core_variables() -> None:
    env = _env().env
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert json.loads(env["SM_CHANNELS"]) == ["test", "train"]
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert env["SM_CHANNEL_TEST"] == "/opt/ml/input/data/test"
    assert json.loads(env["SM_HPS"]) == {
        "epochs": 10,
        "flag": True,
        "layers": [64, 32],
        "lr": 0.05,
        "name": "plain string",
        "optimizer": "adam",
    }
    assert env["SM_HP_EPOCHS"] == "10" and env["SM_HP_OPTIMIZER"] == "adam"
    assert env["SM_HP_LAYERS"] == "[64,32]" and env["SM_HP_FLAG"] == "true"
    assert "SM_HP_SAGEMAKER_PROGRAM" not in env
    assert (env["SM_NUM_CPUS"], env["SM_NUM_GPUS"], env["SM_LOG_LEVEL"]) == ("4", "0", "20")
    assert env["SM_INPUT_DIR"] == "/opt/ml/input"
    assert env["SM_INPUT_CONFIG_DIR"] == "/opt/ml/input/config"
    assert env["SM_OUTPUT_DIR"] == "/opt/ml/output"
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"
    assert env["SM_OUTPUT_INTERMEDIATE_DIR"] == "/opt/ml/output/intermediate"
    assert json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2"]
    assert env["SM_CURRENT_HOST"] == "algo-1" and env["CURRENT_HOST"] == "algo-1"
    assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m5.large"
    assert env["SM_MODULE_NAME"] == "train"
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_MODULE_DIR"] == "s3://bucket/job/source/sourcedir.tar.gz"
    assert env["SM_FRAMEWORK_MODULE"] == ""
    assert json.loads(env["SM_FRAMEWORK_PARAMS"]) == {"sagemaker_mpi_enabled": False}
    assert json.loads(env["SM_RESOURCE_CONFIG"])["current_host"] == "algo-1"
    assert json.loads(env["SM_INPUT_DATA_CONFIG"])["train"]["ContentType"] == "text/csv"
    assert json.loads(env["SM_USER_ARGS"]) == _env().argv
    assert env["SAGEMAKER_REGION"] == "eu-west-1" and env["SAGEMAKER_JOB_NAME"] == "job-1"
    assert all(isinstance(v, str) for v in env.values())


def test_argv_excludes_framework_hyperparameters() -> None:
    assert _env().argv == [
        "--epochs",
        "10",
        "--flag",
        "True",
        "--layers",
        "[64, 32]",
        "--lr",
        "0.05",
        "--name",
        "plain string",
        "--optimizer",
        "adam",
    ]


def test_training_env_document_keys() -> None:
    result = _env()
    doc = json.loads(result.env["SM_TRAINING_ENV"])
    assert doc == json.loads(json.dumps(result.training_env))
    assert set(doc) == {
        "additional_framework_parameters",
        "channel_input_dirs",
        "current_host",
        "current_instance_group",
        "current_instance_group_hosts",
        "current_instance_type",
        "distribution_hosts",
        "distribution_instance_groups",
        "framework_module",
        "hosts",
        "hyperparameters",
        "input_config_dir",
        "input_data_config",
        "input_dir",
        "instance_groups",
        "instance_groups_dict",
        "is_hetero",
        "is_master",
        "is_modelparallel_enabled",
        "is_smddpmprun_installed",
        "is_smddprun_installed",
        "job_name",
        "log_level",
        "master_hostname",
        "model_dir",
        "module_dir",
        "module_name",
        "network_interface_name",
        "num_cpus",
        "num_gpus",
        "num_neurons",
        "output_data_dir",
        "output_dir",
        "output_intermediate_dir",
        "resource_config",
        "topology",
        "user_entry_point",
    }
    assert doc["channel_input_dirs"] == {
        "train": "/opt/ml/input/data/train",
        "test": "/opt/ml/input/data/test",
    }
    assert (doc["is_master"], doc["master_hostname"], doc["job_name"]) == (True, "algo-1", "job-1")
    assert doc["distribution_hosts"] == [], "no instance group runs a distribution strategy"


def test_host_paths_when_the_sandbox_is_off() -> None:
    result = _env(paths=TrainingPaths(PurePosixPath("/var/lib/modelyard/jobs/j1/opt/ml")))
    assert result.env["SM_MODEL_DIR"] == "/var/lib/modelyard/jobs/j1/opt/ml/model"
    assert result.env["SM_CHANNEL_TRAIN"] == "/var/lib/modelyard/jobs/j1/opt/ml/input/data/train"


def test_program_from_container_env_and_defaults() -> None:
    result = _env(
        hps={"epochs": "3"},
        container_env={
            "SAGEMAKER_PROGRAM": "entry.py",
            "SAGEMAKER_TRAINING_MODULE": "sagemaker_pytorch_container.training:main",
        },
    )
    assert (result.user_entry_point, result.module_name) == ("entry.py", "entry")
    assert result.env["SM_FRAMEWORK_MODULE"] == "sagemaker_pytorch_container.training:main"
    assert result.env["SM_MODULE_DIR"] == "/opt/ml/code"
    assert result.env["SM_LOG_LEVEL"] == "20"
    assert result.env["SAGEMAKER_REGION"] == ""
    bare = _env(hps={}, region="us-west-2")
    assert (bare.user_entry_point, bare.module_name, bare.env["SM_USER_ENTRY_POINT"]) == (None, None, "")
    assert bare.env["SM_MODULE_NAME"] == "None", "the toolkit writes str(None) when there is no program"
    assert bare.env["SAGEMAKER_REGION"] == "us-west-2" and bare.argv == []


def test_neurons_and_topology() -> None:
    topology = [{"hostName": "algo-1", "capacityUnitId": "cu-1"}]
    rc = {
        **resource_config_file(current_host="algo-1", hosts=["algo-1"], instance_type="ml.trn1.2xlarge"),
        "topology": topology,
    }
    result = _env(resource_config=rc, num_neurons=2)
    assert result.env["SM_NUM_NEURONS"] == "2"
    assert json.loads(result.env["SM_TOPOLOGY"]) == topology
    assert "SM_TOPOLOGY" not in _env().env


def test_second_host_and_distribution() -> None:
    result = _env(
        hps={"sagemaker_mpi_enabled": "true"},
        resource_config=resource_config_file(
            current_host="algo-2", hosts=host_names(3), instance_type="ml.p3.2xlarge"
        ),
    )
    doc = result.training_env
    assert (doc["current_host"], doc["is_master"], doc["master_hostname"]) == ("algo-2", False, "algo-1")
    assert doc["distribution_instance_groups"] == ["homogeneousCluster"]
    assert doc["distribution_hosts"] == ["algo-1", "algo-2", "algo-3"]


def test_heterogeneous_cluster() -> None:
    groups = [
        {"instance_group_name": "cpu", "instance_type": "ml.c5.xlarge", "hosts": ["algo-1"]},
        {"instance_group_name": "gpu", "instance_type": "ml.p3.2xlarge", "hosts": ["algo-2", "algo-3"]},
    ]
    rc = resource_config_file(
        current_host="algo-1",
        hosts=host_names(3),
        instance_type="ml.c5.xlarge",
        current_group_name="cpu",
        instance_groups=groups,
    )
    result = _env(hps={"sagemaker_distribution_instance_groups": '["gpu"]'}, resource_config=rc)
    doc = result.training_env
    assert doc["is_hetero"] is True and result.env["SM_IS_HETERO"] == "true"
    assert doc["instance_groups"] == ["cpu", "gpu"]
    assert doc["current_instance_group_hosts"] == ["algo-1"]
    assert doc["distribution_hosts"] == ["algo-2", "algo-3"]
    assert (doc["master_hostname"], doc["is_master"]) == ("algo-2", False)


@pytest.mark.parametrize(("mp", "expected"), [(None, None), ("{}", False), ('{"partitions": 2}', True)])
def test_model_parallel_flag(mp: str | None, expected: bool | None) -> None:
    env = {"SM_HP_MP_PARAMETERS": mp} if mp is not None else {}
    assert _env(container_env=env).training_env["is_modelparallel_enabled"] is expected
