"""``modelyard approve`` and ``modelyard reject``: set a model package's approval status."""

from __future__ import annotations

from typing import Any

import click

from modelyard.cli.connection import CliError, Connection, connection_options
from modelyard.cli.output import err, json_option, print_json


def package_arn(sm: Any, reference: str) -> str:
    """The ARN of a package given as its ARN or as ``GROUP/VERSION``."""
    if reference.startswith("arn:"):
        return reference
    group, sep, version = reference.rpartition("/")
    if not sep or not group or not version.isdigit():
        raise CliError(f"{reference!r} is neither a model package ARN nor GROUP/VERSION (e.g. churn/3)")
    group_arn = sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
    return f"{group_arn.replace(':model-package-group/', ':model-package/', 1)}/{version}"


def _set_status(conn: Connection, reference: str, status: str, description: str | None, as_json: bool) -> None:
    sm = conn.sagemaker
    arn = package_arn(sm, reference)
    params = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
    if description:
        params["ApprovalDescription"] = description
    sm.update_model_package(**params)
    if as_json:
        print_json({"ModelPackageArn": arn, "ModelApprovalStatus": status})
    else:
        colour = "green" if status == "Approved" else "red"
        err.print(f"[{colour}]{status}[/{colour}] {arn}", highlight=False)


@click.command()
@click.argument("package")
@click.option("--description", default=None, help="Why (stored as ApprovalDescription).")
@json_option
@connection_options
def approve(package: str, description: str | None, as_json: bool, conn: Connection) -> None:
    """Approve model package PACKAGE (an ARN, or GROUP/VERSION)."""
    _set_status(conn, package, "Approved", description, as_json)


@click.command()
@click.argument("package")
@click.option("--description", default=None, help="Why (stored as ApprovalDescription).")
@json_option
@connection_options
def reject(package: str, description: str | None, as_json: bool, conn: Connection) -> None:
    """Reject model package PACKAGE (an ARN, or GROUP/VERSION)."""
    _set_status(conn, package, "Rejected", description, as_json)
