"""AddTags, ListTags, DeleteTags on any stored resource, addressed by its ARN.

A resource holds at most 50 tags; keys starting with ``aws:`` are reserved. An ARN that names no
resource in the caller's account and region is a ValidationException, as SageMaker answers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from modelyard.context import RequestContext
from modelyard.page_tokens import InvalidPageToken, decode_token, encode_token, expect_str
from modelyard.services.common import MAX_TAGS, tags_to_dict
from modelyard.services.dispatch import operation
from modelyard.store.resources import Record, get_record_by_arn
from modelyard.store.tags import get_tags, put_tags, remove_tags
from modelyard.wire.errors import ValidationException

LIST_TAGS_DEFAULT = 50
_TOKEN_KIND = "tags"


def find_by_arn(conn: Connection, ctx: RequestContext, arn: str) -> Record:
    """The resource an ARN names in the caller's account and region (ARNs AWS lower-cases match too)."""
    record = get_record_by_arn(conn, arn) or get_record_by_arn(conn, arn.lower())
    if record is None or (record.account, record.region) != (ctx.account, ctx.region):
        raise ValidationException(f"Resource {arn} does not exist or is not taggable.")
    return record


@operation("sagemaker", "AddTags")
def add_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Add or overwrite tags; returns every tag the resource then has."""
    new = tags_to_dict(request["Tags"])
    with ctx.db.session(write=True) as conn:
        record = find_by_arn(conn, ctx, request["ResourceArn"])
        existing = {tag["Key"] for tag in get_tags(conn, record.id)}
        total = len(existing | set(new))
        if total > MAX_TAGS:
            raise ValidationException(
                f"Resource {record.arn} would have {total} tags; a resource can have at most {MAX_TAGS}")
        put_tags(conn, record.id, new)
        return {"Tags": _sorted_tags(conn, record)}


@operation("sagemaker", "DeleteTags")
def delete_tags(ctx: RequestContext, request: dict[str, Any]) -> None:
    """Remove tags by key; keys the resource does not have are ignored."""
    with ctx.db.session(write=True) as conn:
        record = find_by_arn(conn, ctx, request["ResourceArn"])
        remove_tags(conn, record.id, request["TagKeys"])


def _sorted_tags(conn: Connection, record: Record) -> list[dict[str, str]]:
    return sorted(get_tags(conn, record.id), key=lambda tag: tag["Key"])


def _decode_token(token: str) -> str:
    try:
        return expect_str(decode_token(_TOKEN_KIND, token))
    except InvalidPageToken:
        raise ValidationException(f"Invalid pagination token '{token}'") from None


@operation("sagemaker", "ListTags")
def list_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A resource's tags in key order, paged (MaxResults at least 50, as the API requires)."""
    limit = int(request.get("MaxResults") or LIST_TAGS_DEFAULT)
    after = _decode_token(request["NextToken"]) if request.get("NextToken") else None
    with ctx.db.session() as conn:
        tags = _sorted_tags(conn, find_by_arn(conn, ctx, request["ResourceArn"]))
    if after is not None:
        tags = [tag for tag in tags if tag["Key"] > after]
    token = encode_token(_TOKEN_KIND, tags[limit - 1]["Key"]) if len(tags) > limit else None
    return {"Tags": tags[:limit], "NextToken": token}
