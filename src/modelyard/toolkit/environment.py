"""Start-up settings of the toolkit, read once from an environment mapping (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from modelyard.toolkit import content_types

DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_PROGRAM = "inference.py"
DEFAULT_HTTP_PORT = 8080
DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_BATCH_STRATEGY = "MultiRecord"
WORKERS_VARIABLE = "SAGEMAKER_MODEL_SERVER_WORKERS"
VCPUS_VARIABLE = "MODELYARD_VCPUS"
"""The container's vCPUs, set by the server that starts it: its instance type's, capped at the host's cores."""


class SettingsError(ValueError):
    """An environment variable holds a value the toolkit cannot use."""


@dataclass(frozen=True)
class ToolkitSettings:
    """Everything the server needs, resolved from ``SAGEMAKER_*`` and ``MODELYARD_*`` variables."""

    model_dir: str
    code_dir: str
    program: str
    socket_path: str | None = None
    http_host: str = DEFAULT_HTTP_HOST
    http_port: int | None = None
    workers: int = 1
    default_accept: str = content_types.JSON
    max_concurrent_transforms: int = 1
    batch_strategy: str = DEFAULT_BATCH_STRATEGY
    max_payload_mb: int = DEFAULT_MAX_PAYLOAD_MB
    framework: str | None = None
    """The image's framework (``MODELYARD_FRAMEWORK``: xgboost, sklearn, ...), None for a generic image."""
    program_given: bool = False
    """SAGEMAKER_PROGRAM was set (a missing program is then an error even where an algorithm mode exists)."""
    accept_given: bool = False
    """SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT was set (else an algorithm mode may choose its own default)."""

    @property
    def module_name(self) -> str:
        """The importable module name of the program (``inference.py`` -> ``inference``)."""
        name = self.program[:-3] if self.program.endswith(".py") else self.program
        return name.replace("/", ".")

    @property
    def execution_parameters(self) -> dict[str, object]:
        """The body of ``GET /execution-parameters``."""
        return {"MaxConcurrentTransforms": self.max_concurrent_transforms,
                "BatchStrategy": self.batch_strategy, "MaxPayloadInMB": self.max_payload_mb}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ToolkitSettings:
        """Read the settings from ``environ`` (``os.environ`` when omitted)."""
        env = os.environ if environ is None else environ
        model_dir = env.get("SAGEMAKER_MODEL_DIR") or os.path.join(
            env.get("SAGEMAKER_BASE_DIR") or os.path.dirname(DEFAULT_MODEL_DIR), "model")
        submit_dir = env.get("SAGEMAKER_SUBMIT_DIRECTORY") or ""
        code_dir = submit_dir if submit_dir and "://" not in submit_dir else os.path.join(model_dir, "code")
        workers = _int(env, WORKERS_VARIABLE, default_workers(env), minimum=1)
        http_port = _int(env, "SAGEMAKER_BIND_TO_PORT", 0, minimum=0) or None
        if http_port is None and env.get("MODELYARD_HTTP", "").strip().lower() in ("1", "true", "yes"):
            http_port = DEFAULT_HTTP_PORT
        return cls(
            model_dir=model_dir,
            code_dir=code_dir,
            program=env.get("SAGEMAKER_PROGRAM") or DEFAULT_PROGRAM,
            socket_path=env.get("MODELYARD_SOCKET") or None,
            http_host=env.get("MODELYARD_HTTP_HOST") or DEFAULT_HTTP_HOST,
            http_port=http_port,
            workers=workers,
            default_accept=env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or content_types.JSON,
            max_concurrent_transforms=_int(env, "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", workers, minimum=1),
            batch_strategy=env.get("SAGEMAKER_BATCH_STRATEGY") or DEFAULT_BATCH_STRATEGY,
            max_payload_mb=_int(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", DEFAULT_MAX_PAYLOAD_MB, minimum=0),
            framework=env.get("MODELYARD_FRAMEWORK") or None,
            program_given=bool(env.get("SAGEMAKER_PROGRAM")),
            accept_given=bool(env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT")),
        )


def default_workers(env: Mapping[str, str]) -> int:
    """The worker count when ``SAGEMAKER_MODEL_SERVER_WORKERS`` is unset: one per vCPU of the container,
    as SageMaker's toolkits choose (``MODELYARD_VCPUS`` where modelyard started the container, else the
    CPUs this process may run on)."""
    vcpus = _int(env, VCPUS_VARIABLE, 0, minimum=0)
    if vcpus:
        return vcpus
    return len(os.sched_getaffinity(0)) or 1


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value
