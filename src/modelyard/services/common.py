"""Helpers every service module uses: errors phrased as SageMaker phrases them, tags, paging.

Keep resource-specific logic out of here; this is the shared vocabulary only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from modelyard.arns import is_arn, sagemaker_arn
from modelyard.context import RequestContext
from modelyard.ports import Reconciler
from modelyard.store.resources import (
    ANY,
    InvalidToken,
    Query,
    Record,
    get_record,
    get_record_by_arn,
    insert_record,
    query_records,
)
from modelyard.store.tags import put_tags
from modelyard.wire.errors import ServiceError, ValidationException

DEFAULT_MAX_RESULTS = 10
MAX_TAGS = 50


def notify_controller(ctx: RequestContext, controller: Reconciler, name: str) -> None:
    """Tell ``controller`` that the named resource of the caller's account and region changed."""
    controller.notify(ctx.account, ctx.region, name)


def arn_for(ctx: RequestContext, resource_type: str, resource_id: str) -> str:
    """The ARN of a resource in the caller's account and region."""
    return sagemaker_arn(ctx.region, ctx.account, resource_type, resource_id)


def could_not_find(what: str, name: str) -> ValidationException:
    """SageMaker's not-found for models, configs and endpoints (the SDK matches on this text)."""
    return ValidationException(f'Could not find {what} "{name}".')


def find(conn: Connection, ctx: RequestContext, kind: str, name_or_arn: str,
         missing: Callable[[str], ServiceError]) -> Record:
    """A resource by name or ARN in the caller's account and region, or ``missing(name)`` raised."""
    if is_arn(name_or_arn):
        record = get_record_by_arn(conn, name_or_arn, kind)
        if record is not None and (record.account, record.region) != (ctx.account, ctx.region):
            record = None
    else:
        record = get_record(conn, ctx.account, ctx.region, kind, name_or_arn)
    if record is None:
        raise missing(name_or_arn)
    return record


def validation_missing(what: str) -> Callable[[str], ServiceError]:
    """A ``missing`` callback raising SageMaker's "Could not find" ValidationException."""
    return lambda name: could_not_find(what, name)


def tags_to_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """``[{"Key", "Value"}]`` as a dict, refusing more than 50 tags and duplicate keys."""
    result: dict[str, str] = {}
    for tag in tags or []:
        key = tag["Key"]
        if key in result:
            raise ValidationException(f"Duplicate tag key '{key}' in the request")
        if key.lower().startswith("aws:"):
            raise ValidationException(f"Tag keys may not start with 'aws:' (got '{key}')")
        result[key] = tag.get("Value", "")
    if len(result) > MAX_TAGS:
        raise ValidationException(f"A resource can have at most {MAX_TAGS} tags; the request has {len(result)}")
    return result


def store_tags(conn: Connection, record: Record, tags: list[dict[str, str]] | None) -> None:
    """Attach the request's Tags to a newly created resource."""
    values = tags_to_dict(tags)
    if values:
        put_tags(conn, record.id, values)


def insert_tagged(conn: Connection, ctx: RequestContext, kind: str, name: str, arn: str,
                  document: dict[str, Any], tags: list[dict[str, str]] | None, **columns: Any) -> Record:
    """Insert a new resource in the caller's account and region, created now, with the request's Tags
    (a taken name raises DuplicateKey for the caller to word as SageMaker does)."""
    record = insert_record(conn, account=ctx.account, region=ctx.region, kind=kind, name=name, arn=arn,
                           document=document, created_at=ctx.now, **columns)
    store_tags(conn, record, tags)
    return record


def page(conn: Connection, query: Query) -> tuple[list[Record], str | None]:
    """Run a list query, turning a bad NextToken into a ValidationException."""
    try:
        return query_records(conn, query)
    except InvalidToken as exc:
        raise ValidationException(str(exc)) from None


_SORT_COLUMNS = {"Name": "name", "CreationTime": "created_at", "Status": "status", "LastModifiedTime": "modified_at"}


def list_page(ctx: RequestContext, request: dict[str, Any], kind: str, *,
              default_order: str = "Descending") -> tuple[list[Record], str | None]:
    """One page of ``kind`` for a List* request, from the members those requests share: NameContains,
    CreationTime/LastModifiedTime bounds, StatusEquals, SortBy, SortOrder, MaxResults, NextToken."""
    query = Query(
        account=ctx.account, region=ctx.region, kind=kind,
        status=request.get("StatusEquals", ANY), name_contains=request.get("NameContains"),
        created_after=request.get("CreationTimeAfter"), created_before=request.get("CreationTimeBefore"),
        modified_after=request.get("LastModifiedTimeAfter"), modified_before=request.get("LastModifiedTimeBefore"),
        sort=_SORT_COLUMNS.get(request.get("SortBy") or "CreationTime", "created_at"),
        descending=sort_order_descending(request, default_order),
        limit=max_results(request), token=request.get("NextToken"),
    )
    with ctx.db.session() as conn:
        return page(conn, query)


def max_results(request: dict[str, Any], default: int = DEFAULT_MAX_RESULTS) -> int:
    """The request's MaxResults (the spec bounds it already) or the operation's default."""
    return int(request.get("MaxResults") or default)


def sort_order_descending(request: dict[str, Any], default: str = "Descending") -> bool:
    """Whether the request's SortOrder is Descending."""
    return (request.get("SortOrder") or default) == "Descending"
