"""CloudWatch metrics (``GraniteServiceVersion20100801.*``, AWS JSON 1.0): PutMetricData,
GetMetricStatistics, GetMetricData (MetricStat queries) and ListMetrics over ``modelyard.metrics``.

Writes go to the metrics hub's in-memory buffer and reach the store within ``flush_seconds``;
reads come from the stored one-minute aggregates.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from modelyard.context import RequestContext
from modelyard.metrics.aggregate import Aggregate, clamped_percentile
from modelyard.metrics.histogram import encoded_percentile
from modelyard.metrics.hub import MetricsHub, aggregates_of
from modelyard.metrics.series import (
    NO_UNIT,
    Dimensions,
    SeriesKey,
    decode_dimensions,
    dimensions_of,
    encode_dimensions,
    wire_dimensions,
)
from modelyard.metrics.statistics import Statistic, per_period
from modelyard.page_tokens import InvalidPageToken, decode_token, encode_token, expect_int, expect_list
from modelyard.services.cloudwatch_checks import (
    check_datapoints,
    check_period,
    check_range,
    check_value,
    check_values,
    statistic,
    statistics_of,
)
from modelyard.services.dispatch import operation
from modelyard.store import metrics as stored
from modelyard.wire.errors import (
    CloudWatchValidationError,
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    ServiceUnavailable,
)

Request = dict[str, Any]
Result = dict[str, Any]

MAX_METRIC_DATA = 1000
PAST_LIMIT_SECONDS = 14 * 86400
FUTURE_LIMIT_SECONDS = 2 * 3600
LIST_PAGE = 500
RECENT_SECONDS = 3 * 3600
LIST_WINDOW_SECONDS = 14 * 86400
GET_DATA_LIMIT = 100_800
RESERVED_PREFIX = "AWS/"


def hub_of(ctx: RequestContext) -> MetricsHub:
    """The server's metrics hub."""
    hub = ctx.app.metrics
    if hub is None:
        raise ServiceUnavailable("CloudWatch metrics are served by the server process only")
    return hub


@operation("cloudwatch", "PutMetricData")
def put_metric_data(ctx: RequestContext, request: Request) -> Result:
    """Add user metrics: single values, Values/Counts arrays or statistic sets, at one-minute resolution."""
    namespace = request["Namespace"]
    if namespace.startswith(RESERVED_PREFIX):
        raise InvalidParameterValue(f"The value {RESERVED_PREFIX} for parameter Namespace is invalid: namespaces "
                                    "starting with AWS/ are reserved for AWS services.")
    if request.get("EntityMetricData"):
        raise InvalidParameterValue("EntityMetricData is not supported by modelyard yet; send MetricData.")
    data = request.get("MetricData") or []
    if not data:
        raise InvalidParameterValue("The parameter MetricData is required (at least one metric datum).")
    if len(data) > MAX_METRIC_DATA:
        raise InvalidParameterValue(f"The collection MetricData must not have a size greater than {MAX_METRIC_DATA}.")
    now = time.time()
    puts = [_datum_put(ctx, namespace, datum, f"MetricData.member.{index}", now)
            for index, datum in enumerate(data, 1)]
    buffer = hub_of(ctx).buffer
    for series, timestamp, unit, datum in puts:
        statistic_set = datum.get("StatisticValues")
        if statistic_set is not None:
            buffer.put_statistic_set(series, timestamp, unit, statistic_set["SampleCount"], statistic_set["Sum"],
                                     statistic_set["Minimum"], statistic_set["Maximum"])
        elif datum.get("Values"):
            buffer.put_values(series, timestamp, unit, datum["Values"], datum.get("Counts") or None)
        else:
            buffer.put_values(series, timestamp, unit, [datum["Value"]])
    return {}


def _datum_put(ctx: RequestContext, namespace: str, datum: Request, field: str,
               now: float) -> tuple[SeriesKey, float, str, Request]:
    """Check one datum; its series, timestamp and unit."""
    given = [name for name in ("Value", "StatisticValues", "Values") if datum.get(name) not in (None, [])]
    if len(given) > 1:
        raise InvalidParameterCombination(
            f"The parameters {field}.{given[0]} and {field}.{given[1]} are mutually exclusive and you have "
            "specified both.")
    if not given:
        raise InvalidParameterCombination(f"At least one of the parameters {field}.Value, {field}.StatisticValues "
                                          f"or {field}.Values must be specified.")
    if "Value" in given:
        check_value(datum["Value"], f"{field}.Value")
    if "Values" in given:
        check_values(datum["Values"], f"{field}.Values")
        counts = datum.get("Counts")
        if counts:
            if len(counts) != len(datum["Values"]):
                raise InvalidParameterValue(f"The parameters {field}.Values and {field}.Counts must be arrays of "
                                            "the same length.")
            check_values(counts, f"{field}.Counts")
            if any(count < 0 for count in counts):
                raise InvalidParameterValue(f"The parameter {field}.Counts must hold no negative counts.")
    elif datum.get("Counts"):
        raise InvalidParameterCombination(f"The parameter {field}.Counts requires {field}.Values.")
    if "StatisticValues" in given:
        _check_statistic_set(datum["StatisticValues"], f"{field}.StatisticValues")
    resolution = datum.get("StorageResolution")
    if resolution is not None and resolution not in (1, 60):
        raise InvalidParameterValue(f"The parameter {field}.StorageResolution must be 1 or 60; got {resolution}.")
    timestamp = datum.get("Timestamp", now)
    if timestamp < now - PAST_LIMIT_SECONDS or timestamp > now + FUTURE_LIMIT_SECONDS:
        raise InvalidParameterValue(
            f"The parameter {field}.Timestamp must be within the past two weeks and at most two hours ahead.")
    dimensions = _dimensions(datum.get("Dimensions"), f"{field}.Dimensions")
    return (SeriesKey(ctx.account, ctx.region, namespace, datum["MetricName"], dimensions), timestamp,
            datum.get("Unit") or NO_UNIT, datum)


def _check_statistic_set(values: Request, field: str) -> None:
    for name in ("SampleCount", "Sum", "Minimum", "Maximum"):
        check_value(values[name], f"{field}.{name}")
    if values["SampleCount"] <= 0:
        raise InvalidParameterValue(f"The parameter {field}.SampleCount must be greater than 0.")
    if values["Minimum"] > values["Maximum"]:
        raise InvalidParameterValue(f"The parameter {field}.Minimum must not exceed {field}.Maximum.")


def _dimensions(pairs: list[Request] | None, field: str) -> Dimensions:
    dimensions = dimensions_of(pairs)
    names = [name for name, _ in dimensions]
    if len(set(names)) != len(names):
        raise InvalidParameterValue(f"The parameter {field} holds a dimension name more than once.")
    return dimensions


@operation("cloudwatch", "GetMetricStatistics")
def get_metric_statistics(ctx: RequestContext, request: Request) -> Result:
    """Statistics (or percentiles) of one metric per period between StartTime and EndTime."""
    statistics = statistics_of(request)
    period = request["Period"]
    check_period(period)
    start, end = request["StartTime"], request["EndTime"]
    check_range(start, end)
    check_datapoints(start, end, period)
    dimensions = _dimensions(request.get("Dimensions"), "Dimensions")
    unit = request.get("Unit")
    periods = _periods(ctx, SeriesKey(ctx.account, ctx.region, request["Namespace"], request["MetricName"],
                                      dimensions), start, end, period, unit,
                       any(s.percent is not None for s in statistics))
    datapoints = []
    for slot in sorted(periods):
        aggregate, units = periods[slot]
        point: Result = {"Timestamp": float(slot), "Unit": unit or (units[0] if len(units) == 1 else NO_UNIT)}
        for stat in statistics:
            value = stat.of(aggregate)
            if value is None:
                continue
            if stat.percent is not None:
                point.setdefault("ExtendedStatistics", {})[stat.name] = value
            else:
                point[stat.name] = value
        datapoints.append(point)
    return {"Label": request["MetricName"], "Datapoints": datapoints}


def _series_name(series: SeriesKey) -> stored.SeriesName:
    return series.account, series.region, series.namespace, series.name, encode_dimensions(series.dimensions)


def _minutes(start: float, end: float) -> tuple[int, int]:
    """The minutes a [start, end) range touches: StartTime's minute up to EndTime's (rounded up)."""
    return int(start // 60) * 60, int(-(-end // 60)) * 60


def _periods(ctx: RequestContext, series: SeriesKey, start: float, end: float, period: int, unit: str | None,
             histograms: bool) -> dict[int, tuple[Aggregate, list[str]]]:
    """The metric's aggregates per period (aligned on StartTime's minute) and the units seen in each."""
    first, last = _minutes(start, end)
    with ctx.db.session() as conn:
        series_id = stored.series_id(conn, _series_name(series))
        if series_id is None:
            return {}
        rows = stored.points_between(conn, [series_id], first, last, unit=unit, histograms=histograms)
    return _fold(rows, first, period, histograms)


def _fold(rows: Iterable[stored.PointRow], first: int, period: int,
          histograms: bool) -> dict[int, tuple[Aggregate, list[str]]]:
    """Rows of one series folded into periods from ``first``, with the units seen in each period."""
    units: dict[int, list[str]] = {}
    minutes: list[tuple[int, Aggregate]] = []
    for row, aggregate in aggregates_of(rows):
        if not histograms:
            aggregate.histogram = None
        slot = first + (row.minute - first) // period * period
        seen = units.setdefault(slot, [])
        if row.unit not in seen:
            seen.append(row.unit)
        minutes.append((row.minute, aggregate))
    return {slot: (aggregate, units[slot]) for slot, aggregate in per_period(minutes, first, period).items()}


@operation("cloudwatch", "GetMetricData")
def get_metric_data(ctx: RequestContext, request: Request) -> Result:
    """MetricStat queries (metric math expressions are refused), paged by MaxDatapoints: the store is read
    once for the queries from the page's first on, and a query's points are computed only when the page
    reaches it."""
    queries = request["MetricDataQueries"]
    start, end = request["StartTime"], request["EndTime"]
    check_range(start, end)
    if request.get("LabelOptions"):
        raise CloudWatchValidationError("LabelOptions is not supported by modelyard yet.")
    _check_queries(ctx, queries)
    descending = request.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    limit = request.get("MaxDatapoints") or GET_DATA_LIMIT
    position = _data_position(request.get("NextToken"))
    wanted = [(index, query) for index, query in enumerate(queries)
              if index >= position[0] and query.get("ReturnData") is not False]
    results: list[Result] = []
    budget = limit
    next_position: list[int] | None = None
    answered = _query_points(ctx, [query for _, query in wanted], start, end, descending)
    for (index, query), points in zip(wanted, answered, strict=True):
        skip = position[1] if index == position[0] else 0
        page = points[skip:skip + budget]
        budget -= len(page)
        complete = skip + len(page) >= len(points)
        results.append({"Id": query["Id"], "Label": query.get("Label") or query["MetricStat"]["Metric"]["MetricName"],
                        "Timestamps": [float(t) for t, _ in page], "Values": [v for _, v in page],
                        "StatusCode": "Complete" if complete else "PartialData"})
        if not complete:
            next_position = [index, skip + len(page)]
            break
    result: Result = {"MetricDataResults": results, "Messages": []}
    if next_position is not None:
        result["NextToken"] = encode_token("cloudwatch-GetMetricData", next_position)
    return result


def _data_position(token: str | None) -> list[int]:
    if token is None:
        return [0, 0]
    try:
        position = expect_list(decode_token("cloudwatch-GetMetricData", token), 2)
        return [expect_int(position[0]), expect_int(position[1])]
    except InvalidPageToken:
        raise InvalidNextToken("The specified NextToken is invalid.") from None


def _check_queries(ctx: RequestContext, queries: list[Request]) -> None:
    seen: set[str] = set()
    for index, query in enumerate(queries, 1):
        field = f"MetricDataQueries.member.{index}"
        query_id = query["Id"]
        if not query_id[:1].islower() or not query_id.replace("_", "").isalnum() or not query_id.isascii():
            raise CloudWatchValidationError(
                f"The value {query_id} for parameter {field}.Id is invalid: it must start with a lower-case letter "
                "and hold only letters, digits and underscores.")
        if query_id in seen:
            raise CloudWatchValidationError(f"The value {query_id} for parameter {field}.Id is used more than once.")
        seen.add(query_id)
        if query.get("Expression") is not None:
            raise CloudWatchValidationError(
                f"{field}.Expression: metric math and Metrics Insights expressions are not supported by modelyard "
                "yet; use MetricStat queries.")
        stat = query.get("MetricStat")
        if stat is None:
            raise CloudWatchValidationError(f"{field} must specify MetricStat (or an Expression).")
        if query.get("AccountId") not in (None, ctx.account):
            raise CloudWatchValidationError(f"{field}.AccountId: cross-account queries are not supported.")
        check_period(stat["Period"], f"{field}.MetricStat.Period")
        statistic(stat["Stat"], f"{field}.MetricStat.Stat")


def _query_points(ctx: RequestContext, queries: list[Request], start: float, end: float,
                  descending: bool) -> Iterator[list[tuple[int, float]]]:
    """Each query's (period start, value) points, in query order. Basic statistics are summed per period
    by the database (one statement per distinct period and unit); percentiles read the minutes'
    histograms (one statement for all) and are computed query by query as the caller iterates."""
    first, last = _minutes(start, end)
    names: list[stored.SeriesName] = []
    statistics: list[Statistic] = []
    for query in queries:
        metric = query["MetricStat"]["Metric"]
        names.append(_series_name(SeriesKey(ctx.account, ctx.region, metric.get("Namespace", ""),
                                            metric.get("MetricName", ""),
                                            _dimensions(metric.get("Dimensions"), "MetricStat.Metric.Dimensions"))))
        statistics.append(statistic(query["MetricStat"]["Stat"], "MetricStat.Stat"))
    totals: dict[tuple[int, str | None], dict[int, list[stored.PeriodTotals]]] = {}
    minutes: dict[int, list[stored.PointRow]] = {}
    with ctx.db.session() as conn:
        ids = stored.series_ids(conn, names)
        basic: dict[tuple[int, str | None], set[int]] = {}
        percentile_ids: set[int] = set()
        for query, name, stat in zip(queries, names, statistics, strict=True):
            if name not in ids:
                continue
            if stat.percent is None:
                basic.setdefault((query["MetricStat"]["Period"], query["MetricStat"].get("Unit")), set()).add(ids[name])
            else:
                percentile_ids.add(ids[name])
        for (period, unit), wanted in basic.items():
            grouped = totals.setdefault((period, unit), {})
            for row in stored.period_totals(conn, sorted(wanted), first, last, period, unit=unit):
                grouped.setdefault(row[0], []).append(row)
        if percentile_ids:
            for point in stored.points_between(conn, sorted(percentile_ids), first, last):
                minutes.setdefault(point.series_id, []).append(point)
    for query, name, stat in zip(queries, names, statistics, strict=True):
        series = ids.get(name, -1)
        period, unit = query["MetricStat"]["Period"], query["MetricStat"].get("Unit")
        if stat.percent is None:
            of_totals = stat.of_totals
            points = [(row[1], value) for row in totals.get((period, unit), {}).get(series, [])
                      if (value := of_totals(*row[2:])) is not None]
        else:
            rows = [row for row in minutes.get(series, []) if unit is None or row.unit == unit]
            points = _percentile_points(rows, first, period, stat)
        yield sorted(points, reverse=descending)


def _percentile_points(rows: list[stored.PointRow], first: int, period: int,
                       stat: Statistic) -> list[tuple[int, float]]:
    """A percentile per period; a period of one stored minute is read straight from its encoding."""
    assert stat.percent is not None
    by_period: dict[int, list[stored.PointRow]] = {}
    for row in rows:
        by_period.setdefault(first + (row.minute - first) // period * period, []).append(row)
    points: list[tuple[int, float]] = []
    for slot, group in by_period.items():
        if len(group) == 1:
            value = _minute_percentile(group[0], stat.percent)
        else:
            value = stat.of(_fold(group, first, period, True)[slot][0])
        if value is not None:
            points.append((slot, value))
    return points


def _minute_percentile(row: stored.PointRow, percent: float) -> float | None:
    text = row.histogram
    if text is None or row.sample_count <= 0:
        return None
    return clamped_percentile(percent, row.minimum, row.maximum,
                              lambda p: encoded_percentile(text, p, row.sample_count))


@operation("cloudwatch", "ListMetrics")
def list_metrics(ctx: RequestContext, request: Request) -> Result:
    """Metrics with data in the past two weeks (or three hours with RecentlyActive=PT3H), filtered by
    namespace, name and dimensions; 500 a page."""
    if request.get("IncludeLinkedAccounts"):
        raise InvalidParameterValue("IncludeLinkedAccounts is not supported: modelyard has no linked accounts.")
    if request.get("OwningAccount") not in (None, ctx.account):
        raise InvalidParameterValue("OwningAccount must be the caller's own account.")
    filters = [(f["Name"], f.get("Value")) for f in request.get("Dimensions") or []]
    window = RECENT_SECONDS if request.get("RecentlyActive") == "PT3H" else LIST_WINDOW_SECONDS
    since = int((time.time() - window) // 60) * 60
    last_id = _list_position(request.get("NextToken"))
    found: list[tuple[int, Result]] = []
    with ctx.db.session() as conn:
        while len(found) <= LIST_PAGE:
            rows = stored.list_series(conn, ctx.account, ctx.region, namespace=request.get("Namespace"),
                                      name=request.get("MetricName"), since_minute=since, after_id=last_id,
                                      limit=LIST_PAGE + 1)
            for row in rows:
                dimensions = decode_dimensions(row.dimensions)
                if _matches(dimensions, filters):
                    found.append((row.id, {"Namespace": row.namespace, "MetricName": row.name,
                                           "Dimensions": wire_dimensions(dimensions)}))
            if len(rows) <= LIST_PAGE:
                break
            last_id = rows[-1].id
    result: Result = {"Metrics": [metric for _, metric in found[:LIST_PAGE]]}
    if len(found) > LIST_PAGE:
        result["NextToken"] = encode_token("cloudwatch-ListMetrics", found[LIST_PAGE - 1][0])
    return result


def _list_position(token: str | None) -> int:
    if token is None:
        return 0
    try:
        return expect_int(decode_token("cloudwatch-ListMetrics", token))
    except InvalidPageToken:
        raise InvalidNextToken("The specified NextToken is invalid.") from None


def _matches(dimensions: Dimensions, filters: Iterable[tuple[str, str | None]]) -> bool:
    present = dict(dimensions)
    return all(name in present and (value is None or present[name] == value) for name, value in filters)
