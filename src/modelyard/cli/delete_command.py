"""``modelyard delete``: remove an endpoint together with its endpoint config and models."""

from __future__ import annotations

import time
from typing import Any

import click

from modelyard.cli.connection import CliError, Connection, connection_options, not_found
from modelyard.cli.output import err, json_option, print_json


def _describe(call: Any, **params: Any) -> dict[str, Any] | None:
    try:
        return dict(call(**params))
    except Exception as exc:
        if not_found(exc):
            return None
        raise


def wait_gone(sm: Any, name: str, timeout: float = 120.0) -> None:
    """Wait until DescribeEndpoint says the endpoint no longer exists."""
    deadline = time.monotonic() + timeout
    while _describe(sm.describe_endpoint, EndpointName=name) is not None:
        if time.monotonic() > deadline:
            raise CliError(f"endpoint {name} is still being deleted after {timeout:g}s")
        time.sleep(0.2)


@click.command()
@click.argument("name")
@click.option("--keep-model", is_flag=True, help="Delete the endpoint and its config but keep the models.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the endpoint's instances are stopped and it is gone.")
@json_option
@connection_options
def delete(name: str, keep_model: bool, wait: bool, as_json: bool, conn: Connection) -> None:
    """Delete endpoint NAME, its endpoint config and the models it serves.

    Works on leftovers too: a model or endpoint config named NAME without an endpoint is deleted.
    Registered model packages are never deleted.
    """
    sm = conn.sagemaker
    deleted: list[dict[str, str]] = []
    endpoint = _describe(sm.describe_endpoint, EndpointName=name)
    config_name = endpoint["EndpointConfigName"] if endpoint else name
    config = _describe(sm.describe_endpoint_config, EndpointConfigName=config_name)
    model_names = [v["ModelName"] for v in (config or {}).get("ProductionVariants", [])] if config else []
    if not endpoint and not config and _describe(sm.describe_model, ModelName=name) is not None:
        model_names = [name]
    if endpoint:
        sm.delete_endpoint(EndpointName=name)
        deleted.append({"kind": "endpoint", "name": name})
        if wait:
            wait_gone(sm, name)
    if config:
        sm.delete_endpoint_config(EndpointConfigName=config_name)
        deleted.append({"kind": "endpoint config", "name": config_name})
    if not keep_model:
        for model in dict.fromkeys(model_names):
            if _delete_model(sm, model):
                deleted.append({"kind": "model", "name": model})
    if not deleted:
        raise CliError(f"nothing named {name!r} to delete (no endpoint, endpoint config or model)")
    if as_json:
        print_json({"Deleted": deleted})
        return
    for item in deleted:
        err.print(f"[green]✓[/green] deleted {item['kind']} [bold]{item['name']}[/bold]")


def _delete_model(sm: Any, name: str) -> bool:
    try:
        sm.delete_model(ModelName=name)
    except Exception as exc:
        if not_found(exc):
            return False
        raise
    return True
