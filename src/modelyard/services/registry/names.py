"""Kinds, ARNs and lookups shared by the registry modules.

Stored layout: a group is kind ``model-package-group`` named by its group name. A versioned package
is kind ``model-package`` named ``<group>/<version>`` with ``parent`` = group and ``version`` = N; an
unversioned package is named by its own name with no parent. ``status`` holds ModelApprovalStatus,
``subtype`` the ModelPackageRegistrationType-independent Versioned/Unversioned type.
"""

from __future__ import annotations

from sqlalchemy import Connection

from modelyard.arns import parse_arn
from modelyard.context import RequestContext
from modelyard.services.common import arn_for
from modelyard.store.resources import Record, get_record, get_record_by_arn
from modelyard.wire.errors import ValidationException

GROUP = "model-package-group"
PACKAGE = "model-package"
VERSIONED = "Versioned"
UNVERSIONED = "Unversioned"


def group_arn(ctx: RequestContext, name: str) -> str:
    """ARN of a model package group."""
    return arn_for(ctx, GROUP, name)


def package_arn(ctx: RequestContext, name: str) -> str:
    """ARN of a model package (``name`` is ``<group>/<version>`` for versions)."""
    return arn_for(ctx, PACKAGE, name)


def group_name_of(value: str) -> str:
    """A group name from a name or a group ARN."""
    arn = parse_arn(value)
    if arn is None:
        return value
    if arn.resource_type != GROUP:
        raise ValidationException(f"'{value}' is not a model package group ARN")
    return arn.resource_id


def find_group(conn: Connection, ctx: RequestContext, name_or_arn: str) -> Record:
    """A group by name or ARN, or SageMaker's not-found error."""
    name = group_name_of(name_or_arn)
    record = get_record(conn, ctx.account, ctx.region, GROUP, name)
    if record is None:
        raise ValidationException(f'Could not find model package group "{name}".')
    return record


def find_package(conn: Connection, ctx: RequestContext, name_or_arn: str) -> Record:
    """A package by ARN, unversioned name, or ``<group>/<version>``; else SageMaker's not-found error."""
    if name_or_arn.startswith("arn:"):
        record = get_record_by_arn(conn, name_or_arn, PACKAGE)
        if record is not None and (record.account, record.region) != (ctx.account, ctx.region):
            record = None
    else:
        record = get_record(conn, ctx.account, ctx.region, PACKAGE, name_or_arn)
    if record is None:
        raise ValidationException(f'Could not find model package "{name_or_arn}".')
    return record
