"""CloudWatch metric alarms: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, SetAlarmState,
DeleteAlarms. ``metrics.alarm_evaluator`` evaluates them in the background.

Alarm actions may name Application Auto Scaling policies (``controllers.autoscaling`` runs them while
the alarm is in the action's state). Refused with a ValidationError naming what is missing: other
actions (SNS topics, EC2 actions), metric math alarms (``Metrics``), anomaly detection thresholds,
high-resolution periods, tags, and the newer PromQL / evaluation-window settings.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import Connection

from modelyard.arns import SCALING_POLICY_ARN, alarm_arn
from modelyard.context import RequestContext
from modelyard.metrics.alarm_rules import INSUFFICIENT_DATA, MISSING_DATA, OPERATORS
from modelyard.metrics.series import dimensions_of, wire_dimensions
from modelyard.metrics.statistics import UnknownStatistic, parse_statistic
from modelyard.page_tokens import InvalidPageToken, decode_token, encode_token, expect_str
from modelyard.services.cloudwatch_checks import check_period
from modelyard.services.dispatch import operation
from modelyard.store import alarms as stored
from modelyard.wire.errors import (
    CloudWatchLimitExceeded,
    CloudWatchResourceNotFound,
    CloudWatchValidationError,
    InvalidFormat,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
)

Request = dict[str, Any]
Result = dict[str, Any]

MAX_ALARMS = 5000
MAX_WINDOW_SECONDS = 7 * 86400
DESCRIBE_PAGE = 50
ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")
NOT_SUPPORTED = {
    "Metrics": "metric math alarms (Metrics) are not supported by modelyard yet; alarm on one metric",
    "ThresholdMetricId": "anomaly detection alarms (ThresholdMetricId) are not supported by modelyard yet",
    "Tags": "tags on alarms are not supported by modelyard yet",
    "EvaluationWindow": "EvaluationWindow is not supported by modelyard yet",
    "WarmUpConfiguration": "WarmUpConfiguration is not supported by modelyard yet",
    "EvaluationCriteria": "EvaluationCriteria (PromQL alarms) is not supported by modelyard yet",
    "EvaluationInterval": "EvaluationInterval is not supported by modelyard yet",
    "ActionConfiguration": "ActionConfiguration is not supported by modelyard yet",
}
STORED = ("AlarmDescription", "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period", "Unit",
          "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
          "EvaluateLowSampleCountPercentile")


@operation("cloudwatch", "PutMetricAlarm")
def put_metric_alarm(ctx: RequestContext, request: Request) -> Result:
    """Create or replace a metric alarm; a new or replaced alarm starts in INSUFFICIENT_DATA."""
    document = alarm_document(ctx, request)
    with ctx.db.session(write=True) as conn:
        store_alarm(ctx, conn, document)
    return {}


def alarm_document(ctx: RequestContext, request: Request) -> Result:
    """The checked PutMetricAlarm request as DescribeAlarms shows the alarm (state INSUFFICIENT_DATA)."""
    _check_alarm(ctx, request)
    document: Result = {name: request[name] for name in STORED if request.get(name) is not None}
    document.update({name: list(request.get(name) or []) for name in ACTIONS})
    document.update({
        "AlarmName": request["AlarmName"], "AlarmArn": alarm_arn(ctx.region, ctx.account, request["AlarmName"]),
        "ActionsEnabled": request.get("ActionsEnabled", True),
        "Dimensions": wire_dimensions(dimensions_of(request.get("Dimensions"))),
        "DatapointsToAlarm": request.get("DatapointsToAlarm") or request["EvaluationPeriods"],
        "TreatMissingData": request.get("TreatMissingData") or "missing",
        "AlarmConfigurationUpdatedTimestamp": ctx.now, "StateValue": INSUFFICIENT_DATA,
        "StateReason": "Unchecked: Initial alarm creation", "StateUpdatedTimestamp": ctx.now,
        "StateTransitionedTimestamp": ctx.now})
    return document


def store_alarm(ctx: RequestContext, conn: Connection, document: Result) -> None:
    """Create or replace the alarm ``document`` describes, within the account's alarm limit."""
    if stored.get_alarm(conn, ctx.account, ctx.region, document["AlarmName"]) is None and (
            stored.count_alarms(conn, ctx.account, ctx.region) >= MAX_ALARMS):
        raise CloudWatchLimitExceeded(f"The maximum number of alarms ({MAX_ALARMS}) has been reached.")
    stored.put_alarm(conn, ctx.account, ctx.region, document, ctx.now)


def _check_actions(ctx: RequestContext, request: Request) -> None:
    for name in ACTIONS:
        for action in request.get(name) or []:
            policy = SCALING_POLICY_ARN.fullmatch(action)
            if policy is None:
                raise CloudWatchValidationError(
                    f"{name}: {action} is not supported by modelyard yet: alarm actions may name Application Auto "
                    "Scaling policies (arn:aws:autoscaling:...:scalingPolicy:...); modelyard publishes to no SNS "
                    "topic and runs no EC2 action.")
            if (policy["region"], policy["account"]) != (ctx.region, ctx.account):
                raise CloudWatchValidationError(
                    f"{name}: the scaling policy {action} is not of this account and region "
                    f"({ctx.account}, {ctx.region}).")


def _check_alarm(ctx: RequestContext, request: Request) -> None:
    for name, message in NOT_SUPPORTED.items():
        if request.get(name):
            raise CloudWatchValidationError(message)
    _check_actions(ctx, request)
    for name in ("MetricName", "Namespace", "Period", "EvaluationPeriods", "ComparisonOperator", "Threshold"):
        if request.get(name) is None:
            raise CloudWatchValidationError(f"The parameter {name} is required for a metric alarm.")
    statistic, extended = request.get("Statistic"), request.get("ExtendedStatistic")
    if bool(statistic) == bool(extended):
        raise InvalidParameterCombination("Exactly one of Statistic or ExtendedStatistic must be specified.")
    if extended:
        try:
            parse_statistic(extended, extended=True)
        except UnknownStatistic as exc:
            raise InvalidParameterValue(f"ExtendedStatistic: {exc}") from None
    check_period(request["Period"])
    periods = request["EvaluationPeriods"]
    if request["Period"] * periods > MAX_WINDOW_SECONDS:
        raise CloudWatchValidationError(
            "Metrics cannot be checked across more than a week: Period x EvaluationPeriods must be at most "
            f"{MAX_WINDOW_SECONDS} seconds; got {request['Period'] * periods}.")
    to_alarm = request.get("DatapointsToAlarm")
    if to_alarm is not None and not 1 <= to_alarm <= periods:
        raise CloudWatchValidationError(
            f"DatapointsToAlarm ({to_alarm}) must be between 1 and EvaluationPeriods ({periods}).")
    if request["ComparisonOperator"] not in OPERATORS:
        raise CloudWatchValidationError(
            f"ComparisonOperator {request['ComparisonOperator']} is not supported by modelyard yet (anomaly detection "
            f"bands); use one of {', '.join(OPERATORS)}.")
    if not math.isfinite(request["Threshold"]):
        raise CloudWatchValidationError("The parameter Threshold must be a finite number.")
    missing = request.get("TreatMissingData")
    if missing is not None and missing not in MISSING_DATA:
        raise CloudWatchValidationError(
            f"The value {missing} for parameter TreatMissingData is invalid: use one of {', '.join(MISSING_DATA)}.")
    low_samples = request.get("EvaluateLowSampleCountPercentile")
    if low_samples is not None:
        if not extended:
            raise CloudWatchValidationError("EvaluateLowSampleCountPercentile applies to percentile alarms only.")
        if low_samples != "evaluate":
            raise CloudWatchValidationError(
                f"EvaluateLowSampleCountPercentile={low_samples} is not supported by modelyard yet: percentiles are "
                "always evaluated (the value 'evaluate').")


def _described(document: Result) -> Result:
    return {key: value for key, value in document.items() if value is not None}


@operation("cloudwatch", "DescribeAlarms")
def describe_alarms(ctx: RequestContext, request: Request) -> Result:
    """Metric alarms by names or name prefix, state and action prefix (an action of any state starting
    with it), by name, MaxRecords a page."""
    names, prefix = request.get("AlarmNames"), request.get("AlarmNamePrefix")
    if names and prefix:
        raise InvalidParameterCombination("AlarmNames and AlarmNamePrefix cannot be specified together.")
    types = request.get("AlarmTypes") or ["MetricAlarm"]
    if request.get("ChildrenOfAlarmName") or request.get("ParentsOfAlarmName") or "MetricAlarm" not in types:
        return {"MetricAlarms": [], "CompositeAlarms": []}
    limit = request.get("MaxRecords") or DESCRIBE_PAGE
    after = _position(request.get("NextToken"))
    action_prefix = request.get("ActionPrefix")
    with ctx.db.session() as conn:
        rows = stored.list_alarms(conn, ctx.account, ctx.region, names=names or None, prefix=prefix,
                                  state=request.get("StateValue"), after=after,
                                  limit=None if action_prefix else limit + 1)
    if action_prefix:
        rows = [row for row in rows if any(action.startswith(action_prefix)
                                           for name in ACTIONS for action in row.document.get(name, []))]
    result: Result = {"MetricAlarms": [_described(row.document) for row in rows[:limit]], "CompositeAlarms": []}
    if len(rows) > limit:
        result["NextToken"] = encode_token("cloudwatch-DescribeAlarms", rows[limit - 1].name)
    return result


def _position(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return expect_str(decode_token("cloudwatch-DescribeAlarms", token))
    except InvalidPageToken:
        raise InvalidNextToken("The specified NextToken is invalid.") from None


@operation("cloudwatch", "DescribeAlarmsForMetric")
def describe_alarms_for_metric(ctx: RequestContext, request: Request) -> Result:
    """The alarms on one metric (namespace, name, and the given statistic, period, unit and dimensions)."""
    dimensions = wire_dimensions(dimensions_of(request.get("Dimensions")))
    with ctx.db.session() as conn:
        rows = stored.list_alarms(conn, ctx.account, ctx.region)
    wanted = {key: request[key] for key in ("Statistic", "ExtendedStatistic", "Period", "Unit") if key in request}
    metric = (request["Namespace"], request["MetricName"])
    found = [row.document for row in rows
             if (row.document["Namespace"], row.document["MetricName"]) == metric
             and ("Dimensions" not in request or row.document["Dimensions"] == dimensions)
             and all(row.document.get(key) == value for key, value in wanted.items())]
    return {"MetricAlarms": [_described(document) for document in found]}


@operation("cloudwatch", "SetAlarmState")
def set_alarm_state(ctx: RequestContext, request: Request) -> Result:
    """Set an alarm's state until the next evaluation (for testing actions and rollbacks)."""
    reason_data = request.get("StateReasonData")
    if reason_data is not None:
        try:
            json.loads(reason_data)
        except ValueError:
            raise InvalidFormat("StateReasonData must be a JSON document.") from None
    with ctx.db.session(write=True) as conn:
        alarm = stored.get_alarm(conn, ctx.account, ctx.region, request["AlarmName"])
        if alarm is None:
            raise CloudWatchResourceNotFound(f"Alarm {request['AlarmName']} does not exist.")
        document = {**alarm.document, "StateValue": request["StateValue"], "StateReason": request["StateReason"],
                    "StateUpdatedTimestamp": ctx.now}
        if request["StateValue"] != alarm.state:
            document["StateTransitionedTimestamp"] = ctx.now
        document.pop("StateReasonData", None)
        if reason_data is not None:
            document["StateReasonData"] = reason_data
        stored.update_alarm(conn, ctx.account, ctx.region, document, ctx.now)
    return {}


@operation("cloudwatch", "DeleteAlarms")
def delete_alarms(ctx: RequestContext, request: Request) -> Result:
    """Delete the named alarms; names that do not exist are passed over, as CloudWatch does."""
    names = request["AlarmNames"]
    if len(names) > 100:
        raise CloudWatchValidationError("At most 100 alarms can be deleted in one call.")
    with ctx.db.session(write=True) as conn:
        stored.delete_alarms(conn, ctx.account, ctx.region, names)
    return {}
