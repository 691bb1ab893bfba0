"""hyperparameters.json, inputdataconfig.json and resourceconfig.json builders."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelyard.jobs import host_names, hyperparameters_file, input_data_config_file, resource_config_file


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {}),
        (None, {}),
        ({"epochs": "10"}, {"epochs": "10"}),
        ({"epochs": 10, "lr": 0.1}, {"epochs": "10", "lr": "0.1"}),
        ({"flag": True, "none": None}, {"flag": "true", "none": "null"}),
        ({"layers": [64, 32]}, {"layers": "[64, 32]"}),
        ({"cfg": {"a": 1}}, {"cfg": '{"a": 1}'}),
        ({"sagemaker_program": '"train.py"'}, {"sagemaker_program": '"train.py"'}),
    ],
)
def test_hyperparameters_file(given: dict[str, Any] | None, expected: dict[str, str]) -> None:
    result = hyperparameters_file(given)
    assert result == expected
    assert all(isinstance(v, str) for v in result.values())
    assert json.loads(json.dumps(result)) == expected


@pytest.mark.parametrize("bad", [{"": "1"}, {1: "x"}])
def test_hyperparameter_names_must_be_strings(bad: dict[Any, Any]) -> None:
    with pytest.raises(ValueError, match="hyperparameter names"):
        hyperparameters_file(bad)


def _channel(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://b/{name}"}},
        **extra,
    }


@pytest.mark.parametrize(
    ("channels", "mode", "expected"),
    [
        ([], "File", {}),
        (
            [_channel("train", ContentType="text/csv")],
            "File",
            {
                "train": {
                    "ContentType": "text/csv",
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
            },
        ),
        (
            [_channel("validation")],
            "File",
            {
                "validation": {
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
            },
        ),
        (
            [_channel("t", InputMode="Pipe")],
            "File",
            {
                "t": {
                    "TrainingInputMode": "Pipe",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
            },
        ),
        (
            [_channel("t")],
            "FastFile",
            {
                "t": {
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
            },
        ),
        (
            [_channel("t", RecordWrapperType="RecordIO", CompressionType="Gzip", ShuffleConfig={"Seed": 7})],
            "Pipe",
            {
                "t": {
                    "TrainingInputMode": "Pipe",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "RecordIO",
                    "CompressionType": "Gzip",
                    "ShuffleConfig": {"Seed": 7},
                }
            },
        ),
        (
            [{"ChannelName": "s", "DataSource": {"S3DataSource": {"S3DistributionType": "ShardedByS3Key"}}}],
            "File",
            {
                "s": {
                    "TrainingInputMode": "File",
                    "S3DistributionType": "ShardedByS3Key",
                    "RecordWrapperType": "None",
                }
            },
        ),
        (
            [{"ChannelName": "fs", "DataSource": {"FileSystemDataSource": {"FileSystemType": "EFS"}}}],
            "File",
            {
                "fs": {
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
            },
        ),
    ],
)
def test_input_data_config(channels: list[dict[str, Any]], mode: str, expected: dict[str, Any]) -> None:
    assert input_data_config_file(channels, mode) == expected


def test_input_data_config_keeps_channel_order() -> None:
    config = input_data_config_file([_channel("train"), _channel("test"), _channel("aux")])
    assert list(config) == ["train", "test", "aux"]


@pytest.mark.parametrize(
    ("channels", "fragment"),
    [([{"DataSource": {}}], "needs a ChannelName"), ([_channel("a"), _channel("a")], "more than once")],
)
def test_input_data_config_errors(channels: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        input_data_config_file(channels)


@pytest.mark.parametrize(("count", "expected"), [(1, ["algo-1"]), (3, ["algo-1", "algo-2", "algo-3"])])
def test_host_names(count: int, expected: list[str]) -> None:
    assert host_names(count) == expected


def test_host_names_needs_one() -> None:
    with pytest.raises(ValueError, match="at least one host"):
        host_names(0)


def test_resource_config_homogeneous() -> None:
    config = resource_config_file(current_host="algo-2", hosts=host_names(2), instance_type="ml.m5.xlarge")
    assert config == {
        "current_host": "algo-2",
        "current_instance_type": "ml.m5.xlarge",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1", "algo-2"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": "ml.m5.xlarge",
                "hosts": ["algo-1", "algo-2"],
            }
        ],
        "network_interface_name": "eth0",
    }


def test_resource_config_heterogeneous() -> None:
    groups = [
        {"instance_group_name": "cpu", "instance_type": "ml.c5.xlarge", "hosts": ["algo-1"]},
        {"instance_group_name": "gpu", "instance_type": "ml.p3.2xlarge", "hosts": ["algo-2", "algo-3"]},
    ]
    config = resource_config_file(
        current_host="algo-3",
        hosts=host_names(3),
        instance_type="ml.p3.2xlarge",
        current_group_name="gpu",
        instance_groups=groups,
        network_interface_name="eth1",
    )
    assert config["instance_groups"] == groups
    assert (config["current_group_name"], config["network_interface_name"]) == ("gpu", "eth1")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"current_host": "algo-9", "hosts": ["algo-1"]}, "is not one of the hosts"),
        ({"current_host": "algo-1", "hosts": ["algo-1", "algo-1"]}, "must be unique"),
        (
            {
                "current_host": "algo-1",
                "hosts": ["algo-1"],
                "current_group_name": "x",
                "instance_groups": [{"instance_group_name": "y", "instance_type": "t", "hosts": ["algo-1"]}],
            },
            "current group 'x'",
        ),
    ],
)
def test_resource_config_errors(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        resource_config_file(instance_type="ml.m5.large", **kwargs)
