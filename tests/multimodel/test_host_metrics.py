"""HostMetrics: cache hits are counted on the hot path and recorded in batches, misses at once, and nothing
counted is lost or published twice."""

from __future__ import annotations

from modelyard.controllers.multimodel.metrics import HostMetrics


def _recorder() -> tuple[list[tuple[str, str, float, int]], HostMetrics]:
    published: list[tuple[str, str, float, int]] = []
    return published, HostMetrics(lambda name, unit, value, count: published.append((name, unit, value, count)))


def test_hits_are_published_together_at_a_flush() -> None:
    published, metrics = _recorder()
    for _ in range(5):
        metrics.cache(True)
    assert published == []
    metrics.flush()
    metrics.flush()
    assert published == [("ModelCacheHit", "None", 1.0, 5)]


def test_a_miss_publishes_the_hits_before_it_first() -> None:
    published, metrics = _recorder()
    metrics.cache(True)
    metrics.cache(True)
    metrics.cache(False)
    assert published == [("ModelCacheHit", "None", 1.0, 2), ("ModelCacheHit", "None", 0.0, 1)]


def test_the_statistic_counts_every_call_including_hits_not_yet_flushed() -> None:
    _, metrics = _recorder()
    for hit in (True, True, True, False):
        metrics.cache(hit)
    metrics.cache(True)
    shown = metrics.as_dict()["ModelCacheHit"]
    assert shown == {"SampleCount": 5, "Sum": 4.0, "Minimum": 0.0, "Maximum": 1.0, "Average": 0.8}


def test_timings_are_published_one_sample_each() -> None:
    published, metrics = _recorder()
    metrics.timing("ModelLoadingTime", 0.25)
    assert published == [("ModelLoadingTime", "Microseconds", 250000.0, 1)]
