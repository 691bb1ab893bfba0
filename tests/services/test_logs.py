"""CloudWatch Logs black-box tests through boto3 against a real server process."""

from __future__ import annotations

import time

import pytest

from modelyard.logstore import LogStore
from tests.conftest import client_for
from tests.support.aws_errors import code, error_of


@pytest.fixture()
def logs(server):  # type: ignore[no-untyped-def]
    return client_for(server, "logs")


@pytest.fixture()
def disk(server) -> LogStore:  # type: ignore[no-untyped-def]
    """The server's own log store (the admin key's account, us-east-1), written directly as a container's
    pump would."""
    return LogStore(server.data_dir / "logs").scoped("000000000000", "us-east-1")


def now_ms() -> int:
    return int(time.time() * 1000)


def test_group_and_stream_lifecycle(logs, unique) -> None:  # type: ignore[no-untyped-def]
    group = f"/modelyard/test/{unique}"
    logs.create_log_group(logGroupName=group)
    err = error_of(logs.create_log_group, logGroupName=group)
    assert code(err) == "ResourceAlreadyExistsException"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    logs.create_log_stream(logGroupName=group, logStreamName="a/1")
    assert code(error_of(logs.create_log_stream, logGroupName=group, logStreamName="a/1")) == \
        "ResourceAlreadyExistsException"
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in described] == [group]
    assert described[0]["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
    assert described[0]["creationTime"] > 1_600_000_000_000
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert stream["logStreamName"] == "a/1" and "lastEventTimestamp" not in stream
    assert stream["arn"].endswith(f"log-group:{group}:log-stream:a/1")
    logs.delete_log_stream(logGroupName=group, logStreamName="a/1")
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []


def test_missing_group_and_stream_errors(logs, unique) -> None:  # type: ignore[no-untyped-def]
    group = f"/missing/{unique}"
    for call, kwargs in [
        (logs.describe_log_streams, {"logGroupName": group}),
        (logs.delete_log_group, {"logGroupName": group}),
        (logs.create_log_stream, {"logGroupName": group, "logStreamName": "s"}),
        (logs.get_log_events, {"logGroupName": group, "logStreamName": "s"}),
        (logs.filter_log_events, {"logGroupName": group}),
        (logs.put_log_events, {"logGroupName": group, "logStreamName": "s",
                               "logEvents": [{"timestamp": now_ms(), "message": "x"}]}),
    ]:
        err = error_of(call, **kwargs)
        assert code(err) == "ResourceNotFoundException", call
        assert err.response["Error"]["Message"] == "The specified log group does not exist."
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName=group)
    logs.create_log_group(logGroupName=group)
    for call, kwargs in [
        (logs.get_log_events, {"logGroupName": group, "logStreamName": "s"}),
        (logs.delete_log_stream, {"logGroupName": group, "logStreamName": "s"}),
        (logs.put_log_events, {"logGroupName": group, "logStreamName": "s",
                               "logEvents": [{"timestamp": now_ms(), "message": "x"}]}),
    ]:
        err = error_of(call, **kwargs)
        assert code(err) == "ResourceNotFoundException"
        assert err.response["Error"]["Message"] == "The specified log stream does not exist."


def test_put_then_get_events(logs, unique) -> None:  # type: ignore[no-untyped-def]
    group = f"/app/{unique}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="main")
    base = now_ms() - 60_000
    result = logs.put_log_events(logGroupName=group, logStreamName="main",
                                 logEvents=[{"timestamp": base + i, "message": f"line {i}\nsecond"}
                                            for i in range(20)])
    assert "rejectedLogEventsInfo" not in result and result["nextSequenceToken"]
    events = logs.get_log_events(logGroupName=group, logStreamName="main", startFromHead=True)["events"]
    assert [e["message"] for e in events] == [f"line {i}\nsecond" for i in range(20)]
    assert [e["timestamp"] for e in events] == [base + i for i in range(20)]
    assert all(e["ingestionTime"] >= base for e in events)
    newest = logs.get_log_events(logGroupName=group, logStreamName="main", limit=3)["events"]
    assert [e["timestamp"] for e in newest] == [base + 17, base + 18, base + 19]
    ranged = logs.get_log_events(logGroupName=group, logStreamName="main", startTime=base + 5,
                                 endTime=base + 8, startFromHead=True)["events"]
    assert [e["timestamp"] for e in ranged] == [base + 5, base + 6, base + 7]
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    by_arn = logs.get_log_events(logGroupIdentifier=arn, logStreamName="main", limit=1)["events"]
    assert by_arn[0]["timestamp"] == base + 19
    info = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert (info["firstEventTimestamp"], info["lastEventTimestamp"]) == (base, base + 19)


def test_put_log_events_rules(logs, unique) -> None:  # type: ignore[no-untyped-def]
    group = f"/app/{unique}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = now_ms()
    unordered = error_of(logs.put_log_events, logGroupName=group, logStreamName="s",
                         logEvents=[{"timestamp": now, "message": "b"},
                                    {"timestamp": now - 5, "message": "a"}])
    assert code(unordered) == "InvalidParameterException" and "chronological" in str(unordered)
    too_big = error_of(logs.put_log_events, logGroupName=group, logStreamName="s",
                       logEvents=[{"timestamp": now, "message": "x" * 262_200}])
    assert code(too_big) == "InvalidParameterException"
    day = 24 * 3600 * 1000
    old = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now - 15 * day, "message": "ancient"},
        {"timestamp": now - 15 * day + 1, "message": "ancient 2"},
    ])
    assert old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    mixed = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now - 1000, "message": "kept"},
        {"timestamp": now + 3 * 3600 * 1000, "message": "future"},
    ])
    assert mixed["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    events = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["kept"]


def test_container_output_is_read_through_the_api(logs, disk, unique) -> None:  # type: ignore[no-untyped-def]
    group = f"/aws/sagemaker/Endpoints/{unique}"
    start = now_ms()
    with disk.writer(group, "AllTraffic/i-0001") as out:
        for i in range(5):
            out.write_line(f"worker started {i}")
    described = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/Endpoints/")
    names = [g["logGroupName"] for g in described["logGroups"]]
    assert group in names
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert stream["logStreamName"] == "AllTraffic/i-0001"
    assert stream["lastEventTimestamp"] >= start and stream["storedBytes"] > 0
    events = logs.get_log_events(logGroupName=group, logStreamName="AllTraffic/i-0001",
                                 startFromHead=True)["events"]
    assert [e["message"] for e in events] == [f"worker started {i}" for i in range(5)]


def test_sdk_style_tailing_follows_the_forward_token(logs, disk, unique) -> None:  # type: ignore[no-untyped-def]
    group, stream = "/aws/sagemaker/TrainingJobs", f"{unique}/algo-1-1700000000"
    out = disk.writer(group, stream)
    out.write_events([(now_ms(), f"epoch {i}") for i in range(25)])

    def drain(token: str | None) -> tuple[list[str], str | None, int]:
        seen, calls = [], 0
        while True:
            args = {"nextToken": token} if token else {}
            page = logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=0,
                                       startFromHead=True, limit=10, **args)
            calls += 1
            seen += [e["message"] for e in page["events"]]
            if page["nextForwardToken"] == token:
                return seen, token, calls
            token = page["nextForwardToken"]

    seen, token, calls = drain(None)
    assert seen == [f"epoch {i}" for i in range(25)] and calls == 4
    again, same, _ = drain(token)
    assert again == [] and same == token
    out.write_line("final metrics: loss=0.1")
    out.close()
    later, _, _ = drain(token)
    assert later == ["final metrics: loss=0.1"]


def test_sdk_log_stream_generator_stops_on_an_empty_page(logs, disk, unique) -> None:  # type: ignore[no-untyped-def]
    """The SDK's ``log_stream`` loop: keep calling until a page comes back empty, skipping ``skip`` events."""
    group, stream = "/aws/sagemaker/TrainingJobs", f"{unique}/algo-1-1700000001"
    stamp = now_ms()
    with disk.writer(group, stream) as out:
        out.write_events([(stamp, f"same ms {i}") for i in range(3)] + [(stamp + 5, "later")])
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{unique}/",
                                        orderBy="LogStreamName", limit=1)
    assert [s["logStreamName"] for s in streams["logStreams"]] == [stream] and "nextToken" not in streams

    def log_stream(start_time: int, skip: int) -> list[str]:
        token, got, count = None, [], 1
        while count > 0:
            args = {"nextToken": token} if token is not None else {}
            page = logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=start_time,
                                       startFromHead=True, **args)
            token, events = page["nextForwardToken"], page["events"]
            count = len(events)
            if count > skip:
                events, skip = events[skip:], 0
            else:
                events, skip = [], skip - count
            got += [e["message"] for e in events]
        return got

    assert log_stream(0, 0) == ["same ms 0", "same ms 1", "same ms 2", "later"]
    assert log_stream(stamp, 2) == ["same ms 2", "later"]


def test_describe_log_streams_order_and_pagination(logs, disk, unique) -> None:  # type: ignore[no-untyped-def]
    group = f"/app/{unique}"
    base = now_ms() - 10_000
    for i, name in enumerate(["c", "a", "e", "b", "d"]):
        with disk.writer(group, name) as out:
            out.write_line(f"in {name}", base + i)
    paginator = logs.get_paginator("describe_log_streams")
    pages = list(paginator.paginate(logGroupName=group, PaginationConfig={"PageSize": 2}))
    assert [len(p["logStreams"]) for p in pages] == [2, 2, 1]
    assert [s["logStreamName"] for p in pages for s in p["logStreams"]] == ["a", "b", "c", "d", "e"]
    newest = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True, limit=2)
    assert [s["logStreamName"] for s in newest["logStreams"]] == ["d", "b"]
    rest = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True,
                                     nextToken=newest["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["e", "a", "c"] and "nextToken" not in rest
    desc = logs.describe_log_streams(logGroupName=group, descending=True, logStreamNamePrefix="b")
    assert [s["logStreamName"] for s in desc["logStreams"]] == ["b"]
    err = error_of(logs.describe_log_streams, logGroupName=group, orderBy="LastEventTime",
                   logStreamNamePrefix="a")
    assert code(err) == "InvalidParameterException"
    assert code(error_of(logs.describe_log_streams, logGroupName=group, nextToken="garbage!")) == \
        "InvalidParameterException"
    assert code(error_of(logs.describe_log_streams)) == "InvalidParameterException"


def test_describe_log_groups_pagination(logs, unique) -> None:  # type: ignore[no-untyped-def]
    prefix = f"/pg/{unique}/"
    for i in range(7):
        logs.create_log_group(logGroupName=f"{prefix}{i}")
    pages = list(logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 3}))
    assert [g["logGroupName"] for p in pages for g in p["logGroups"]] == [f"{prefix}{i}" for i in range(7)]
    assert len(pages) == 3
    pattern = logs.describe_log_groups(logGroupNamePattern=f"{unique.upper()}/3")["logGroups"]
    assert [g["logGroupName"] for g in pattern] == [f"{prefix}3"]
    assert code(error_of(logs.describe_log_groups, logGroupNamePrefix=prefix, logGroupNamePattern="x")) == \
        "InvalidParameterException"


def test_get_log_events_paging_both_ways(logs, disk, unique) -> None:  # type: ignore[no-untyped-def]
    group = f"/app/{unique}"
    base = now_ms() - 100_000
    with disk.writer(group, "s") as out:
        out.write_events([(base + i, f"e{i}") for i in range(45)])
    page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=10)
    collected = [e["message"] for e in page["events"]]
    while True:
        token = page["nextBackwardToken"]
        page = logs.get_log_events(logGroupName=group, logStreamName="s", limit=10, nextToken=token)
        if not page["events"]:
            assert page["nextBackwardToken"] == token
            break
        collected = [e["message"] for e in page["events"]] + collected
    assert collected == [f"e{i}" for i in range(45)]
    err = error_of(logs.get_log_events, logGroupName=group, logStreamName="s", nextToken="f/12345")
    assert code(err) == "InvalidParameterException"
    bad_range = error_of(logs.get_log_events, logGroupName=group, logStreamName="s", startTime=10, endTime=5)
    assert code(bad_range) == "InvalidParameterException"
    both = error_of(logs.get_log_events, logGroupName=group, logGroupIdentifier=group, logStreamName="s")
    assert code(both) == "InvalidParameterException"


def test_filter_log_events(logs, disk, unique) -> None:  # type: ignore[no-untyped-def]
    group = f"/aws/sagemaker/TrainingJobs-{unique}"
    base = now_ms() - 50_000
    for host, offset in (("algo-1", 0), ("algo-2", 1)):
        with disk.writer(group, f"job/{host}") as out:
            out.write_events([(
                base + 2 * i + offset, f"{host} [{'ERROR' if i % 5 == 0 else 'INFO'}] step {i}")
                              for i in range(30)])
    everything = list(logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 7}))
    events = [e for p in everything for e in p["events"]]
    assert len(events) == 60 and len(everything) >= 9
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert all(e["eventId"] and e["logStreamName"].startswith("job/") for e in events)
    errors = logs.filter_log_events(logGroupName=group, filterPattern="ERROR", logStreamNames=["job/algo-2"])
    assert [e["message"] for e in errors["events"]] == [f"algo-2 [ERROR] step {i}" for i in range(0, 30, 5)]
    assert "nextToken" not in errors
    phrase = logs.filter_log_events(logGroupName=group, filterPattern='"[ERROR] step 10"',
                                    logStreamNamePrefix="job/")
    assert sorted(e["message"] for e in phrase["events"]) == [
        "algo-1 [ERROR] step 10", "algo-2 [ERROR] step 10"]
    timed = logs.filter_log_events(logGroupName=group, startTime=base + 10, endTime=base + 14)
    assert [e["timestamp"] for e in timed["events"]] == [base + 10, base + 11, base + 12, base + 13]
    unsupported = error_of(logs.filter_log_events, logGroupName=group, filterPattern='{ $.level = "ERROR" }')
    assert code(unsupported) == "InvalidParameterException" and "not supported" in str(unsupported)
    both = error_of(logs.filter_log_events, logGroupName=group, logStreamNames=["a"], logStreamNamePrefix="a")
    assert code(both) == "InvalidParameterException"
    foreign = error_of(logs.filter_log_events, logGroupName=group, nextToken="f/0")
    assert code(foreign) == "InvalidParameterException"


def test_validation_comes_from_the_spec(logs) -> None:  # type: ignore[no-untyped-def]
    err = error_of(logs.create_log_group, logGroupName="bad name with spaces")
    assert code(err) == "ValidationException"
    assert code(error_of(logs.get_log_events, logGroupName="g", logStreamName="a:b")) == "ValidationException"
