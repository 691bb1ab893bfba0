"""``modelyard deploy``: a model directory to a live endpoint in one command.

    pack ./model_dir ─► model.tar.gz in the artifact store
    [--register G]   ─► CreateModelPackageGroup (if new) ─► CreateModelPackage ─► approve
    CreateModel ─► CreateEndpointConfig ─► CreateEndpoint ─► watch status + logs ─► snippet
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from modelyard.cli.artifacts import ArtifactError, inspect_model_dir, pack_and_upload, upload_destination
from modelyard.cli.connection import CliError, Connection, connection_options, default_data_dir, not_found
from modelyard.cli.output import err, print_json
from modelyard.cli.progress import Outcome, watch_endpoint
from modelyard.cli.snippets import find_sample, usage_snippet

DEFAULT_IMAGE = "modelyard/python:3.11"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
DEFAULT_ROLE = "arn:aws:iam::000000000000:role/modelyard"


@click.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Name of the endpoint (also of its model and endpoint config).")
@click.option("--image", default=DEFAULT_IMAGE, show_default=True,
              help="Container image: a SageMaker framework image (e.g. sagemaker-scikit-learn:1.4-2), "
                   "a plain python image, or one registered with `modelyard images register`.")
@click.option("--instances", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Number of instances (processes) serving the endpoint.")
@click.option("--instance-type", default=DEFAULT_INSTANCE_TYPE, show_default=True,
              help="Recorded as SageMaker's InstanceType; modelyard runs local processes.")
@click.option("--register", "group", default=None, metavar="GROUP",
              help="Register the model as a new version in this model package group, approve it, "
                   "and deploy from the package.")
@click.option("--artifacts", default=None, metavar="DIR|s3://…",
              help="Where to store model.tar.gz: a directory, file:// URI or s3:// prefix "
                   "[default: <data dir>-uploads, beside the data dir].")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="The server's data dir, for the default artifact location "
                   "[default: $MODELYARD_DATA_DIR or ~/.modelyard].")
@click.option("--env", "environment", multiple=True, metavar="KEY=VALUE",
              help="Container environment variable (repeatable).")
@click.option("--content-type", default="application/json", show_default=True,
              help="Content type the model accepts (used in the registered package and the snippet).")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Watch the deployment until the endpoint is InService or Failed.")
@click.option("--timeout", type=float, default=900.0, show_default=True,
              help="Seconds to wait for InService.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout (progress stays on stderr).")
@connection_options
def deploy(model_dir: Path, name: str, image: str, instances: int, instance_type: str, group: str | None,
           artifacts: str | None, data_dir: Path | None, environment: tuple[str, ...], content_type: str,
           wait: bool, timeout: float, as_json: bool, conn: Connection) -> None:
    """Deploy MODEL_DIR as endpoint NAME and wait until it serves.

    MODEL_DIR holds the model files and code/inference.py (SageMaker's model.tar.gz layout;
    code/requirements.txt is installed into the model's environment). It is packed into
    model.tar.gz, stored in the artifact store, and deployed as model, endpoint config and
    endpoint named NAME. Progress (environment build, instance start, health check) is shown
    live; on failure the reason and the last log lines are printed and the exit code is 1.
    """
    source = _inspect(model_dir)
    env = {**source.environment, **_parse_env(environment)}
    sm = conn.sagemaker
    _refuse_existing(sm, name)
    try:
        uri = upload_destination(name, artifacts, (data_dir or default_data_dir()).expanduser())
        size = pack_and_upload(source, uri)
    except ArtifactError as exc:
        raise CliError(str(exc)) from None
    err.print(f"[green]✓[/green] packed {source.directory} → {uri} ({size / 1024:.1f} KiB)")
    container: dict[str, Any] = {"Image": image, "ModelDataUrl": uri, "Environment": env}
    package_arn = None
    if group:
        package_arn = _register(sm, group, container, content_type)
        container = {"ModelPackageName": package_arn}
    sm.create_model(ModelName=name, ExecutionRoleArn=DEFAULT_ROLE,
                    **({"Containers": [container]} if package_arn else {"PrimaryContainer": container}))
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": instances,
        "InstanceType": instance_type}])
    endpoint_arn = sm.create_endpoint(EndpointName=name, EndpointConfigName=name)["EndpointArn"]
    err.print(f"[green]✓[/green] created model, endpoint config and endpoint [bold]{name}[/bold] ({image})")
    summary: dict[str, Any] = {"EndpointName": name, "EndpointArn": endpoint_arn, "ModelName": name,
                               "EndpointConfigName": name, "ModelDataUrl": uri, "Image": image,
                               "ModelPackageArn": package_arn, "EndpointStatus": "Creating"}
    if not wait:
        _finish(summary, as_json)
        return
    outcome = watch_endpoint(conn, name, timeout)
    summary["EndpointStatus"] = outcome.status
    if outcome.status != "InService":
        _report_failure(name, outcome, timeout)
        summary["FailureReason"] = outcome.failure_reason
        if as_json:
            print_json(summary)
        sys.exit(1)
    err.print(f"[green]✓[/green] endpoint [bold]{name}[/bold] is [green]InService[/green]")
    if as_json:
        print_json(summary)
    else:
        click.echo(usage_snippet(name, conn.endpoint_url, conn.region_name, content_type,
                                 find_sample(source.directory)))


def _inspect(model_dir: Path):  # type: ignore[no-untyped-def]
    try:
        source = inspect_model_dir(model_dir)
    except ArtifactError as exc:
        raise CliError(str(exc)) from None
    if source.program is None:
        err.print(f"[yellow]note:[/yellow] {source.directory} has no code/inference.py; the image's default "
                  "handlers will serve the model")
    return source


def _parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        env[key] = value
    return env


def _refuse_existing(sm: Any, name: str) -> None:
    checks: list[tuple[str, Callable[[], object]]] = [
        ("endpoint", lambda: sm.describe_endpoint(EndpointName=name)),
        ("endpoint config", lambda: sm.describe_endpoint_config(EndpointConfigName=name)),
        ("model", lambda: sm.describe_model(ModelName=name))]
    for kind, call in checks:
        try:
            call()
        except Exception as exc:
            if not_found(exc):
                continue
            raise
        article = "an" if kind[0] in "ae" else "a"
        raise CliError(f"{article} {kind} named {name!r} already exists; remove it with `modelyard delete {name}` "
                       "or choose another --name")


def _register(sm: Any, group: str, container: dict[str, Any], content_type: str) -> str:
    try:
        sm.create_model_package_group(ModelPackageGroupName=group,
                                      ModelPackageGroupDescription="created by modelyard deploy")
    except Exception as exc:
        if "already exists" not in str(exc).lower():
            raise
    arn = str(sm.create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={"Containers": [container], "SupportedContentTypes": [content_type],
                                "SupportedResponseMIMETypes": [content_type]})["ModelPackageArn"])
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved",
                            ApprovalDescription="approved by modelyard deploy")
    err.print(f"[green]✓[/green] registered and approved {arn}")
    return arn


def _report_failure(name: str, outcome: Outcome, timeout: float) -> None:
    if outcome.status == "Timeout":
        err.print(f"[red]✗[/red] endpoint [bold]{name}[/bold] is still "
                  f"{outcome.description.get('EndpointStatus')} after {timeout:g}s")
    else:
        err.print(f"[red]✗[/red] endpoint [bold]{name}[/bold] is [red]{outcome.status}[/red]: "
                  f"{outcome.failure_reason or 'no reason given'}", highlight=False)
    if outcome.lines:
        err.print("last log lines:")
        for line in outcome.lines[-8:]:
            err.out(f"  | {line}", highlight=False)
    err.print(f"see all of them with `modelyard logs {name}`; clean up with `modelyard delete {name}`")


def _finish(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(summary)
    else:
        err.print(f"follow it with `modelyard logs {summary['EndpointName']} --follow`")
