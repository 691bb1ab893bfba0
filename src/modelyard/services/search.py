"""Search over every resource type modelyard stores (``services.search_sources``).

    candidates (narrowed in SQL: exact name, group or status; text an Equals filter needs)
      -> search records (described resource + Tags as a map, tags loaded only when used)
      -> compiled SearchExpression (services.search_filters) -> sort -> keyset page
      -> {"Results": [{"TrainingJob": {...}}], "NextToken": ..., "TotalHits": ...}

The narrowing only drops rows that cannot match; the whole expression then runs in Python over what
is left. The sagemaker SDK's lookups (a group by name, a training job by its model artifact) read a
handful of rows whatever the account holds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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
    required_filters,
    resolve_property,
)
from modelyard.services.search_sources import SEARCHABLE, Searchable, record_member
from modelyard.store.resources import Record
from modelyard.store.search_scan import Scan, scan_records
from modelyard.store.tags import tags_of
from modelyard.wire.errors import ValidationException
from modelyard.wire.spec import service_model


def _record_shape(resource: str) -> Shape | None:
    """The botocore shape of ``resource``'s search records (None for a type the model has no record for)."""
    members: dict[str, Shape] = service_model("sagemaker").shape_for("SearchRecord").members
    return members.get(record_member(resource))


def _expression(request: dict[str, Any]) -> dict[str, Any] | None:
    expression = request.get("SearchExpression")
    conditions = request.get("VisibilityConditions") or []
    if not conditions:
        return expression
    filters = [{"Name": c.get("Key", ""), "Operator": "Equals", "Value": c.get("Value", "")}
               for c in conditions]
    visibility = {"Filters": filters}
    return {"SubExpressions": [expression, visibility]} if expression else visibility


def _scan(ctx: RequestContext, searchable: Searchable, shape: Shape, resource: str,
          expression: dict[str, Any] | None) -> Scan | None:
    """Which rows may match (None: none can, the expression asks for one column to hold two values)."""
    columns: dict[str, str] = {}
    contains: list[str] = []
    by_column = {searchable.name_property: "name", searchable.parent_property: "parent",
                 searchable.status_property: "status"}
    for item in required_filters(expression):
        operator, value = item.get("Operator") or "Equals", item.get("Value")
        if operator != "Equals" or not value:
            continue
        column = by_column.get(item["Name"])
        if column:
            if columns.setdefault(column, value) != value:
                return None
            continue
        prop = resolve_property(shape, item["Name"], resource)
        if prop.kind == "text" and _in_stored_document(searchable, prop):
            contains.append(value)
    return Scan(ctx.account, ctx.region, searchable.kind, name=columns.get("name"), parent=columns.get("parent"),
                status=columns.get("status"), contains=tuple(contains))


def _in_stored_document(searchable: Searchable, prop: Property) -> bool:
    root = searchable.root
    inside = prop.path[len(root):]
    return prop.path[:len(root)] == root and bool(inside) and inside[0] != "Tags"


def _search_record(searchable: Searchable, record: Record, tags: Any, links: dict[str, Any]) -> dict[str, Any]:
    """The record with its tags at ``root + Tags`` (as given: a map for filtering, a list for the wire)."""
    document = {**record.document, "Tags": tags}
    if not searchable.root:
        return {**document, **links}
    return {searchable.root[0]: document, **links}


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


def _sort_property(request: dict[str, Any], default: str | None, shape: Shape, resource: str) -> Property | None:
    name = request.get("SortBy") or default
    if name is None:
        return None
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


def _empty() -> dict[str, Any]:
    return {"Results": [], "TotalHits": {"Value": 0, "Relation": "EqualTo"}}


def _uses(names: frozenset[str] | set[str], prefix: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for name in names)


@operation("sagemaker", "Search")
def search(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Find resources of one type matching a SearchExpression, sorted and paged."""
    resource = request["Resource"]
    searchable = SEARCHABLE.get(resource)
    shape = _record_shape(resource)
    expression = _expression(request)
    compiled = compile_expression(shape, resource, expression) if shape is not None else None
    default_sort = searchable.default_sort if searchable else None
    sort = _sort_property(request, default_sort, shape, resource) if shape is not None else None
    descending = (request.get("SortOrder") or "Descending") == "Descending"
    limit = max_results(request, DEFAULT_MAX_RESULTS)
    if request.get("NextToken"):
        _decode_token(request["NextToken"])
    if searchable is None or shape is None or compiled is None or sort is None:
        return _empty()
    if request.get("CrossAccountFilterOption") == "CrossAccount":
        return _empty()
    scan = _scan(ctx, searchable, shape, resource, expression)
    if scan is None:
        return _empty()
    used = {*compiled.names, sort.name}
    uses_tags = _uses(used, searchable.tags_property)
    uses_links = searchable.links is not None and any(not _uses({name}, ".".join(searchable.root))
                                                      for name in used)
    with ctx.db.session() as conn:
        records = scan_records(conn, scan)
        tags = tags_of(conn, [r.id for r in records]) if uses_tags else {}
        links = _links(conn, ctx, searchable, records) if uses_links else {}
        matched: Matched = []
        for record in records:
            tag_map = {tag["Key"]: tag["Value"] for tag in tags.get(record.id, [])}
            document = _search_record(searchable, record, tag_map, links.get(record.id, {}))
            if compiled.predicate(document):
                matched.append((_position(_sort_key(sort, document), record.id), record))
        matched.sort(key=_ordering(descending))
        total = len(matched)
        if request.get("NextToken"):
            matched = _after(matched, request["NextToken"], descending)
        page = [record for _, record in matched[:limit]]
        if not uses_tags:
            tags = tags_of(conn, [r.id for r in page])
        if not uses_links:
            links = _links(conn, ctx, searchable, page)
        results = [{record_member(resource): _search_record(searchable, record, tags.get(record.id, []),
                                                            links.get(record.id, {}))}
                   for record in page]
    token = _encode_token(matched[limit - 1][0]) if len(matched) > limit else None
    return {"Results": results, "NextToken": token, "TotalHits": {"Value": total, "Relation": "EqualTo"}}


def _links(conn: Connection, ctx: RequestContext, searchable: Searchable,
           records: list[Record]) -> dict[int, dict[str, Any]]:
    if searchable.links is None or not records:
        return {}
    return searchable.links(conn, ctx.account, ctx.region, records)
