"""``modelyard watch ENDPOINT``: a live view of an endpoint.

Every ``--interval`` seconds it reads DescribeEndpoint, one GetMetricData call (per variant, one-minute
periods over the last ``--minutes``: Invocations, 4XX/5XX/model errors, ModelLatency p50 and p99) and
the variants' latest Application Auto Scaling activities, and redraws::

    endpoint churn  InService  config churn-v2            (a deployment: its new config and steps)
    variant   instances  weight  calls/min  errors/min  p50 ms  p99 ms  calls over 15 min
    AllTraffic    2/2     1.0       812          0       0.41    1.9    ▁▂▂▃▅▆▇█▇▆
    scaling: AllTraffic  Successful  Setting desired instance count to 2.

``--once`` draws one frame and exits; ``--json`` prints the same snapshot as JSON once.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import click
from botocore.exceptions import ClientError
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from modelyard.cli.connection import CliError, Connection, connection_options, error_code
from modelyard.cli.output import cell, json_option, out, print_json, status_style

NAMESPACE = "AWS/SageMaker"
COUNTS = {"calls": "Invocations", "errors_4xx": "Invocation4XXErrors", "errors_5xx": "Invocation5XXErrors",
          "model_errors": "InvocationModelErrors"}
LATENCIES = {"p50_ms": "p50", "p99_ms": "p99"}
BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """One block character per value, scaled to the largest (blank-ish when all are zero)."""
    top = max(values, default=0.0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[min(len(BARS) - 1, int(value / top * (len(BARS) - 1) + 0.5))] for value in values)


def _queries(variants: list[str]) -> list[dict[str, Any]]:
    queries = []
    for index, variant in enumerate(variants):
        dimensions = [{"Name": "EndpointName", "Value": ""}, {"Name": "VariantName", "Value": variant}]
        for key, metric in COUNTS.items():
            queries.append({"Id": f"v{index}_{key}", "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                "Period": 60, "Stat": "Sum"}})
        for key, stat in LATENCIES.items():
            queries.append({"Id": f"v{index}_{key}", "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": "ModelLatency", "Dimensions": dimensions},
                "Period": 60, "Stat": stat}})
    return queries


def _metrics(conn: Connection, name: str, variants: list[str], minutes: int,
             now: dt.datetime) -> dict[str, dict[str, list[float]]]:
    """Per variant and figure, one value per minute over the last ``minutes`` (oldest first, 0 when none)."""
    end = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    start = end - dt.timedelta(minutes=minutes)
    queries = _queries(variants)
    for query in queries:
        query["MetricStat"]["Metric"]["Dimensions"][0]["Value"] = name
    found: dict[str, dict[float, float]] = {}
    token = None
    while True:
        page = conn.client("cloudwatch").get_metric_data(
            MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending",
            **({"NextToken": token} if token else {}))
        for result in page["MetricDataResults"]:
            series = found.setdefault(result["Id"], {})
            series.update({stamp.timestamp(): value for stamp, value in zip(result["Timestamps"], result["Values"],
                                                                         strict=True)})
        token = page.get("NextToken")
        if not token:
            break
    slots = [(start + dt.timedelta(minutes=k)).timestamp() for k in range(minutes)]
    figures: dict[str, dict[str, list[float]]] = {}
    for index, variant in enumerate(variants):
        figures[variant] = {key: [found.get(f"v{index}_{key}", {}).get(slot, 0.0) for slot in slots]
                            for key in (*COUNTS, *LATENCIES)}
    return figures


def _activities(conn: Connection, name: str, variants: list[str]) -> list[dict[str, Any]]:
    """The latest scaling activity of each variant that has one (none when autoscaling can't be read)."""
    latest: list[dict[str, Any]] = []
    for variant in variants:
        try:
            found = conn.client("application-autoscaling").describe_scaling_activities(
                ServiceNamespace="sagemaker", ResourceId=f"endpoint/{name}/variant/{variant}",
                ScalableDimension="sagemaker:variant:DesiredInstanceCount", MaxResults=1)["ScalingActivities"]
        except ClientError:  # a key without application-autoscaling:Describe*, or an older server
            return latest
        if found:
            activity = found[0]
            latest.append({"variant": variant, "status": activity.get("StatusCode"),
                           "description": activity.get("Description"), "start": activity.get("StartTime")})
    return latest


def snapshot(conn: Connection, name: str, minutes: int = 15) -> dict[str, Any]:
    """What the view shows, as plain data: status, variants with their figures, deployment, scaling."""
    try:
        described = conn.sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if error_code(exc) in ("ValidationException", "ValidationError"):
            raise CliError(f"no endpoint named '{name}' (modelyard endpoints lists them)") from None
        raise
    summaries = described.get("ProductionVariants") or []
    shadows = described.get("ShadowProductionVariants") or []
    pending = described.get("PendingDeploymentSummary")
    names = [v["VariantName"] for v in (*summaries, *shadows)]
    for variant in (pending or {}).get("ProductionVariants") or []:
        if variant["VariantName"] not in names:
            names.append(variant["VariantName"])
    figures = _metrics(conn, name, names, minutes, dt.datetime.now(dt.timezone.utc)) if names else {}
    variants = []
    for summary in (*summaries, *shadows):
        series = figures.get(summary["VariantName"], {})
        variants.append({
            "name": summary["VariantName"], "shadow": summary in shadows,
            "current_instances": summary.get("CurrentInstanceCount"),
            "desired_instances": summary.get("DesiredInstanceCount"),
            "weight": summary.get("CurrentWeight"), "per_minute": series})
    return {"endpoint": name, "status": described.get("EndpointStatus"),
            "config": described.get("EndpointConfigName"), "failure_reason": described.get("FailureReason"),
            "minutes": minutes, "variants": variants, "deployment": _deployment(pending),
            "scaling": _activities(conn, name, [v["name"] for v in variants])}


def _deployment(pending: dict[str, Any] | None) -> dict[str, Any] | None:
    if not pending:
        return None
    steps = []
    for variant in pending.get("ProductionVariants") or []:
        for step in variant.get("VariantStatus") or []:
            steps.append({"variant": variant["VariantName"], "status": step.get("Status"),
                          "message": step.get("StatusMessage"),
                          "instances": f"{variant.get('CurrentInstanceCount', '-')}/"
                                       f"{variant.get('DesiredInstanceCount', '-')}"})
    return {"config": pending.get("EndpointConfigName"), "started": pending.get("StartTime"), "steps": steps}


def _last(values: list[float]) -> float:
    """The last complete minute's value (the current minute is still filling), else the current one."""
    return values[-2] if len(values) > 1 else (values[-1] if values else 0.0)


def render(view: dict[str, Any]) -> Group:
    """The frame for one snapshot."""
    head = Text.from_markup(f"endpoint [bold]{view['endpoint']}[/bold]  {status_style(view['status'])}  "
                            f"config {view['config']}")
    parts: list[Any] = [head]
    if view.get("failure_reason"):
        parts.append(Text(f"failure: {view['failure_reason']}", style="red"))
    table = Table(header_style="bold", box=None)
    for column in ("variant", "instances", "weight", "calls/min", "errors/min", "p50 ms", "p99 ms",
                   f"calls over {view['minutes']} min"):
        table.add_column(column)
    for variant in view["variants"]:
        series = variant["per_minute"]
        errors = sum(_last(series.get(key, [])) for key in ("errors_4xx", "errors_5xx"))
        name = f"{variant['name']} (shadow)" if variant["shadow"] else variant["name"]
        table.add_row(name, f"{cell(variant['current_instances'])}/{cell(variant['desired_instances'])}",
                      cell(variant["weight"]), f"{_last(series.get('calls', [])):.0f}", f"{errors:.0f}",
                      f"{_last(series.get('p50_ms', [])) / 1000:.2f}", f"{_last(series.get('p99_ms', [])) / 1000:.2f}",
                      sparkline(series.get("calls", [])))
    parts.append(table)
    deployment = view.get("deployment")
    if deployment:
        parts.append(Text(f"deployment to {deployment['config']} since {cell(deployment['started'])}",
                          style="yellow"))
        for step in deployment["steps"]:
            parts.append(Text(f"  {step['variant']} {step['instances']}  {step['status']}: {step['message'] or ''}"))
    for activity in view.get("scaling") or []:
        parts.append(Text(f"scaling: {activity['variant']}  {activity['status']}  {activity['description']}"))
    return Group(*parts)


@click.command()
@click.argument("name")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.5),
              help="Seconds between redraws.")
@click.option("--minutes", default=15, show_default=True, type=click.IntRange(2, 180),
              help="How many minutes of metrics the view covers.")
@click.option("--once", is_flag=True, help="Draw one frame and exit.")
@json_option
@connection_options
def watch(name: str, interval: float, minutes: int, once: bool, as_json: bool, conn: Connection) -> None:
    """Watch an endpoint live: status, instances, calls, errors and latency per variant, a deployment's
    steps and scaling activities (Ctrl-C stops)."""
    if as_json:
        print_json(snapshot(conn, name, minutes))
        return
    if once:
        out.print(render(snapshot(conn, name, minutes)))
        return
    with Live(render(snapshot(conn, name, minutes)), console=out, auto_refresh=False) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(render(snapshot(conn, name, minutes)), refresh=True)
        except KeyboardInterrupt:
            return
