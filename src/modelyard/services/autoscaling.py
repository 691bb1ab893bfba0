"""Application Auto Scaling for SageMaker endpoint variants: RegisterScalableTarget,
DescribeScalableTargets, DeregisterScalableTarget, PutScalingPolicy, DescribeScalingPolicies,
DeleteScalingPolicy, DescribeScalingActivities. ``controllers.autoscaling`` acts on the policies.

    PutScalingPolicy (TargetTrackingScaling) -> two CloudWatch alarms, actions = the policy's ARN:
        TargetTracking-<resource>-AlarmHigh-<uuid>  metric > target for N periods   (scale out)
        TargetTracking-<resource>-AlarmLow-<uuid>   metric < 90 % target for M periods (scale in;
                                                     not created with DisableScaleIn)
    PutScalingPolicy (StepScaling) -> the user's PutMetricAlarm names the policy's ARN as an action
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection

from modelyard.arns import scalable_target_arn, scaling_policy_arn
from modelyard.context import RequestContext
from modelyard.metrics.endpoint_meter import ENDPOINT_NAMESPACE
from modelyard.page_tokens import InvalidPageToken, decode_token, encode_token, expect_list
from modelyard.services.autoscaling_checks import (
    DIMENSION,
    PREDEFINED,
    check_capacities,
    check_namespace,
    find_variant,
    parse_resource_id,
    step_scaling,
    target_tracking,
)
from modelyard.services.cloudwatch_alarms import alarm_document, store_alarm
from modelyard.services.dispatch import operation
from modelyard.store import alarms as stored_alarms
from modelyard.store import autoscaling as stored
from modelyard.store.autoscaling import PolicyRow, TargetKey
from modelyard.wire.errors import InvalidNextTokenException, ObjectNotFoundException, ValidationException

Request = dict[str, Any]
Result = dict[str, Any]
T = TypeVar("T")

SERVICE = "application-autoscaling"
PAGE = 50
SCALE_IN_RATIO = 0.9
SERVICE_ROLE = ("arn:aws:iam::{account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")
SUSPENSIONS = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


def _key(ctx: RequestContext, request: Request) -> TargetKey:
    check_namespace(request)
    parse_resource_id(request["ResourceId"])
    return TargetKey(ctx.account, ctx.region, request["ServiceNamespace"], request["ResourceId"],
                     request["ScalableDimension"])


def _no_target(key: TargetKey) -> ObjectNotFoundException:
    return ObjectNotFoundException(
        f"No scalable target registered for service namespace: {key.namespace}, resource ID: {key.resource_id}, "
        f"scalable dimension: {key.dimension}")


def _page(ctx: RequestContext, request: Request, items: Sequence[T], position: Callable[[T], list[Any]],
          kind: str) -> tuple[list[T], str | None]:
    limit = request.get("MaxResults") or PAGE
    if not 1 <= limit <= PAGE:
        raise ValidationException(f"MaxResults must be between 1 and {PAGE}; got {limit}.")
    start = 0
    if request.get("NextToken") is not None:
        try:
            after = expect_list(decode_token(f"{SERVICE}-{kind}", request["NextToken"]))
        except InvalidPageToken:
            raise InvalidNextTokenException("Invalid token.") from None
        start = next((index for index, item in enumerate(items) if position(item) > after), len(items))
    shown = list(items[start:start + limit])
    token = encode_token(f"{SERVICE}-{kind}", position(shown[-1])) if start + limit < len(items) else None
    return shown, token


# scalable targets

@operation(SERVICE, "RegisterScalableTarget")
def register_scalable_target(ctx: RequestContext, request: Request) -> Result:
    """Register an endpoint variant (or change its capacities and suspension); the autoscaler brings the
    variant's instance count within MinCapacity..MaxCapacity."""
    key = _key(ctx, request)
    if request.get("Tags"):
        raise ValidationException("Tags on scalable targets are not supported by modelyard yet; register without Tags.")
    with ctx.db.session(write=True) as conn:
        variant = find_variant(conn, ctx, key.resource_id)
        existing = stored.get_target(conn, key)
        before: Result = existing.document if existing else {}
        minimum, maximum = request.get("MinCapacity", before.get("MinCapacity")), request.get(
            "MaxCapacity", before.get("MaxCapacity"))
        if minimum is None or maximum is None:
            raise ValidationException("MinCapacity and MaxCapacity must be specified when registering a new scalable "
                                      "target.")
        check_capacities(minimum, maximum, variant)
        suspended = {name: bool((request.get("SuspendedState") or {}).get(
            name, (before.get("SuspendedState") or {}).get(name, False))) for name in SUSPENSIONS}
        document = {
            "ServiceNamespace": key.namespace, "ResourceId": key.resource_id, "ScalableDimension": key.dimension,
            "MinCapacity": minimum, "MaxCapacity": maximum,
            "RoleARN": request.get("RoleARN") or before.get("RoleARN") or SERVICE_ROLE.format(account=ctx.account),
            "CreationTime": before.get("CreationTime", ctx.now), "SuspendedState": suspended,
            "ScalableTargetARN": before.get("ScalableTargetARN") or scalable_target_arn(ctx.region, ctx.account)}
        stored.put_target(conn, key, document)
    return {"ScalableTargetARN": document["ScalableTargetARN"]}


@operation(SERVICE, "DescribeScalableTargets")
def describe_scalable_targets(ctx: RequestContext, request: Request) -> Result:
    """The namespace's targets, filtered by resource ids and dimension."""
    check_namespace(request)
    with ctx.db.session() as conn:
        rows = stored.list_targets(conn, ctx.account, ctx.region, request["ServiceNamespace"],
                                   resource_ids=request.get("ResourceIds") or None,
                                   dimension=request.get("ScalableDimension"))
    shown, token = _page(ctx, request, rows, lambda row: [row.key.resource_id, row.key.dimension], "targets")
    return {"ScalableTargets": [row.document for row in shown], "NextToken": token}


@operation(SERVICE, "DeregisterScalableTarget")
def deregister_scalable_target(ctx: RequestContext, request: Request) -> Result:
    """Deregister a target with its policies (and their target-tracking alarms); its capacity stays."""
    key = _key(ctx, request)
    with ctx.db.session(write=True) as conn:
        if stored.get_target(conn, key) is None:
            raise _no_target(key)
        stored.delete_tracking_alarms(conn, stored.delete_target(conn, key))
    return {}


# scaling policies

@operation(SERVICE, "PutScalingPolicy")
def put_scaling_policy(ctx: RequestContext, request: Request) -> Result:
    """Create or replace a target-tracking or step scaling policy of a registered target."""
    key = _key(ctx, request)
    kind = request.get("PolicyType") or "StepScaling"
    name = request["PolicyName"]
    tracking, steps = (request.get("TargetTrackingScalingPolicyConfiguration"),
                       request.get("StepScalingPolicyConfiguration"))
    if kind == "PredictiveScaling" or request.get("PredictiveScalingPolicyConfiguration"):
        raise ValidationException("Predictive scaling is not supported by modelyard yet; use TargetTrackingScaling "
                                  "or StepScaling.")
    if kind == "TargetTrackingScaling" and steps or kind == "StepScaling" and tracking:
        raise ValidationException(f"A policy of type {kind} takes only the configuration of its type.")
    config = target_tracking(tracking) if kind == "TargetTrackingScaling" else step_scaling(steps)
    with ctx.db.session(write=True) as conn:
        if stored.get_target(conn, key) is None:
            raise _no_target(key)
        existing = stored.get_policy(conn, key, name)
        arn = existing.arn if existing else scaling_policy_arn(ctx.region, ctx.account, key.namespace,
                                                                 key.resource_id, name)
        if existing is not None:
            stored.delete_tracking_alarms(conn, [existing])
        document: Result = {
            "PolicyARN": arn, "PolicyName": name, "ServiceNamespace": key.namespace, "ResourceId": key.resource_id,
            "ScalableDimension": key.dimension, "PolicyType": kind,
            "CreationTime": existing.document["CreationTime"] if existing else ctx.now}
        if kind == "TargetTrackingScaling":
            document["TargetTrackingScalingPolicyConfiguration"] = config
            document["Alarms"] = _tracking_alarms(ctx, conn, key, arn, config)
        else:
            document["StepScalingPolicyConfiguration"] = config
        stored.put_policy(conn, key, name, arn, document)
        alarms = document.get("Alarms") or _alarms_acting_on(conn, ctx, arn)
    return {"PolicyARN": arn, "Alarms": alarms}


def _tracking_alarms(ctx: RequestContext, conn: Connection, key: TargetKey, arn: str,
                     config: Result) -> list[Result]:
    """Create the alarms of a target-tracking policy; their names and ARNs."""
    metric = _tracked_metric(key, config)
    target = config["TargetValue"]
    periods = ctx.settings.metrics
    sides = [("AlarmHigh", "GreaterThanThreshold", target, periods.target_tracking_out_periods)]
    if not config["DisableScaleIn"]:
        sides.append(("AlarmLow", "LessThanThreshold", target * SCALE_IN_RATIO, periods.target_tracking_in_periods))
    created = []
    for side, comparison, threshold, count in sides:
        name = f"TargetTracking-{key.resource_id}-{side}-{uuid.uuid4()}"
        document = alarm_document(ctx, {
            **metric, "AlarmName": name, "AlarmActions": [arn], "ComparisonOperator": comparison,
            "Threshold": threshold, "Period": 60, "EvaluationPeriods": count, "DatapointsToAlarm": count,
            "AlarmDescription": f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {arn}."})
        store_alarm(ctx, conn, document)
        created.append({"AlarmName": name, "AlarmARN": document["AlarmArn"]})
    return created


def _tracked_metric(key: TargetKey, config: Result) -> Result:
    if config.get("PredefinedMetricSpecification"):
        endpoint, variant = parse_resource_id(key.resource_id)
        assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == PREDEFINED
        return {"Namespace": ENDPOINT_NAMESPACE, "MetricName": "InvocationsPerInstance", "Statistic": "Sum",
                "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]}
    custom = config["CustomizedMetricSpecification"]
    metric = {name: custom[name] for name in ("Namespace", "MetricName", "Statistic", "Unit") if name in custom}
    metric["Dimensions"] = custom.get("Dimensions") or []
    return metric


def _alarms_acting_on(conn: Connection, ctx: RequestContext, arn: str) -> list[Result]:
    """The alarms whose actions name the policy (a step scaling policy's alarms are the user's)."""
    return [{"AlarmName": row.name, "AlarmARN": row.document["AlarmArn"]}
            for row in stored_alarms.list_alarms(conn, ctx.account, ctx.region)
            if any(arn in row.document.get(actions, []) for actions in
                   ("AlarmActions", "OKActions", "InsufficientDataActions"))]


def _described_policy(conn: Connection, ctx: RequestContext, policy: PolicyRow) -> Result:
    if policy.document["PolicyType"] == "TargetTrackingScaling":
        return policy.document
    return {**policy.document, "Alarms": _alarms_acting_on(conn, ctx, policy.arn)}


@operation(SERVICE, "DescribeScalingPolicies")
def describe_scaling_policies(ctx: RequestContext, request: Request) -> Result:
    """The namespace's policies, filtered by resource id, dimension and names."""
    check_namespace(request)
    with ctx.db.session() as conn:
        rows = stored.list_policies(conn, ctx.account, ctx.region, request["ServiceNamespace"],
                                    resource_id=request.get("ResourceId"), dimension=request.get("ScalableDimension"),
                                    names=request.get("PolicyNames") or None)
        shown, token = _page(ctx, request, rows, lambda row: [row.key.resource_id, row.key.dimension, row.name],
                             "policies")
        return {"ScalingPolicies": [_described_policy(conn, ctx, row) for row in shown], "NextToken": token}


@operation(SERVICE, "DeleteScalingPolicy")
def delete_scaling_policy(ctx: RequestContext, request: Request) -> Result:
    """Delete a policy and the alarms a target-tracking policy created."""
    key = _key(ctx, request)
    with ctx.db.session(write=True) as conn:
        policy = stored.get_policy(conn, key, request["PolicyName"])
        if policy is None:
            raise ObjectNotFoundException(
                f"No scaling policy found for service namespace: {key.namespace}, resource ID: {key.resource_id}, "
                f"scalable dimension: {key.dimension}, policy name: {request['PolicyName']}")
        stored.delete_tracking_alarms(conn, [policy])
        stored.delete_policy(conn, key, policy.name)
    return {}


# scaling activities

@operation(SERVICE, "DescribeScalingActivities")
def describe_scaling_activities(ctx: RequestContext, request: Request) -> Result:
    """The namespace's scaling activities (of one resource when given), newest first."""
    check_namespace(request)
    if request.get("ResourceId") is not None:
        parse_resource_id(request["ResourceId"])
    dimension = request.get("ScalableDimension")
    with ctx.db.session() as conn:
        activities = stored.list_activities(conn, ctx.account, ctx.region, request["ServiceNamespace"],
                                            resource_id=request.get("ResourceId"))
    if dimension is not None and dimension != DIMENSION:
        activities = []
    shown, token = _page(ctx, request, activities, lambda a: [-a["StartTime"], a["ActivityId"]], "activities")
    return {"ScalingActivities": shown, "NextToken": token}
