"""The shadow copier on the event loop with in-process instances: sampling, failures kept from the caller,
the shadow's metrics, and the bound on copies in flight."""

from __future__ import annotations

import asyncio

from modelyard.hosting import shadow as shadow_module
from modelyard.hosting.instances import Invocation
from modelyard.hosting.router import ShadowRoutes
from modelyard.hosting.shadow import ShadowCopier
from modelyard.metrics.endpoint_meter import EndpointMeter
from tests.hosting.fakes import FakeInstance, endpoint, variant

CALL = Invocation(b"{}", "application/json", None, None, None, None)


def test_copies_follow_the_sampling_and_failures_only_count_in_metrics() -> None:
    broken = FakeInstance("shadow", fail=lambda: RuntimeError("shadow broke"))
    routes = endpoint("ep", variant("AllTraffic", 1.0, FakeInstance("prod")))
    routes.shadow = ShadowRoutes(variant("Shadow", 0.5, broken), 0.5)
    draws = iter([0.1, 0.9, 0.4, 0.6])
    meter = EndpointMeter()
    copier = ShadowCopier(1.0, meter, draw=lambda: next(draws))

    async def offer_four() -> None:
        for _ in range(4):
            copier.offer("000000000000", "us-east-1", routes, CALL)
        await asyncio.sleep(0.05)

    asyncio.run(offer_four())
    assert len(broken.calls) == 2
    tallies = meter.drain()
    [(key, tally)] = tallies.items()
    assert key[3] == "Shadow" and tally.invocations == 2 and tally.server_errors == 2 and tally.model_errors == 2


def test_copies_beyond_the_bound_are_dropped(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(shadow_module, "MAX_COPIES_IN_FLIGHT", 2)
    routes = endpoint("ep", variant("AllTraffic", 1.0, FakeInstance("prod")))
    routes.shadow = ShadowRoutes(variant("Shadow", 1.0, FakeInstance("shadow")), 1.0)
    copier = ShadowCopier(1.0, None)

    async def offer_five() -> None:
        for _ in range(5):
            copier.offer("000000000000", "us-east-1", routes, CALL)
        await asyncio.sleep(0.05)

    asyncio.run(offer_five())
    assert copier.dropped == 3
