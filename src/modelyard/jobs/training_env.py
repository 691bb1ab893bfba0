"""The script-mode environment sagemaker-training gives a user's entry point.

    hyperparameters.json ─decode─► user hps ──► argv: --epochs 10 --lr 0.1   (sorted by name)
                                 └► sagemaker_* hps (program, submit dir, log level, region ...)
    + inputdataconfig + resourceconfig + paths ──► SM_* variables and SM_TRAINING_ENV

Names and formats follow the toolkit's (5.x) ``Environment.to_env_vars``: keys become ``SM_<KEY>``;
strings stay as they are, ``None`` becomes ``""`` and anything else compact JSON with sorted
keys. Paths are parameters: ``base_dir`` is ``/opt/ml`` in the sandbox, a host path without it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath, PurePosixPath
from typing import Any

from modelyard.jobs.training_config import DEFAULT_GROUP, DEFAULT_INTERFACE

SAGEMAKER_PREFIX = "sagemaker_"
SAGEMAKER_HYPERPARAMETERS = frozenset({
    "sagemaker_program", "sagemaker_submit_directory", "sagemaker_enable_cloudwatch_metrics",
    "sagemaker_region", "sagemaker_container_log_level", "sagemaker_job_name",
    "default_user_module_name", "_tuning_objective_metric", "sagemaker_s3_output",
})
_DISTRIBUTION_FLAGS = (
    "sagemaker_mpi_enabled", "sagemaker_parameter_server_enabled",
    "sagemaker_distributed_dataparallel_enabled", "sagemaker_pytorch_ddp_enabled",
    "sagemaker_pytorch_xla_multi_worker_enabled", "sagemaker_multi_worker_mirrored_strategy_enabled",
)
DEFAULT_LOG_LEVEL = 20


@dataclass(frozen=True)
class TrainingPaths:
    """The ``/opt/ml`` layout under ``base_dir``."""

    base_dir: PurePath = field(default_factory=lambda: PurePosixPath("/opt/ml"))

    @property
    def model_dir(self) -> PurePath:
        """Where the script saves the model (``/opt/ml/model``)."""
        return self.base_dir / "model"

    @property
    def code_dir(self) -> PurePath:
        """Where the user's code is unpacked (``/opt/ml/code``)."""
        return self.base_dir / "code"

    @property
    def input_dir(self) -> PurePath:
        """``/opt/ml/input``."""
        return self.base_dir / "input"

    @property
    def input_config_dir(self) -> PurePath:
        """``/opt/ml/input/config`` (the three JSON files)."""
        return self.input_dir / "config"

    @property
    def input_data_dir(self) -> PurePath:
        """``/opt/ml/input/data`` (one directory per channel)."""
        return self.input_dir / "data"

    @property
    def output_dir(self) -> PurePath:
        """``/opt/ml/output`` (``failure`` is written here)."""
        return self.base_dir / "output"

    @property
    def output_data_dir(self) -> PurePath:
        """``/opt/ml/output/data`` (packed as ``output.tar.gz``)."""
        return self.output_dir / "data"

    @property
    def output_intermediate_dir(self) -> PurePath:
        """``/opt/ml/output/intermediate``."""
        return self.output_dir / "intermediate"

    @property
    def failure_file(self) -> PurePath:
        """``/opt/ml/output/failure``: the failure reason a script may write."""
        return self.output_dir / "failure"

    def channel_dir(self, channel: str) -> PurePath:
        """``/opt/ml/input/data/<channel>``."""
        return self.input_data_dir / channel


@dataclass(frozen=True)
class ScriptModeEnvironment:
    """What the entry point is started with: ``env`` (SM_* and friends) and ``argv``."""

    env: dict[str, str]
    argv: list[str]
    training_env: dict[str, Any]
    hyperparameters: dict[str, Any]
    user_entry_point: str | None
    module_name: str | None


def decode_hyperparameters(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """Each value through ``json.loads`` when it parses, else kept as it is."""
    decoded: dict[str, Any] = {}
    for name, value in hyperparameters.items():
        try:
            decoded[name] = json.loads(value)
        except (ValueError, TypeError):
            decoded[name] = value
    return decoded


def split_hyperparameters(decoded: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(user, sagemaker)``: names starting ``sagemaker_`` or reserved by the toolkit go right."""
    framework = {k: v for k, v in decoded.items()
                 if k in SAGEMAKER_HYPERPARAMETERS or k.startswith(SAGEMAKER_PREFIX)}
    return {k: v for k, v in decoded.items() if k not in framework}, framework


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """``--name value`` pairs sorted by name (``-n`` for one-letter names); dicts as ``k=v,k2=v2``."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        text = _as_text(name)
        args.append(("--" if len(text) > 1 else "-") + text if text else "")
        if isinstance(value, Mapping):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append(_as_text(value))
    return args


def to_env_vars(mapping: Mapping[str, Any]) -> dict[str, str]:
    """``{"model_dir": "/opt/ml/model", "num_cpus": 2}`` -> ``{"SM_MODEL_DIR": ..., "SM_NUM_CPUS": "2"}``."""
    return {f"SM_{key.upper()}": _env_value(value) for key, value in mapping.items() if key}


def script_mode_environment(*, paths: TrainingPaths, hyperparameters: Mapping[str, Any],
                            input_data_config: Mapping[str, Any], resource_config: Mapping[str, Any],
                            num_cpus: int, num_gpus: int = 0, num_neurons: int = 0,
                            job_name: str | None = None,
                            region: str | None = None,
                            container_env: Mapping[str, str] | None = None) -> ScriptModeEnvironment:
    """The environment and arguments for the entry point, as sagemaker-training computes them.

    ``hyperparameters`` is the ``hyperparameters.json`` content (strings); ``container_env`` is
    the job's ``Environment`` (read for ``SAGEMAKER_PROGRAM``, ``SAGEMAKER_TRAINING_MODULE``
    and ``SM_HP_MP_PARAMETERS``). Without an entry point the toolkit writes the module name as
    the string ``"None"``, and so do we (``ScriptModeEnvironment.module_name`` is ``None``).
    """
    container_env = container_env or {}
    user_hps, framework_hps = split_hyperparameters(decode_hyperparameters(hyperparameters))
    additional = {k: v for k, v in framework_hps.items() if k not in SAGEMAKER_HYPERPARAMETERS}
    entry_point = (container_env.get("SAGEMAKER_PROGRAM")
                   or _optional_str(framework_hps.get("sagemaker_program")))
    cluster = _cluster(resource_config, additional)
    channels = {name: str(paths.channel_dir(name)) for name in input_data_config}
    mp_parameters = container_env.get("SM_HP_MP_PARAMETERS")
    training_env: dict[str, Any] = {
        "additional_framework_parameters": additional,
        "channel_input_dirs": channels,
        **cluster,
        "framework_module": container_env.get("SAGEMAKER_TRAINING_MODULE"),
        "hyperparameters": user_hps,
        "input_config_dir": str(paths.input_config_dir),
        "input_data_config": dict(input_data_config),
        "input_dir": str(paths.input_dir),
        "is_modelparallel_enabled": (mp_parameters != "{}") if mp_parameters else None,
        "is_smddpmprun_installed": False,
        "is_smddprun_installed": False,
        "job_name": job_name,
        "log_level": framework_hps.get("sagemaker_container_log_level", DEFAULT_LOG_LEVEL),
        "model_dir": str(paths.model_dir),
        "module_dir": str(framework_hps.get("sagemaker_submit_directory", paths.code_dir)),
        "module_name": _module_name(entry_point) or str(None),
        "num_cpus": num_cpus,
        "num_gpus": num_gpus,
        "num_neurons": num_neurons,
        "output_data_dir": str(paths.output_data_dir),
        "output_dir": str(paths.output_dir),
        "output_intermediate_dir": str(paths.output_intermediate_dir),
        "resource_config": dict(resource_config),
        "topology": list(resource_config.get("topology", [])),
        "user_entry_point": entry_point,
    }
    argv = to_cmd_args(user_hps)
    env = to_env_vars(_env_mapping(training_env, channels, user_hps, argv))
    env.update({
        "CURRENT_HOST": training_env["current_host"],
        "SAGEMAKER_JOB_NAME": _as_text(framework_hps.get("sagemaker_job_name", "")),
        "SAGEMAKER_REGION": _as_text(framework_hps.get("sagemaker_region", region or "")),
    })
    return ScriptModeEnvironment(env=env, argv=argv, training_env=training_env, hyperparameters=user_hps,
                                 user_entry_point=entry_point, module_name=_module_name(entry_point))


def _cluster(resource_config: Mapping[str, Any], additional: Mapping[str, Any]) -> dict[str, Any]:
    hosts = list(resource_config["hosts"])
    current_host = resource_config["current_host"]
    group = resource_config.get("current_group_name", DEFAULT_GROUP)
    groups = list(resource_config.get("instance_groups", []))
    default_distribution = [group] if any(additional.get(flag, False) for flag in _DISTRIBUTION_FLAGS) else []
    distribution_groups = additional.get("sagemaker_distribution_instance_groups", default_distribution)
    if groups:
        distribution_hosts = [host for g in groups if g["instance_group_name"] in distribution_groups
                              for host in g["hosts"]]
    else:
        distribution_hosts = list(hosts)
    master = distribution_hosts[0] if distribution_hosts else hosts[0]
    current_group_hosts = next((list(g["hosts"]) for g in groups if g["instance_group_name"] == group), [])
    return {
        "current_host": current_host,
        "current_instance_group": group,
        "current_instance_group_hosts": current_group_hosts,
        "current_instance_type": resource_config.get("current_instance_type", "local"),
        "distribution_hosts": distribution_hosts,
        "distribution_instance_groups": distribution_groups,
        "hosts": hosts,
        "instance_groups": [g["instance_group_name"] for g in groups],
        "instance_groups_dict": {g["instance_group_name"]: g for g in groups},
        "is_hetero": len(groups) > 1,
        "is_master": current_host == master,
        "master_hostname": master,
        "network_interface_name": resource_config.get("network_interface_name", DEFAULT_INTERFACE),
    }


def _env_mapping(training_env: Mapping[str, Any], channels: Mapping[str, str], user_hps: Mapping[str, Any],
                 argv: list[str]) -> dict[str, Any]:
    keys = (
        "hosts", "network_interface_name", "user_entry_point", "resource_config", "input_data_config",
        "output_data_dir", "current_host", "current_instance_type", "current_instance_group",
        "current_instance_group_hosts", "instance_groups", "instance_groups_dict",
        "distribution_instance_groups", "is_hetero", "module_name", "log_level", "framework_module",
        "input_dir", "input_config_dir", "output_dir", "num_cpus", "num_gpus", "num_neurons", "model_dir",
        "module_dir", "output_intermediate_dir",
    )
    mapping: dict[str, Any] = {key: training_env[key] for key in keys}
    if training_env["topology"]:
        mapping["topology"] = training_env["topology"]
    mapping.update({
        "hps": dict(user_hps),
        "framework_params": training_env["additional_framework_parameters"],
        "channels": sorted(channels),
        "training_env": training_env,
        "user_args": argv,
    })
    mapping.update({f"channel_{name}": path for name, path in channels.items()})
    mapping.update({f"hp_{name}": value for name, value in user_hps.items()})
    return mapping


def _module_name(entry_point: str | None) -> str | None:
    if entry_point and entry_point.endswith(".py"):
        return entry_point[:-3]
    return entry_point


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin1")
    return str(value)


def _env_value(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin1")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
