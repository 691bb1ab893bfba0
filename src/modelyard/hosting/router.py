"""In-memory routing table: (account, region, endpoint) -> variants (weights) -> ready instances.

The controller publishes a new ``EndpointRoutes`` whenever instances change; the invoke path only
reads it (no SQL, no locks): pick a variant by weight or ``TargetVariant``, then the instance with
the fewest outstanding requests (a serverless variant may have none yet: its gate starts one); a
capturing deployment's routes carry its capture sink. While a blue/green or rolling update shifts
traffic, the live (blue) routes carry a ``TrafficShift``: ``fleet()`` sends its share of calls to the
green routes. A config with a shadow variant carries ``ShadowRoutes``: the variant that gets copies.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from modelyard.desired.async_inference import AsyncInference
from modelyard.hosting.capture.sink import CaptureSink
from modelyard.hosting.instances import InstanceClient
from modelyard.hosting.model_targets import ModelHolder
from modelyard.hosting.serverless import ServerlessGate

SPREAD_OUTSTANDING = 4
SERVING_STATUSES = ("InService", "Updating", "RollingBack", "UpdateRollbackFailed")
"""Endpoint statuses in which calls are served (an update in progress or rolling back keeps serving)."""


@dataclass
class VariantRoutes:
    """One production variant's ready instances."""

    name: str
    weight: float
    instances: list[InstanceClient] = field(default_factory=list)
    log_streams: list[str] = field(default_factory=list)
    multi_model: bool = False
    """A multi-model variant: every call names a TargetModel, its instances are ``ModelHolder``s."""
    serverless: ServerlessGate | None = None
    containers: tuple[str, ...] = ()
    """A multi-container variant's container names, in order (empty for a single container)."""
    direct: bool = False
    """A multi-container variant invoked Direct: every call names one container (TargetContainerHostname)."""

    _turn: int = 0

    def pick(self) -> InstanceClient | None:
        """The instance with the fewest outstanding requests; ties rotate so idle instances share load."""
        instances = self.instances
        count = len(instances)
        if count <= 1:
            return instances[0] if instances else None
        self._turn = start = (self._turn + 1) % count
        best = instances[start]
        for offset in range(1, count):
            candidate = instances[(start + offset) % count]
            if candidate.outstanding < best.outstanding:
                best = candidate
        return best


    def pick_for(self, target: str) -> InstanceClient | None:
        """For a multi-model variant: the least busy instance that already holds ``target``, unless every
        holder has ``SPREAD_OUTSTANDING`` calls in flight and some instance is idle (a hot model is then
        loaded on one more instance); no holder: the usual pick."""
        if len(self.instances) <= 1:
            return self.pick()
        holders = [i for i in self.instances if cast(ModelHolder, i).holds(target)]
        if not holders:
            return self.pick()
        best = min(holders, key=lambda i: i.outstanding)
        if best.outstanding >= SPREAD_OUTSTANDING and len(holders) < len(self.instances):
            idle = [i for i in self.instances if i.outstanding == 0]
            if idle:
                return idle[0]
        return best


@dataclass
class TrafficShift:
    """The new (green) fleet of an update in progress and the share of calls it takes (0..1)."""

    green: EndpointRoutes
    share: float


@dataclass
class ShadowRoutes:
    """A shadow variant: it gets a copy of ``sampling`` (0..1) of the calls; its answers are not returned."""

    variant: VariantRoutes
    sampling: float


@dataclass
class EndpointRoutes:
    """An endpoint as the invoke path sees it."""

    name: str
    arn: str
    log_group_arn: str
    variants: dict[str, VariantRoutes]
    status: str = "InService"
    capture: CaptureSink | None = None
    asynchronous: AsyncInference | None = None
    """Set for an asynchronous endpoint, which takes only InvokeEndpointAsync."""
    shift: TrafficShift | None = None
    shadow: ShadowRoutes | None = None
    draw: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    _cumulative: list[float] = field(default_factory=list, repr=False)
    _order: list[VariantRoutes] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.reweigh()

    def reweigh(self) -> None:
        """Recompute the traffic split after weights or instances change."""
        self._order = [v for v in self.variants.values() if v.weight > 0 and (v.instances or v.serverless)]
        total, self._cumulative = 0.0, []
        for variant in self._order:
            total += variant.weight
            self._cumulative.append(total)

    def fleet(self) -> EndpointRoutes:
        """The routes this call goes to: the green fleet for its share of calls during an update, else these."""
        shift = self.shift
        if shift is not None and shift.share > 0 and (shift.share >= 1 or self.draw() < shift.share):
            return shift.green
        return self

    def pick_variant(self) -> VariantRoutes | None:
        """A variant chosen with probability weight / total weight."""
        if not self._order:
            return None
        if len(self._order) == 1:
            return self._order[0]
        point = self.draw() * self._cumulative[-1]
        return self._order[min(bisect.bisect_right(self._cumulative, point), len(self._order) - 1)]


class Router:
    """Endpoint routes by (account, region, endpoint name), the key the store uses."""

    def __init__(self) -> None:
        self._endpoints: dict[tuple[str, str, str], EndpointRoutes] = {}

    def publish(self, account: str, region: str, routes: EndpointRoutes) -> None:
        """Install or replace an endpoint's routes."""
        self._endpoints[(account, region, routes.name)] = routes

    def withdraw(self, account: str, region: str, name: str) -> None:
        """Remove an endpoint's routes."""
        self._endpoints.pop((account, region, name), None)

    def get(self, account: str, region: str, name: str) -> EndpointRoutes | None:
        """The routes of an endpoint, or None."""
        return self._endpoints.get((account, region, name))

    def published(self) -> list[tuple[str, str, EndpointRoutes]]:
        """(account, region, routes) of every endpoint (a copy: safe to read from another thread)."""
        while True:
            try:
                return [(account, region, routes) for (account, region, _), routes in list(self._endpoints.items())]
            except RuntimeError:
                continue
