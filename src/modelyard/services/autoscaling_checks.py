"""Application Auto Scaling's input rules for SageMaker endpoint variants: the namespace, dimension and
resource id modelyard scales, capacities, and the shapes of target-tracking and step scaling policies.
Everything else is refused with a ValidationException naming what modelyard supports."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from modelyard.context import RequestContext
from modelyard.desired.endpoints import EndpointDesired
from modelyard.store.resources import Record, get_record
from modelyard.wire.errors import ValidationException

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
RESOURCE_ID = re.compile(r"endpoint/(?P<endpoint>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})/variant/"
                         r"(?P<variant>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})")
PREDEFINED = "SageMakerVariantInvocationsPerInstance"
STATISTICS = ("Average", "Minimum", "Maximum", "SampleCount", "Sum")
LARGEST_VALUE = 1.174271e108
DEFAULT_COOLDOWN = 300
MAX_CAPACITY = 1000


@dataclass(frozen=True)
class Variant:
    """The endpoint variant a resource id names."""

    endpoint: str
    variant: str
    asynchronous: bool


def check_namespace(request: dict[str, Any]) -> None:
    """Only SageMaker endpoint variants can be scaled by modelyard."""
    namespace = request["ServiceNamespace"]
    if namespace != NAMESPACE:
        raise ValidationException(
            f"Unsupported service namespace {namespace}: modelyard scales SageMaker endpoint variants only "
            f"(ServiceNamespace {NAMESPACE}).")
    dimension = request.get("ScalableDimension")
    if dimension is not None and dimension != DIMENSION:
        raise ValidationException(
            f"Unsupported scalable dimension {dimension}: modelyard scales the instance count of endpoint "
            f"variants only ({DIMENSION}).")


def parse_resource_id(resource_id: str) -> tuple[str, str]:
    """(endpoint, variant) of ``endpoint/<name>/variant/<variant>``."""
    match = RESOURCE_ID.fullmatch(resource_id)
    if match is None:
        raise ValidationException(
            f"Unsupported resource ID {resource_id}: a SageMaker endpoint variant is named "
            "endpoint/<EndpointName>/variant/<VariantName>.")
    return match["endpoint"], match["variant"]


def endpoint_config(conn: Connection, endpoint: Record) -> Record | None:
    """The endpoint config the endpoint runs or is moving to."""
    desired = EndpointDesired.from_json(endpoint.desired) if endpoint.desired else EndpointDesired(
        endpoint.document["EndpointConfigName"])
    return get_record(conn, endpoint.account, endpoint.region, "endpoint-config", desired.config)


def find_variant(conn: Connection, ctx: RequestContext, resource_id: str) -> Variant:
    """The existing, instance-based endpoint variant ``resource_id`` names."""
    endpoint_name, variant_name = parse_resource_id(resource_id)
    endpoint = get_record(conn, ctx.account, ctx.region, "endpoint", endpoint_name)
    if endpoint is None or endpoint.document.get("EndpointStatus") == "Deleting":
        raise ValidationException(
            f"The SageMaker endpoint {endpoint_name} of resource {resource_id} does not exist: "
            f'Could not find endpoint "{endpoint_name}".')
    config = endpoint_config(conn, endpoint)
    variants = {v["VariantName"]: v for v in (config.document.get("ProductionVariants", []) if config else [])}
    if variant_name not in variants:
        raise ValidationException(
            f'The variant name "{variant_name}" of resource {resource_id} is not present in endpoint '
            f'"{endpoint_name}"; its variants are {sorted(variants)}.')
    if "ServerlessConfig" in variants[variant_name]:
        raise ValidationException(
            f"Variant {variant_name} of endpoint {endpoint_name} is serverless and has no instance count to scale "
            f"({DIMENSION}); modelyard does not scale serverless provisioned concurrency yet.")
    asynchronous = bool(config and config.document.get("AsyncInferenceConfig"))
    return Variant(endpoint_name, variant_name, asynchronous)


def check_capacities(minimum: int, maximum: int, variant: Variant) -> None:
    """0 <= MinCapacity <= MaxCapacity; 0 only for asynchronous endpoints, which can scale to zero."""
    if minimum < 0 or maximum < 0:
        raise ValidationException("MinCapacity and MaxCapacity must be 0 or more.")
    if minimum > maximum:
        raise ValidationException(f"Minimum capacity ({minimum}) cannot be greater than maximum capacity ({maximum}).")
    if maximum > MAX_CAPACITY:
        raise ValidationException(f"MaxCapacity ({maximum}) cannot exceed {MAX_CAPACITY} instances.")
    if minimum < 1 and not variant.asynchronous:
        raise ValidationException(
            f"MinCapacity must be at least 1 for variant {variant.variant} of the real-time endpoint "
            f"{variant.endpoint}; only asynchronous endpoints can scale to zero instances.")


def _value(value: float, field: str) -> None:
    if not math.isfinite(value) or abs(value) > LARGEST_VALUE:
        raise ValidationException(f"{field} must be a finite number of magnitude at most {LARGEST_VALUE:g}.")


def _cooldown(config: dict[str, Any], field: str) -> int:
    value = config.get(field, DEFAULT_COOLDOWN)
    if value < 0:
        raise ValidationException(f"{field} must be 0 or more seconds.")
    return int(value)


def target_tracking(config: dict[str, Any] | None) -> dict[str, Any]:
    """A checked TargetTrackingScalingPolicyConfiguration with its defaults (cooldowns 300 s)."""
    if not config:
        raise ValidationException("TargetTrackingScalingPolicyConfiguration is required for a policy of type "
                                  "TargetTrackingScaling.")
    target = config["TargetValue"]
    _value(target, "TargetValue")
    if target <= 0:
        raise ValidationException(f"TargetValue must be greater than 0; got {target:g}.")
    predefined, customized = config.get("PredefinedMetricSpecification"), config.get("CustomizedMetricSpecification")
    if bool(predefined) == bool(customized):
        raise ValidationException("Exactly one of PredefinedMetricSpecification or CustomizedMetricSpecification "
                                  "must be given.")
    if predefined:
        kind = predefined["PredefinedMetricType"]
        if kind != PREDEFINED:
            raise ValidationException(
                f"Unsupported predefined metric type {kind} for a SageMaker endpoint variant's instance count: "
                f"modelyard supports {PREDEFINED} (or a CustomizedMetricSpecification).")
        if predefined.get("ResourceLabel"):
            raise ValidationException(f"ResourceLabel does not apply to the predefined metric {PREDEFINED}.")
    else:
        _check_customized(customized or {})
    checked = dict(config)
    checked["ScaleInCooldown"] = _cooldown(config, "ScaleInCooldown")
    checked["ScaleOutCooldown"] = _cooldown(config, "ScaleOutCooldown")
    checked["DisableScaleIn"] = bool(config.get("DisableScaleIn", False))
    return checked


def _check_customized(metric: dict[str, Any]) -> None:
    if metric.get("Metrics"):
        raise ValidationException("Metric math (CustomizedMetricSpecification.Metrics) is not supported by modelyard "
                                  "yet; give MetricName, Namespace and Statistic.")
    for name in ("MetricName", "Namespace", "Statistic"):
        if not metric.get(name):
            raise ValidationException(f"CustomizedMetricSpecification.{name} is required.")
    if metric["Statistic"] not in STATISTICS:
        raise ValidationException(f"CustomizedMetricSpecification.Statistic must be one of {', '.join(STATISTICS)}.")


def step_scaling(config: dict[str, Any] | None) -> dict[str, Any]:
    """A checked StepScalingPolicyConfiguration with its defaults (Cooldown 300 s, aggregation Average):
    steps that neither overlap nor leave gaps, at most one open at each end."""
    if not config:
        raise ValidationException("StepScalingPolicyConfiguration is required for a policy of type StepScaling.")
    adjustment = config.get("AdjustmentType")
    if not adjustment:
        raise ValidationException("StepScalingPolicyConfiguration.AdjustmentType is required.")
    steps = config.get("StepAdjustments") or []
    if not steps:
        raise ValidationException("StepScalingPolicyConfiguration.StepAdjustments needs at least one step.")
    magnitude = config.get("MinAdjustmentMagnitude")
    if magnitude is not None and (adjustment != "PercentChangeInCapacity" or magnitude < 1):
        raise ValidationException("MinAdjustmentMagnitude (1 or more) applies to AdjustmentType "
                                  "PercentChangeInCapacity only.")
    for step in steps:
        for bound in ("MetricIntervalLowerBound", "MetricIntervalUpperBound"):
            if bound in step:
                _value(step[bound], bound)
        if adjustment == "ExactCapacity" and step["ScalingAdjustment"] < 0:
            raise ValidationException("ScalingAdjustment cannot be negative with AdjustmentType ExactCapacity.")
    ordered = sorted(steps, key=lambda s: s.get("MetricIntervalLowerBound", -math.inf))
    for index, step in enumerate(ordered):
        lower = step.get("MetricIntervalLowerBound", -math.inf)
        upper = step.get("MetricIntervalUpperBound", math.inf)
        if lower >= upper:
            raise ValidationException(f"Step adjustment {index + 1}: MetricIntervalLowerBound ({lower:g}) must be less "
                                      f"than MetricIntervalUpperBound ({upper:g}).")
        if index and ordered[index - 1].get("MetricIntervalUpperBound", math.inf) != lower:
            raise ValidationException("Step adjustments cannot overlap or leave gaps: each step's "
                                      "MetricIntervalLowerBound must be the previous step's MetricIntervalUpperBound.")
    checked = dict(config)
    checked["Cooldown"] = _cooldown(config, "Cooldown")
    checked["MetricAggregationType"] = config.get("MetricAggregationType") or "Average"
    return checked
