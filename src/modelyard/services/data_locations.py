"""Create-time checks of the data locations a request names (model data, job inputs and outputs).

An ``s3://`` location in the server's own S3 must be in a bucket of the caller's account (or one not
created yet). A local path (``file://`` or plain) must pass the server's local-path policy: the ``file://`` mode and
allow-list, and never the server's data directory, /proc, /sys or /dev. A refusal is a
ValidationException naming the member; the same policy runs again when the data is used, so a path
that turns into a link later fails the job or endpoint then.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelyard.context import RequestContext
from modelyard.storage.errors import ForbiddenLocationError, InvalidLocationError
from modelyard.storage.local_policy import LocalPathPolicy
from modelyard.storage.uris import parse_location
from modelyard.wire.errors import ValidationException

SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
SUBMIT_HYPERPARAMETER = "sagemaker_submit_directory"


def check_locations(ctx: RequestContext, members: Iterable[tuple[str, str | None]]) -> None:
    """Refuse the first ``(member, uri)`` whose location the server's policy forbids, or that names a
    bucket of the server's own S3 another account owns."""
    policy = LocalPathPolicy.from_settings(ctx.settings)
    buckets = ctx.app.buckets
    for member, uri in members:
        if not uri:
            continue
        try:
            location = parse_location(uri)
            policy.check(location)
        except ForbiddenLocationError as exc:
            raise ValidationException(f"{member} is not an allowed data location: {exc}") from None
        except InvalidLocationError:
            continue
        if location.is_s3 and buckets is not None:
            owner = buckets.owner(location.bucket)
            if owner is not None and owner != ctx.account:
                raise ValidationException(f"{member} names bucket {location.bucket}, which belongs to another "
                                          "account (AccessDenied)")


def container_locations(container: dict[str, Any], where: str) -> list[tuple[str, str | None]]:
    """The model data and code locations of one model container."""
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    submit = (container.get("Environment") or {}).get(SUBMIT_DIRECTORY)
    return [(f"{where}.ModelDataUrl", container.get("ModelDataUrl")),
            (f"{where}.ModelDataSource.S3DataSource.S3Uri", source.get("S3Uri")),
            (f"{where}.Environment.{SUBMIT_DIRECTORY}", _code_location(submit))]


def submit_directory(hyperparameters: dict[str, Any] | None, environment: dict[str, Any] | None) -> str | None:
    """A training job's source directory location, as the SDK passes it (JSON-quoted hyperparameter)."""
    value = (environment or {}).get(SUBMIT_DIRECTORY) or (hyperparameters or {}).get(SUBMIT_HYPERPARAMETER)
    if not isinstance(value, str):
        return None
    return _code_location(value.strip().strip('"'))


def _code_location(value: str | None) -> str | None:
    if not value or value.startswith("/opt/ml/"):
        return None
    return value
