"""Listings: ``modelyard endpoints``, ``models``, ``packages`` and ``jobs``."""

from __future__ import annotations

from typing import Any

import click

from modelyard.cli.connection import Connection, connection_options, error_code, pages
from modelyard.cli.loaded_models import MODEL_COLUMNS, instance_snapshots, model_rows
from modelyard.cli.output import err, json_option, print_json, print_table, status_style

JOB_LISTS = (
    ("training", "list_training_jobs", "TrainingJobSummaries", "TrainingJobName", "TrainingJobStatus"),
    ("processing", "list_processing_jobs", "ProcessingJobSummaries", "ProcessingJobName", "ProcessingJobStatus"),
    ("transform", "list_transform_jobs", "TransformJobSummaries", "TransformJobName", "TransformJobStatus"),
)
NEWEST_FIRST = {"SortBy": "CreationTime", "SortOrder": "Descending"}


@click.command()
@click.option("--models", "show_models", is_flag=True,
              help="Show the models each multi-model instance holds, with load, unload and hit counts.")
@json_option
@connection_options
def endpoints(show_models: bool, as_json: bool, conn: Connection) -> None:
    """List endpoints with their status (``--models``: the models loaded on multi-model endpoints)."""
    items = list(pages(conn.sagemaker.list_endpoints, "Endpoints", **NEWEST_FIRST))
    if show_models:
        snapshots = [s for e in items for s in instance_snapshots(conn, e["EndpointName"])]
        if as_json:
            print_json(snapshots)
            return
        print_table("Multi-model instances", MODEL_COLUMNS, model_rows(snapshots),
                    "no multi-model endpoint has loaded a model yet")
        return
    if as_json:
        print_json(items)
        return
    print_table("Endpoints", ["name", "status", "created", "modified"],
                [(e["EndpointName"], status_style(e["EndpointStatus"]), e.get("CreationTime"),
                  e.get("LastModifiedTime")) for e in items], "no endpoints yet: try `modelyard deploy`")


@click.command()
@json_option
@connection_options
def models(as_json: bool, conn: Connection) -> None:
    """List models."""
    items = list(pages(conn.sagemaker.list_models, "Models", **NEWEST_FIRST))
    if as_json:
        print_json(items)
        return
    print_table("Models", ["name", "created", "arn"],
                [(m["ModelName"], m.get("CreationTime"), m.get("ModelArn")) for m in items], "no models yet")


@click.command()
@click.option("--group", default=None, help="Only this model package group.")
@click.option("--status", "approval", default=None,
              type=click.Choice(["Approved", "Rejected", "PendingManualApproval"]),
              help="Only packages with this approval status.")
@json_option
@connection_options
def packages(group: str | None, approval: str | None, as_json: bool, conn: Connection) -> None:
    """List model packages (registry versions), newest first."""
    params: dict[str, Any] = {**NEWEST_FIRST, "ModelPackageType": "Both"}
    if group:
        params["ModelPackageGroupName"] = group
    if approval:
        params["ModelApprovalStatus"] = approval
    items = list(pages(conn.sagemaker.list_model_packages, "ModelPackageSummaryList", **params))
    if as_json:
        print_json(items)
        return
    print_table("Model packages", ["package", "approval", "status", "created", "description"],
                [(_reference(p), status_style(p.get("ModelApprovalStatus")), p.get("ModelPackageStatus"),
                  p.get("CreationTime"), p.get("ModelPackageDescription")) for p in items],
                "no model packages" + (f" in group {group}" if group else ""))


@click.command()
@click.option("--kind", type=click.Choice([kind for kind, *_ in JOB_LISTS]), default=None,
              help="Only this kind of job.")
@json_option
@connection_options
def jobs(kind: str | None, as_json: bool, conn: Connection) -> None:
    """List training, processing and batch transform jobs, newest first."""
    rows: list[dict[str, Any]] = []
    for job_kind, method, key, name_key, status_key in JOB_LISTS:
        if kind and kind != job_kind:
            continue
        try:
            found = list(pages(getattr(conn.sagemaker, method), key, **NEWEST_FIRST))
        except Exception as exc:
            if error_code(exc) in ("NotImplemented", "UnknownOperationException"):
                err.print(f"[dim]{job_kind} jobs: not supported by this server[/dim]")
                continue
            raise
        rows.extend({"Kind": job_kind, "Name": j[name_key], "Status": j.get(status_key),
                     "CreationTime": j.get("CreationTime"), "EndTime": j.get(_end_key(job_kind))} for j in found)
    rows.sort(key=lambda r: r["CreationTime"].timestamp() if r["CreationTime"] else 0.0, reverse=True)
    if as_json:
        print_json(rows)
        return
    print_table("Jobs", ["kind", "name", "status", "created", "ended"],
                [(r["Kind"], r["Name"], status_style(r["Status"]), r["CreationTime"], r["EndTime"]) for r in rows],
                "no jobs yet")


def _reference(package: dict[str, Any]) -> str:
    """GROUP/VERSION for a versioned package (what approve/reject accept), else its name."""
    if package.get("ModelPackageGroupName") and package.get("ModelPackageVersion"):
        return f"{package['ModelPackageGroupName']}/{package['ModelPackageVersion']}"
    return str(package.get("ModelPackageName") or package["ModelPackageArn"])


def _end_key(kind: str) -> str:
    return {"training": "TrainingEndTime", "processing": "ProcessingEndTime", "transform": "TransformEndTime"}[kind]
