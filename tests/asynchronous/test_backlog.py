"""The in-memory backlog figures the metrics work will publish (a pure object: no server needed)."""

from __future__ import annotations

from modelyard.hosting.asynchronous.backlog import Backlog

KEY = ("000000000000", "us-east-1", "ep")


def test_sizes_ages_and_counters() -> None:
    now = [1000.0]
    backlog = Backlog(clock=lambda: now[0])
    assert backlog.figures(KEY, 1)["ApproximateBacklogSize"] == 0.0
    backlog.added(KEY, "a", 990.0)
    backlog.added(KEY, "b", 995.0)
    backlog.added(KEY, "c", 999.0)
    figures = backlog.figures(KEY, 2)
    assert figures["ApproximateBacklogSize"] == 3.0
    assert figures["ApproximateBacklogSizePerInstance"] == 1.5
    assert figures["ApproximateAgeOfOldestRequest"] == 10.0
    assert figures["HasBacklogWithoutCapacity"] == 0.0
    backlog.removed(KEY, "a", "Invocations")
    backlog.removed(KEY, "b", "ExpiredRequests")
    backlog.count(KEY, "NotificationFailures")
    now[0] = 1004.0
    figures = backlog.figures(KEY, 0)
    assert figures["ApproximateBacklogSize"] == 1.0 and figures["ApproximateAgeOfOldestRequest"] == 5.0
    assert figures["HasBacklogWithoutCapacity"] == 1.0
    assert (figures["Invocations"], figures["ExpiredRequests"], figures["NotificationFailures"]) == (1.0, 1.0, 1.0)
