"""Search over model package groups and model packages.

    candidates (narrowed by an exact group name when the expression allows)
      -> searchable documents (described resource + Tags as a map, tags loaded only when used)
      -> compiled SearchExpression (services.search_filters) -> sort -> keyset page
      -> {"Results": [{"ModelPackageGroup": {...}}], "NextToken": ..., "TotalHits": ...}

Filtering runs in Python over the account's records of one kind; the sagemaker SDK's lookup of a
group by name (``ModelPackageGroupName Equals <name>``) reads a single row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape
from sqlalchemy import Connection

from modelyard.context import RequestContext
from modelyard.page_tokens import InvalidPageToken, decode_token, encode_token, expect_int, expect_list, expect_scalar
from modelyard.services.common import DEFAULT_MAX_RESULTS, max_results
from modelyard.services.dispatch import operation
from modelyard.services.search_filters import (
    Property,
    coerce,
    compile_expression,
    property_values,
    resolve_property,
)
from modelyard.store.resources import Query, Record, all_records, get_record, query_records
from modelyard.store.tags import get_tags
from modelyard.wire.errors import ValidationException
from modelyard.wire.spec import service_model

_GROUP_NAME = "ModelPackageGroupName"
_EVERYTHING = 10**9


@dataclass(frozen=True)
class Searchable:
    """How one Search ``Resource`` maps onto the store and the wire."""

    kind: str
    record_shape: str
    default_sort: str
    by_group_name: str
    """How an exact ModelPackageGroupName narrows the candidates: "name" or "parent"."""


SEARCHABLE = {
    "ModelPackageGroup": Searchable("model-package-group", "ModelPackageGroup", "CreationTime", "name"),
    "ModelPackage": Searchable("model-package", "ModelPackage", "LastModifiedTime", "parent"),
}


def _shape(searchable: Searchable) -> Shape:
    return service_model("sagemaker").shape_for(searchable.record_shape)


def _expression(request: dict[str, Any]) -> dict[str, Any] | None:
    expression = request.get("SearchExpression")
    conditions = request.get("VisibilityConditions") or []
    if not conditions:
        return expression
    filters = [{"Name": c.get("Key", ""), "Operator": "Equals", "Value": c.get("Value", "")}
               for c in conditions]
    visibility = {"Filters": filters}
    return {"SubExpressions": [expression, visibility]} if expression else visibility


def _exact_group_name(expression: dict[str, Any] | None) -> str | None:
    if not expression or expression.get("Operator") == "Or":
        return None
    for item in expression.get("Filters") or []:
        equals = (item.get("Operator") or "Equals") == "Equals"
        if item["Name"] == _GROUP_NAME and equals and item.get("Value"):
            return str(item["Value"])
    return None


def _candidates(conn: Connection, ctx: RequestContext, searchable: Searchable,
                expression: dict[str, Any] | None) -> list[Record]:
    group = _exact_group_name(expression)
    if group is None:
        return all_records(conn, ctx.account, ctx.region, searchable.kind)
    if searchable.by_group_name == "name":
        record = get_record(conn, ctx.account, ctx.region, searchable.kind, group)
        return [record] if record else []
    records, _ = query_records(conn, Query(account=ctx.account, region=ctx.region, kind=searchable.kind,
                                           parent=group, limit=_EVERYTHING))
    return records


def _searchable_document(record: Record, tags: list[dict[str, str]] | None) -> dict[str, Any]:
    document = dict(record.document)
    document["Tags"] = {tag["Key"]: tag["Value"] for tag in tags or []}
    return document


def _sort_key(prop: Property, document: dict[str, Any]) -> Any:
    for value in property_values(document, prop.path):
        try:
            return coerce(prop, value)
        except ValidationException:
            continue
    return None


def _position(key: Any, record_id: int) -> list[Any]:
    return [key is None, key, record_id]


def _compare(a: list[Any], b: list[Any], descending: bool) -> int:
    if a[0] != b[0]:
        return -1 if not a[0] else 1
    sign = -1 if descending else 1
    for x, y in ((a[1], b[1]), (a[2], b[2])):
        if x != y and x is not None and y is not None:
            return sign * (-1 if x < y else 1)
    return 0


_TOKEN_KIND = "search"


def _encode_token(position: list[Any]) -> str:
    return encode_token(_TOKEN_KIND, position)


def _decode_token(token: str) -> list[Any]:
    try:
        flag, value, record_id = expect_list(decode_token(_TOKEN_KIND, token), 3)
        return [expect_scalar(flag), expect_scalar(value), expect_int(record_id, minimum=1)]
    except InvalidPageToken:
        raise ValidationException(f"Invalid pagination token '{token}'") from None


def _sort_property(request: dict[str, Any], searchable: Searchable, shape: Shape, resource: str) -> Property:
    name = request.get("SortBy") or searchable.default_sort
    prop = resolve_property(shape, name, resource)
    if prop.kind == "complex":
        raise ValidationException(f"Cannot sort {resource} results by {name}: it is not a single value")
    return prop


Matched = list[tuple[list[Any], Record]]


def _ordering(descending: bool) -> Callable[[tuple[list[Any], Record]], Any]:
    def compare(a: tuple[list[Any], Record], b: tuple[list[Any], Record]) -> int:
        return _compare(a[0], b[0], descending)

    return functools.cmp_to_key(compare)


def _after(matched: Matched, token: str, descending: bool) -> Matched:
    position = _decode_token(token)
    try:
        return [m for m in matched if _compare(m[0], position, descending) > 0]
    except TypeError:
        raise ValidationException(f"Invalid pagination token '{token}'") from None


@operation("sagemaker", "Search")
def search(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Find model package groups or model packages matching a SearchExpression, sorted and paged."""
    resource = request["Resource"]
    searchable = SEARCHABLE.get(resource)
    if searchable is None:
        raise ValidationException(
            f"modelyard can search only {' and '.join(SEARCHABLE)} resources so far (got {resource})")
    shape = _shape(searchable)
    expression = _expression(request)
    compiled = compile_expression(shape, resource, expression)
    sort = _sort_property(request, searchable, shape, resource)
    descending = (request.get("SortOrder") or "Descending") == "Descending"
    limit = max_results(request, DEFAULT_MAX_RESULTS)
    if request.get("NextToken"):
        _decode_token(request["NextToken"])
    if request.get("CrossAccountFilterOption") == "CrossAccount":
        return {"Results": [], "TotalHits": {"Value": 0, "Relation": "EqualTo"}}
    uses_tags = any(name == "Tags" or name.startswith("Tags.") for name in (*compiled.names, sort.name))
    with ctx.db.session() as conn:
        records = _candidates(conn, ctx, searchable, expression)
        tags = {r.id: get_tags(conn, r.id) for r in records} if uses_tags else {}
        matched: Matched = []
        for record in records:
            document = _searchable_document(record, tags.get(record.id))
            if compiled.predicate(document):
                matched.append((_position(_sort_key(sort, document), record.id), record))
        matched.sort(key=_ordering(descending))
        total = len(matched)
        if request.get("NextToken"):
            matched = _after(matched, request["NextToken"], descending)
        page = matched[:limit]
        results = [{resource: {**record.document,
                               "Tags": tags[record.id] if uses_tags else get_tags(conn, record.id)}}
                   for _, record in page]
    token = _encode_token(page[-1][0]) if len(matched) > limit else None
    return {"Results": results, "NextToken": token, "TotalHits": {"Value": total, "Relation": "EqualTo"}}
