"""Builders for the files SageMaker writes to ``/opt/ml/input/config/`` before training starts.

    hyperparameters.json   {"epochs": "10", "sagemaker_program": "\\"train.py\\""}   (all strings)
    inputdataconfig.json   {"train": {"ContentType": ..., "TrainingInputMode": "File", ...}}
    resourceconfig.json    {"current_host": "algo-1", "hosts": ["algo-1"], ...}

Pure functions: they return JSON-ready dicts; the caller writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_GROUP = "homogeneousCluster"
DEFAULT_INTERFACE = "eth0"
HYPERPARAMETERS_FILE = "hyperparameters.json"
INPUT_DATA_CONFIG_FILE = "inputdataconfig.json"
RESOURCE_CONFIG_FILE = "resourceconfig.json"


def host_names(count: int) -> list[str]:
    """SageMaker's container host names: ``algo-1`` .. ``algo-<count>``."""
    if count < 1:
        raise ValueError(f"a training job needs at least one host, not {count}")
    return [f"algo-{i}" for i in range(1, count + 1)]


def hyperparameters_file(hyperparameters: Mapping[str, Any] | None) -> dict[str, str]:
    """``hyperparameters.json``: every value a string (non-strings are JSON-encoded)."""
    result: dict[str, str] = {}
    for name, value in (hyperparameters or {}).items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"hyperparameter names must be non-empty strings, not {name!r}")
        result[name] = value if isinstance(value, str) else json.dumps(value)
    return result


def input_data_config_file(channels: Sequence[Mapping[str, Any]] | None,
                           training_input_mode: str = "File") -> dict[str, dict[str, Any]]:
    """``inputdataconfig.json`` from ``CreateTrainingJob.InputDataConfig`` (wire-shaped channels).

    Per channel: ``ContentType`` (when given), ``TrainingInputMode`` (the channel's
    ``InputMode`` or the algorithm's; ``FastFile`` is written as ``File``),
    ``S3DistributionType`` (``FullyReplicated`` unless the S3 source says otherwise, and
    always for file systems), ``RecordWrapperType`` (default ``None``), and ``CompressionType``
    / ``ShuffleConfig`` when the channel sets them.
    """
    config: dict[str, dict[str, Any]] = {}
    for channel in channels or []:
        name = channel.get("ChannelName")
        if not name:
            raise ValueError("every channel needs a ChannelName")
        if name in config:
            raise ValueError(f"channel {name!r} appears more than once")
        entry: dict[str, Any] = {}
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        mode = channel.get("InputMode") or training_input_mode or "File"
        entry["TrainingInputMode"] = "File" if mode == "FastFile" else mode
        s3_source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        entry["S3DistributionType"] = s3_source.get("S3DistributionType") or "FullyReplicated"
        entry["RecordWrapperType"] = channel.get("RecordWrapperType") or "None"
        if channel.get("CompressionType"):
            entry["CompressionType"] = channel["CompressionType"]
        if channel.get("ShuffleConfig"):
            entry["ShuffleConfig"] = dict(channel["ShuffleConfig"])
        config[name] = entry
    return config


def resource_config_file(*, current_host: str, hosts: Sequence[str], instance_type: str,
                         network_interface_name: str = DEFAULT_INTERFACE,
                         current_group_name: str = DEFAULT_GROUP,
                         instance_groups: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """``resourceconfig.json`` for ``current_host`` among ``hosts``.

    Without ``instance_groups`` all hosts form one group named ``homogeneousCluster``; with
    them (heterogeneous clusters) each group is ``{"instance_group_name", "instance_type",
    "hosts"}``.
    """
    hosts = list(hosts)
    if current_host not in hosts:
        raise ValueError(f"current host {current_host!r} is not one of the hosts {hosts}")
    if len(set(hosts)) != len(hosts):
        raise ValueError(f"host names must be unique: {hosts}")
    groups = [dict(group) for group in instance_groups] if instance_groups else [
        {"instance_group_name": current_group_name, "instance_type": instance_type, "hosts": hosts}
    ]
    if not any(group["instance_group_name"] == current_group_name for group in groups):
        raise ValueError(f"current group {current_group_name!r} is not among the instance groups")
    return {
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_group_name": current_group_name,
        "hosts": hosts,
        "instance_groups": groups,
        "network_interface_name": network_interface_name,
    }
