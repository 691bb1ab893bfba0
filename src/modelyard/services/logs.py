"""CloudWatch Logs (``Logs_20140328.*``) over the on-disk log store.

Containers' output lands in the store under SageMaker's group names (``/aws/sagemaker/Endpoints/<ep>``,
``/aws/sagemaker/TrainingJobs`` ...); these operations read it the way boto3, the awscli and the
SageMaker SDK's log tailing expect, and let clients write their own groups.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from modelyard.arns import log_group_arn
from modelyard.context import RequestContext
from modelyard.logstore import (
    MAX_EVENT_BYTES,
    GroupExists,
    GroupInfo,
    GroupNotFound,
    InvalidToken,
    StreamExists,
    StreamInfo,
    StreamNotFound,
    UnsupportedPattern,
)
from modelyard.logstore.events import EVENT_OVERHEAD_BYTES, MAX_RESPONSE_BYTES, now_ms
from modelyard.page_tokens import InvalidPageToken, decode_token, encode_token, expect_list, expect_scalar
from modelyard.services.dispatch import Handler, operation
from modelyard.wire.errors import LogsInvalidParameter, LogsResourceNotFound, ResourceAlreadyExistsException

Request = dict[str, Any]
Result = dict[str, Any]
T = TypeVar("T")

DESCRIBE_LIMIT = 50
EVENTS_LIMIT = 10_000
TOO_NEW_MS = 2 * 3600 * 1000
TOO_OLD_MS = 14 * 24 * 3600 * 1000
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000


def logs_operation(name: str) -> Callable[[Handler], Handler]:
    """Register a Logs handler whose store errors become CloudWatch's errors."""

    def register(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def translated(ctx: RequestContext, request: Request) -> Result | None:
            try:
                return handler(ctx, request)
            except GroupNotFound:
                raise LogsResourceNotFound("The specified log group does not exist.") from None
            except StreamNotFound:
                raise LogsResourceNotFound("The specified log stream does not exist.") from None
            except GroupExists:
                raise ResourceAlreadyExistsException("The specified log group already exists") from None
            except StreamExists:
                raise ResourceAlreadyExistsException("The specified log stream already exists") from None
            except InvalidToken:
                raise LogsInvalidParameter("The specified nextToken is invalid.") from None
            except UnsupportedPattern as exc:
                raise LogsInvalidParameter(str(exc)) from None

        return operation("logs", name)(translated)

    return register


# ARNs and names


def group_arn(ctx: RequestContext, group: str) -> str:
    """The log group's ARN without the trailing ``:*``."""
    return log_group_arn(ctx.region, ctx.account, group)


def group_name(request: Request) -> str:
    """The group named by ``logGroupName`` or ``logGroupIdentifier`` (a name or an ARN)."""
    name, identifier = request.get("logGroupName"), request.get("logGroupIdentifier")
    if name and identifier:
        raise LogsInvalidParameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if name:
        return str(name)
    if not identifier:
        raise LogsInvalidParameter("Either logGroupName or logGroupIdentifier must be specified.")
    return name_of_identifier(str(identifier))


def name_of_identifier(identifier: str) -> str:
    """A log group name from a name or ``arn:aws:logs:<region>:<account>:log-group:<name>[:*]``."""
    if not identifier.startswith("arn:"):
        return identifier
    _, marker, rest = identifier.partition(":log-group:")
    if not marker or not rest:
        raise LogsInvalidParameter(f"Invalid log group ARN: {identifier}")
    return rest[:-2] if rest.endswith(":*") else rest


# paging of describe results


def paged(items: Sequence[T], key: Callable[[T], list[Any]], limit: int, token: str | None,
          descending: bool = False, kind: str = "logs") -> tuple[list[T], str | None]:
    """One page of ``items`` (already sorted by ``key``) after the item the token names; ``kind`` names
    the listing and order, so a token of another listing is refused."""
    if token:
        last = _token_key(kind, token)
        try:
            items = [item for item in items if (key(item) < last if descending else key(item) > last)]
        except TypeError:
            raise LogsInvalidParameter("The specified nextToken is invalid.") from None
    page = list(items[:limit])
    more = len(items) > limit
    return page, (encode_token(kind, key(page[-1])) if more and page else None)


def _token_key(kind: str, token: str) -> list[Any]:
    try:
        return [expect_scalar(part) for part in expect_list(decode_token(kind, token))]
    except InvalidPageToken:
        raise LogsInvalidParameter("The specified nextToken is invalid.") from None


def _time_range(request: Request) -> tuple[int | None, int | None]:
    start, end = request.get("startTime"), request.get("endTime")
    if start is not None and end is not None and start > end:
        raise LogsInvalidParameter(f"startTime ({start}) must not be after endTime ({end}).")
    return start, end


# groups and streams


@logs_operation("CreateLogGroup")
def create_log_group(ctx: RequestContext, request: Request) -> Result:
    """Create an empty log group."""
    ctx.logs.create_group(request["logGroupName"])
    return {}


@logs_operation("DeleteLogGroup")
def delete_log_group(ctx: RequestContext, request: Request) -> Result:
    """Delete a log group and its events."""
    ctx.logs.delete_group(request["logGroupName"])
    return {}


@logs_operation("CreateLogStream")
def create_log_stream(ctx: RequestContext, request: Request) -> Result:
    """Create an empty log stream in an existing group."""
    ctx.logs.create_stream(request["logGroupName"], request["logStreamName"])
    return {}


@logs_operation("DeleteLogStream")
def delete_log_stream(ctx: RequestContext, request: Request) -> Result:
    """Delete a log stream and its events."""
    ctx.logs.delete_stream(request["logGroupName"], request["logStreamName"])
    return {}


@logs_operation("DescribeLogGroups")
def describe_log_groups(ctx: RequestContext, request: Request) -> Result:
    """Log groups by name, filtered by prefix, substring pattern or identifiers."""
    prefix, pattern = request.get("logGroupNamePrefix"), request.get("logGroupNamePattern")
    identifiers = request.get("logGroupIdentifiers")
    if sum(value is not None for value in (prefix, pattern, identifiers)) > 1:
        raise LogsInvalidParameter(
            "logGroupNamePrefix, logGroupNamePattern and logGroupIdentifiers are mutually exclusive.")
    groups = ctx.logs.groups(prefix)
    if pattern:
        groups = [g for g in groups if pattern.lower() in g.name.lower()]
    if identifiers:
        wanted = {name_of_identifier(identifier) for identifier in identifiers}
        groups = [g for g in groups if g.name in wanted]
    limit = request.get("limit") or DESCRIBE_LIMIT
    page, token = paged(groups, lambda g: [g.name], limit, request.get("nextToken"), kind="logs:groups")
    return {"logGroups": [_group_out(ctx, g) for g in page], "nextToken": token}


@logs_operation("DescribeLogStreams")
def describe_log_streams(ctx: RequestContext, request: Request) -> Result:
    """A group's streams by name or by last event time, optionally descending."""
    group = group_name(request)
    prefix = request.get("logStreamNamePrefix")
    by_time = request.get("orderBy") == "LastEventTime"
    if by_time and prefix:
        raise LogsInvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(request.get("descending"))
    key: Callable[[StreamInfo], list[Any]] = (
        (lambda s: [s.last_event_timestamp or 0, s.name]) if by_time else (lambda s: [s.name]))
    streams = sorted(ctx.logs.streams(group, prefix), key=key, reverse=descending)
    limit = request.get("limit") or DESCRIBE_LIMIT
    order = f"logs:streams/{'time' if by_time else 'name'}/{'desc' if descending else 'asc'}"
    page, token = paged(streams, key, limit, request.get("nextToken"), descending, kind=order)
    arn = group_arn(ctx, group)
    return {"logStreams": [_stream_out(arn, s) for s in page], "nextToken": token}


def _group_out(ctx: RequestContext, group: GroupInfo) -> Result:
    arn = group_arn(ctx, group.name)
    return {"logGroupName": group.name, "creationTime": group.creation_time, "metricFilterCount": 0,
            "arn": f"{arn}:*", "logGroupArn": arn, "storedBytes": group.stored_bytes,
            "logGroupClass": "STANDARD"}


def _stream_out(group_arn_: str, stream: StreamInfo) -> Result:
    return {"logStreamName": stream.name, "creationTime": stream.creation_time,
            "firstEventTimestamp": stream.first_event_timestamp,
            "lastEventTimestamp": stream.last_event_timestamp,
            "lastIngestionTime": stream.last_ingestion_time, "storedBytes": stream.stored_bytes,
            "arn": f"{group_arn_}:log-stream:{stream.name}"}


# events


@logs_operation("GetLogEvents")
def get_log_events(ctx: RequestContext, request: Request) -> Result:
    """A page of one stream's events, with CloudWatch's forward and backward tokens."""
    start, end = _time_range(request)
    page = ctx.logs.read(
        group_name(request), request["logStreamName"], start_time=start, end_time=end,
        start_from_head=bool(request.get("startFromHead")), limit=request.get("limit") or EVENTS_LIMIT,
        token=request.get("nextToken"))
    return {"events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
                       for e in page.events],
            "nextForwardToken": page.forward_token, "nextBackwardToken": page.backward_token}


@logs_operation("FilterLogEvents")
def filter_log_events(ctx: RequestContext, request: Request) -> Result:
    """Matching events of several streams, oldest first."""
    names, prefix = request.get("logStreamNames"), request.get("logStreamNamePrefix")
    if names and prefix:
        raise LogsInvalidParameter("logStreamNames and logStreamNamePrefix are mutually exclusive.")
    start, end = _time_range(request)
    page = ctx.logs.filter(
        group_name(request), stream_names=names, stream_prefix=prefix, pattern=request.get("filterPattern"),
        start_time=start, end_time=end, limit=request.get("limit") or EVENTS_LIMIT,
        token=request.get("nextToken"))
    return {"events": [{"logStreamName": e.stream, "timestamp": e.timestamp, "message": e.message,
                        "ingestionTime": e.ingestion_time, "eventId": e.event_id} for e in page.events],
            "searchedLogStreams": [{"logStreamName": name, "searchedCompletely": done}
                                   for name, done in page.searched.items()],
            "nextToken": page.next_token}


@logs_operation("PutLogEvents")
def put_log_events(ctx: RequestContext, request: Request) -> Result:
    """Append a batch of events; too old or too new ones are rejected as CloudWatch rejects them."""
    events = [(int(e["timestamp"]), e["message"]) for e in request["logEvents"]]
    _check_batch(events)
    now = now_ms()
    too_new = next((i for i, (stamp, _) in enumerate(events) if stamp > now + TOO_NEW_MS), None)
    too_old = max((i for i, (stamp, _) in enumerate(events) if stamp < now - TOO_OLD_MS), default=None)
    accepted = [event for i, event in enumerate(events)
                if (too_new is None or i < too_new) and (too_old is None or i > too_old)]
    store = ctx.logs
    group, stream = request["logGroupName"], request["logStreamName"]
    if accepted:
        store.append(group, stream, accepted)
    else:
        store.stream_info(group, stream)
    rejected = {"tooNewLogEventStartIndex": too_new, "tooOldLogEventEndIndex": too_old}
    result: Result = {"nextSequenceToken": f"{now:056d}"}
    if too_new is not None or too_old is not None:
        result["rejectedLogEventsInfo"] = rejected
    return result


def _check_batch(events: list[tuple[int, str]]) -> None:
    total = 0
    for _, message in events:
        size = len(message.encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD_BYTES
        if size > MAX_EVENT_BYTES:
            raise LogsInvalidParameter(
                f"Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}")
        total += size
    if total > MAX_RESPONSE_BYTES:
        raise LogsInvalidParameter(f"Upload too large: {total} bytes exceeds limit of {MAX_RESPONSE_BYTES}")
    stamps = [stamp for stamp, _ in events]
    if stamps != sorted(stamps):
        raise LogsInvalidParameter(
            "Log events in a single PutLogEvents request must be in chronological order.")
    if stamps and stamps[-1] - stamps[0] > MAX_BATCH_SPAN_MS:
        raise LogsInvalidParameter(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
