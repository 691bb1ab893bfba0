"""A transform job's settings: the container environment SageMaker gives it, and the data-path
parameters after the container's ``GET /execution-parameters`` fills what the job left unset.

    job value given?  ─yes─► job value
          │ no
    container's /execution-parameters answer (when it has one) ─► else SageMaker's default
    (MaxConcurrentTransforms 1, BatchStrategy MultiRecord, MaxPayloadInMB 6)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelyard.controllers.transform.files import TransformSpec
from modelyard.jobs import (
    AssembleWith,
    BatchStrategy,
    DataProcessing,
    RecordProcessor,
    SplitType,
    data_format_for,
    payload_limit,
)

DEFAULT_MAX_CONCURRENT = 1
DEFAULT_PAYLOAD_MB = 6
DEFAULT_TIMEOUT_SECONDS = 600.0
DEFAULT_RETRIES = 3


def container_environment(job: dict[str, Any], model_env: dict[str, str]) -> dict[str, str]:
    """The model container's environment plus the job's Environment and SageMaker's batch variables."""
    env = {**model_env, **(job.get("Environment") or {}), "SAGEMAKER_BATCH": "true"}
    if job.get("MaxConcurrentTransforms"):
        env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(job["MaxConcurrentTransforms"])
    if job.get("BatchStrategy"):
        env["SAGEMAKER_BATCH_STRATEGY"] = job["BatchStrategy"]
    if job.get("MaxPayloadInMB") is not None:
        env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(job["MaxPayloadInMB"])
    return env


def needs_execution_parameters(job: dict[str, Any]) -> bool:
    """Whether the job leaves a parameter for the container to suggest."""
    return not job.get("MaxConcurrentTransforms") or not job.get("BatchStrategy") or job.get("MaxPayloadInMB") is None


def parse_execution_parameters(body: bytes | None) -> dict[str, Any]:
    """The usable members of a ``/execution-parameters`` answer (bad or missing answers give {})."""
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    result: dict[str, Any] = {}
    if isinstance(value.get("MaxConcurrentTransforms"), int) and value["MaxConcurrentTransforms"] > 0:
        result["MaxConcurrentTransforms"] = value["MaxConcurrentTransforms"]
    if value.get("BatchStrategy") in ("SingleRecord", "MultiRecord"):
        result["BatchStrategy"] = value["BatchStrategy"]
    if isinstance(value.get("MaxPayloadInMB"), int) and 0 <= value["MaxPayloadInMB"] <= 100:
        result["MaxPayloadInMB"] = value["MaxPayloadInMB"]
    return result


@dataclass(frozen=True)
class RunSettings:
    """Everything the runner needs besides the containers."""

    spec: TransformSpec
    max_concurrent: int
    timeout: float
    retries: int
    content_type: str | None
    accept: str | None

    def describe(self) -> str:
        """One log line summarising the resolved parameters."""
        limit = self.spec.payload_limit
        return (f"BatchStrategy={self.spec.strategy.value} MaxConcurrentTransforms={self.max_concurrent} "
                f"MaxPayloadInMB={'unlimited' if limit is None else limit // 1048576} "
                f"SplitType={self.spec.split_type.value} AssembleWith={self.spec.assemble_with.value}")


def resolve_settings(job: dict[str, Any], suggested: dict[str, Any]) -> RunSettings:
    """The job's settings, with unset parameters taken from ``suggested`` and then the defaults."""
    transform_input, transform_output = job["TransformInput"], job["TransformOutput"]
    max_concurrent = job.get("MaxConcurrentTransforms") or suggested.get("MaxConcurrentTransforms") \
        or DEFAULT_MAX_CONCURRENT
    strategy = job.get("BatchStrategy") or suggested.get("BatchStrategy")
    payload_mb = job.get("MaxPayloadInMB")
    if payload_mb is None:
        payload_mb = suggested.get("MaxPayloadInMB", DEFAULT_PAYLOAD_MB)
    content_type, accept = transform_input.get("ContentType"), transform_output.get("Accept")
    processor = RecordProcessor(DataProcessing.from_wire(job.get("DataProcessing")),
                                data_format_for(content_type), data_format_for(accept))
    spec = TransformSpec(
        split_type=SplitType.parse(transform_input.get("SplitType")),
        strategy=BatchStrategy.parse(strategy),
        payload_limit=payload_limit(payload_mb),
        assemble_with=AssembleWith.parse(transform_output.get("AssembleWith")),
        processor=processor,
        gzip=transform_input.get("CompressionType") == "Gzip",
    )
    client = job.get("ModelClientConfig") or {}
    return RunSettings(spec, int(max_concurrent),
                       float(client.get("InvocationsTimeoutInSeconds") or DEFAULT_TIMEOUT_SECONDS),
                       int(client.get("InvocationsMaxRetries", DEFAULT_RETRIES)), content_type, accept)
