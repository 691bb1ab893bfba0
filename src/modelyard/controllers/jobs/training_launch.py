"""What a training container is started with: its files under /opt/ml, its argv and its environment.

    framework image (sklearn, pytorch, generic python ...)  ── script mode ──►
        sourcedir (sagemaker_submit_directory) ─► /opt/ml/code,  python <sagemaker_program> --hp value ...
        env: SM_* (sagemaker-training's names), PYTHONPATH=/opt/ml/code
    bring-your-own image                                    ──► its ``train`` program, config files only
    AlgorithmSpecification.ContainerEntrypoint              ──► that argv (+ ContainerArguments), any image
    XGBoost image, no script, no entry point (algorithm mode)──► the toolkit's built-in XGBoost training
        (``python -m modelyard.toolkit train``, MODELYARD_FRAMEWORK=xgboost, the toolkit on PYTHONPATH)
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from modelyard.controllers.jobs.data import JobDataError
from modelyard.controllers.jobs.tools import OPT_ML, JobTools, Workspace
from modelyard.jobs.training_config import (
    HYPERPARAMETERS_FILE,
    INPUT_DATA_CONFIG_FILE,
    RESOURCE_CONFIG_FILE,
    host_names,
    hyperparameters_file,
    input_data_config_file,
    resource_config_file,
)
from modelyard.jobs.training_env import TrainingPaths, decode_hyperparameters, script_mode_environment
from modelyard.runtime.environments import Environment
from modelyard.runtime.images import ImageSpec
from modelyard.storage import StorageError

PATHS = TrainingPaths()
ALGORITHM_FRAMEWORKS = frozenset({"xgboost"})
"""Framework images with a built-in algorithm that trains without a script (as SageMaker's XGBoost image)."""


@dataclass(frozen=True)
class TrainingLaunch:
    """The prepared launch: argv (before the environment resolves ``python``), env, working directory."""

    argv: list[str]
    env: dict[str, str]
    workdir: PurePosixPath | None
    script_mode: bool
    algorithm_mode: bool = False
    """The toolkit's built-in algorithm trains: the toolkit must be importable in the container."""


def write_config(workspace: Workspace, document: dict[str, Any], host: str = "algo-1") -> dict[str, Any]:
    """Create the /opt/ml layout of ``host`` and its three config files; returns the input data and
    resource configs."""
    for path in (PATHS.model_dir, PATHS.output_data_dir, PATHS.output_intermediate_dir, PATHS.input_config_dir,
                 PATHS.code_dir):
        workspace.host_path(path).mkdir(parents=True, exist_ok=True)
    algorithm = document["AlgorithmSpecification"]
    input_config = input_data_config_file(document.get("InputDataConfig"), algorithm.get("TrainingInputMode", "File"))
    resources = document["ResourceConfig"]
    hosts = host_names(int(resources.get("InstanceCount", 1)))
    resource_config = resource_config_file(current_host=host, hosts=hosts,
                                           instance_type=resources.get("InstanceType", "local"))
    files = {HYPERPARAMETERS_FILE: hyperparameters_file(document.get("HyperParameters")),
             INPUT_DATA_CONFIG_FILE: input_config, RESOURCE_CONFIG_FILE: resource_config}
    config_dir = workspace.host_path(PATHS.input_config_dir)
    for name, content in files.items():
        (config_dir / name).write_text(json.dumps(content))
    return {"input": input_config, "resource": resource_config}


def script_source(document: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(entry point, submit directory)`` from the hyperparameters / Environment as the SDK sends them."""
    decoded = decode_hyperparameters(document.get("HyperParameters") or {})
    environment = document.get("Environment") or {}
    program = environment.get("SAGEMAKER_PROGRAM") or decoded.get("sagemaker_program")
    submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY") or decoded.get("sagemaker_submit_directory")
    return (str(program) if program else None), (str(submit) if submit else None)


def fetch_code(tools: JobTools, workspace: Workspace, submit: str) -> Path:
    """Unpack the source directory (sourcedir.tar.gz, a directory or an S3 prefix) into /opt/ml/code."""
    code = workspace.host_path(PATHS.code_dir)
    if submit.startswith(str(OPT_ML)):
        return code
    try:
        unpacked = tools.cache.fetch_model(submit)
    except StorageError as exc:
        raise JobDataError(f"ClientError: could not fetch the training code from {submit} "
                           f"(hyperparameter sagemaker_submit_directory): {exc}") from None
    try:
        shutil.copytree(unpacked, code, dirs_exist_ok=True)
    finally:
        tools.cache.release(unpacked)
    return code


def requirements_of(workspace: Workspace) -> str | None:
    """The source directory's requirements.txt, if any."""
    path = workspace.host_path(PATHS.code_dir) / "requirements.txt"
    return path.read_text() if path.is_file() else None


def plan_launch(*, document: dict[str, Any], image: ImageSpec, configs: dict[str, Any], workspace: Workspace,
                sandboxed: bool, region: str, num_cpus: int) -> TrainingLaunch:
    """The argv, env and working directory of the training container, whose CPU quota is ``num_cpus``
    cores (its ``SM_NUM_CPUS``)."""
    algorithm = document["AlgorithmSpecification"]
    paths = PATHS if sandboxed else TrainingPaths(workspace.opt_ml)
    user_env = dict(document.get("Environment") or {})
    base = {**image.env, **user_env, "TRAINING_JOB_NAME": document["TrainingJobName"],
            "TRAINING_JOB_ARN": document["TrainingJobArn"], "AWS_REGION": region}
    entrypoint = list(algorithm.get("ContainerEntrypoint") or [])
    script_mode = image.kind == "toolkit"
    if not script_mode and not entrypoint:
        return TrainingLaunch(image.command("train"), base, None, False)
    program, _ = script_source(document)
    hyperparameters = hyperparameters_file(document.get("HyperParameters"))
    sm = script_mode_environment(paths=paths, hyperparameters=hyperparameters, input_data_config=configs["input"],
                                 resource_config=configs["resource"], num_cpus=num_cpus,
                                 job_name=document["TrainingJobName"], region=region, container_env=user_env)
    if algorithm_mode(document, image):
        env = {**base, **sm.env, "MODELYARD_FRAMEWORK": str(image.framework)}
        return TrainingLaunch(image.command("train"), env, None, False, algorithm_mode=True)
    if script_mode and not program and not entrypoint:
        raise JobDataError(f"ClientError: {image.uri} is a framework image: give the training script as the "
                           "hyperparameter sagemaker_program (with sagemaker_submit_directory), as the SDK's "
                           "entry_point/source_dir do, or give AlgorithmSpecification.ContainerEntrypoint")
    code = str(paths.code_dir)
    env = {**base, **sm.env, "PYTHONPATH": code}
    if entrypoint:
        return TrainingLaunch(entrypoint + list(algorithm.get("ContainerArguments") or []), env, None, script_mode)
    assert program is not None
    if not (workspace.host_path(PATHS.code_dir) / program).is_file():
        raise JobDataError(f"ClientError: the entry point {program} is not in the source directory "
                           "(hyperparameter sagemaker_submit_directory)")
    return TrainingLaunch([*_interpreter(program), program, *sm.argv], env, PurePosixPath(code), True)


def algorithm_mode(document: dict[str, Any], image: ImageSpec) -> bool:
    """The job trains with the image's built-in algorithm: a framework image that has one, given neither a
    script (sagemaker_program / SAGEMAKER_PROGRAM) nor ContainerEntrypoint."""
    program, _ = script_source(document)
    entrypoint = (document.get("AlgorithmSpecification") or {}).get("ContainerEntrypoint")
    return image.kind == "toolkit" and image.framework in ALGORITHM_FRAMEWORKS and not program and not entrypoint


def _interpreter(program: str) -> list[str]:
    if program.endswith(".py"):
        return ["python"]
    if program.endswith(".sh"):
        return ["/bin/sh"]
    return []


def resolve_argv(environment: Environment, argv: list[str], workdir: PurePosixPath | None) -> list[str]:
    """``argv`` with ``python`` made the environment's interpreter; a bare program name runs from ``workdir``."""
    if argv and not argv[0].startswith("/") and "/" not in argv[0] and workdir is not None \
            and argv[0] not in ("python", "python3") and not (environment.bin_dir / argv[0]).is_file():
        argv = [f"./{argv[0]}", *argv[1:]]
    return environment.command(argv)
