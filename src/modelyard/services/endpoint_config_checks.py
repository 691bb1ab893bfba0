"""The cross-field rules of CreateEndpointConfig that botocore's shapes cannot express.

The wire layer has already checked types, ranges and patterns; these functions check combinations
(instance-based vs serverless variants, shadow variants, async and capture settings) and raise
``ValidationException`` with a message that names the offending member.
"""

from __future__ import annotations

import re
from typing import Any

from modelyard.storage.errors import InvalidLocationError
from modelyard.storage.uris import parse_location
from modelyard.wire.errors import ValidationException

SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_INSTANCE_ONLY = ("InstanceType", "InitialInstanceCount", "AcceleratorType", "VolumeSizeInGB",
                  "ManagedInstanceScaling", "InstancePools")


def check_s3_uri(value: str, member: str) -> None:
    """Refuse a destination that is not ``s3://<bucket>[/key]`` (or an https URL)."""
    if value.startswith("https://"):
        return
    match = re.fullmatch(r"s3://([^/]+)(/.*)?", value)
    if match is None or _BUCKET.fullmatch(match.group(1)) is None:
        raise ValidationException(f"{member} '{value}' is not a valid S3 URI; expected s3://<bucket>/<prefix>")


def _check_serverless(variant: dict[str, Any], where: str) -> None:
    config = variant["ServerlessConfig"]
    given = [key for key in _INSTANCE_ONLY if key in variant]
    if given:
        raise ValidationException(
            f"{where} has a ServerlessConfig, so it cannot also specify {', '.join(given)}; "
            "serverless variants have no instances")
    memory = config["MemorySizeInMB"]
    if memory not in SERVERLESS_MEMORY_SIZES:
        raise ValidationException(
            f"{where}: ServerlessConfig.MemorySizeInMB {memory} is not one of "
            f"{', '.join(map(str, SERVERLESS_MEMORY_SIZES))}")
    provisioned = config.get("ProvisionedConcurrency")
    if provisioned is not None and provisioned > config["MaxConcurrency"]:
        raise ValidationException(
            f"{where}: ServerlessConfig.ProvisionedConcurrency ({provisioned}) cannot exceed "
            f"MaxConcurrency ({config['MaxConcurrency']})")


def _check_variant(variant: dict[str, Any], where: str) -> None:
    if not variant.get("ModelName"):
        raise ValidationException(
            f"{where} needs a ModelName (endpoints built from inference components are not supported)")
    if "ServerlessConfig" in variant:
        _check_serverless(variant, where)
        return
    missing = [key for key in ("InstanceType", "InitialInstanceCount") if key not in variant]
    if missing:
        raise ValidationException(
            f"{where} needs {' and '.join(missing)} (or a ServerlessConfig for a serverless variant)")
    if variant.get("CoreDumpConfig"):
        destination = variant["CoreDumpConfig"]["DestinationS3Uri"]
        check_s3_uri(destination, f"{where} CoreDumpConfig.DestinationS3Uri")


def check_variants(production: list[dict[str, Any]], shadow: list[dict[str, Any]]) -> None:
    """Variant rules: unique names, instance xor serverless, no mixing, at most one shadow pairing."""
    named = [(f'ProductionVariant "{v["VariantName"]}"', v) for v in production]
    named += [(f'ShadowProductionVariant "{v["VariantName"]}"', v) for v in shadow]
    names = [v["VariantName"] for v in production + shadow]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationException(
            "Variant names must be unique within an endpoint configuration; "
            f"repeated: {', '.join(duplicates)}")
    for where, variant in named:
        _check_variant(variant, where)
    serverless = {"ServerlessConfig" in v for _, v in named}
    if len(serverless) > 1:
        raise ValidationException(
            "An endpoint configuration cannot mix serverless and instance-based variants")
    if serverless == {True} and (len(production) > 1 or shadow):
        raise ValidationException(
            "A serverless endpoint configuration has exactly one ProductionVariant (no further or shadow "
            "variants); create one endpoint per serverless model")
    if shadow and (len(production) != 1 or len(shadow) != 1):
        raise ValidationException(
            "With ShadowProductionVariants, specify exactly one ProductionVariant and one "
            f"ShadowProductionVariant (got {len(production)} and {len(shadow)})")


def check_async(config: dict[str, Any] | None, production: list[dict[str, Any]],
                notifications_enabled: bool = True) -> None:
    """AsyncInferenceConfig needs an S3 output path and instance-based variants; a NotificationConfig
    needs an SNS endpoint (``notifications_enabled``)."""
    if config is None:
        return
    output = config["OutputConfig"]
    notification = output.get("NotificationConfig") or {}
    if (notification.get("SuccessTopic") or notification.get("ErrorTopic")) and not notifications_enabled:
        raise ValidationException(
            "AsyncInferenceConfig.OutputConfig.NotificationConfig: this server has no SNS endpoint to publish "
            "to; start it with AWS_ENDPOINT_URL_SNS (or AWS_ENDPOINT_URL) set, or remove NotificationConfig")
    if not output.get("S3OutputPath"):
        raise ValidationException("AsyncInferenceConfig.OutputConfig.S3OutputPath is required")
    check_s3_uri(output["S3OutputPath"], "AsyncInferenceConfig.OutputConfig.S3OutputPath")
    if output.get("S3FailurePath"):
        check_s3_uri(output["S3FailurePath"], "AsyncInferenceConfig.OutputConfig.S3FailurePath")
    if any("ServerlessConfig" in v for v in production):
        raise ValidationException("AsyncInferenceConfig is not supported with serverless variants")


def check_data_capture(config: dict[str, Any] | None) -> None:
    """DataCaptureConfig: an ``s3://`` or local destination and one or two distinct capture modes.

    A local destination must also pass the server's local-path policy (``data_locations``)."""
    if config is None:
        return
    destination = config["DestinationS3Uri"]
    if destination.startswith("https://"):
        raise ValidationException(
            f"DataCaptureConfig.DestinationS3Uri '{destination}': modelyard writes captured data through "
            "s3:// (or file://) locations only; give s3://<bucket>/<prefix>")
    if not destination.startswith(("file://", "/")):
        check_s3_uri(destination, "DataCaptureConfig.DestinationS3Uri")
    try:
        parse_location(destination)
    except InvalidLocationError as exc:
        raise ValidationException(f"DataCaptureConfig.DestinationS3Uri '{destination}' is not usable: {exc}") from None
    modes = [option["CaptureMode"] for option in config["CaptureOptions"]]
    if len(modes) > 2 or len(set(modes)) != len(modes):
        raise ValidationException(
            f"DataCaptureConfig.CaptureOptions must list Input and/or Output at most once each; got {modes}")
    if "InputAndOutput" in modes and len(modes) > 1:
        raise ValidationException(
            "DataCaptureConfig.CaptureOptions: InputAndOutput already covers Input and Output")


def is_serverless(production: list[dict[str, Any]]) -> bool:
    """Whether the configuration's variants are serverless (they are all or none)."""
    return any("ServerlessConfig" in variant for variant in production)


def check_serverless_features(request: dict[str, Any]) -> None:
    """Refuse what serverless endpoints do not support: data capture (models are checked apart)."""
    capture = request.get("DataCaptureConfig")
    if is_serverless(request["ProductionVariants"]) and capture and capture.get("EnableCapture", True):
        raise ValidationException("DataCaptureConfig is not supported for serverless endpoints; remove it or use "
                                  "an instance-based variant")


def check_serverless_model(model: dict[str, Any], variant: str) -> None:
    """Refuse a model a serverless variant cannot host: several containers, multi-model, network isolation."""
    containers = model.get("Containers") or ([model["PrimaryContainer"]] if model.get("PrimaryContainer") else [])
    where = f'Serverless variant "{variant}": model "{model.get("ModelName")}"'
    if len(containers) > 1:
        raise ValidationException(f"{where} is an inference pipeline of {len(containers)} containers; serverless "
                                  "endpoints host single-container models only")
    if any(container.get("Mode") == "MultiModel" for container in containers):
        raise ValidationException(f"{where} is a multi-model model; serverless endpoints do not support "
                                  "multi-model endpoints")
    if model.get("EnableNetworkIsolation"):
        raise ValidationException(f"{where} has EnableNetworkIsolation; serverless endpoints do not support "
                                  "network isolation")
