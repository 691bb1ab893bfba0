"""The pure choices behind multi-model hosting: which instance a call goes to, which models to unload."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest

from modelyard.controllers.multimodel.eviction import idle, least_recently_used, over_budget
from modelyard.controllers.multimodel.loaded import LoadedModel
from modelyard.hosting.model_targets import checked_target
from modelyard.hosting.router import SPREAD_OUTSTANDING, VariantRoutes
from modelyard.wire.errors import RuntimeValidationError


@dataclass
class FakeHost:
    """Stands in for a ModelHost: only what routing reads (outstanding calls, the models held)."""

    name: str
    outstanding: int = 0
    held: set[str] = field(default_factory=set)

    def holds(self, target: str) -> bool:
        return target in self.held


def _routes(*hosts: FakeHost) -> VariantRoutes:
    return VariantRoutes("v", 1.0, cast(Any, list(hosts)), multi_model=True)


def test_a_holder_is_preferred_until_it_is_busy_and_another_is_idle() -> None:
    a, b = FakeHost("a", held={"m"}), FakeHost("b")
    routes = _routes(a, b)
    assert all(routes.pick_for("m") is a for _ in range(5))
    a.outstanding = SPREAD_OUTSTANDING
    assert routes.pick_for("m") is b
    b.outstanding = 1
    assert routes.pick_for("m") is a


def test_the_least_busy_holder_wins_and_no_holder_means_least_outstanding() -> None:
    a, b, c = FakeHost("a", 2, {"m"}), FakeHost("b", 1, {"m"}), FakeHost("c", 0)
    routes = _routes(a, b, c)
    assert routes.pick_for("m") is b
    assert routes.pick_for("other") is c


def _model(target: str, memory: int, last_used: float, in_flight: int = 0) -> LoadedModel:
    return cast(LoadedModel, SimpleNamespace(target=target, memory_bytes=memory, last_used=last_used,
                                             in_flight=in_flight))


def test_over_budget_unloads_least_recently_used_idle_models_first() -> None:
    models = [_model("old", 100, 1.0), _model("busy", 100, 0.5, in_flight=1), _model("new", 100, 3.0),
              _model("mid", 100, 2.0)]
    assert [m.target for m in over_budget(models, 250)] == ["old", "mid"]
    assert [m.target for m in over_budget(models, 400, incoming=100, busy={"old"})] == ["mid"]
    assert over_budget(models, 400) == []
    assert [m.target for m in idle(models, 5.0, now=6.5)] == ["old"]
    assert idle(models, 5.0, now=6.5, busy={"old"}) == []
    assert idle(models, None) == []


def test_a_507_unloads_the_least_recently_used_idle_model_even_one_measured_at_zero_bytes() -> None:
    """A contract container's tiny models may grow its resident set by nothing measurable; over_budget with
    a zero budget then chose none, and the load failed with the container's 507 (seen in CI)."""
    models = [_model("new", 0, 3.0), _model("old", 0, 1.0), _model("busy", 0, 0.5, in_flight=1)]
    assert over_budget(models, 0) == []
    chosen = least_recently_used(models)
    assert chosen is not None and chosen.target == "old"
    assert least_recently_used(models, busy={"old"}).target == "new"  # type: ignore[union-attr]
    assert least_recently_used([_model("busy", 0, 0.5, in_flight=1)]) is None


@pytest.mark.parametrize("target", ["", "/abs.tar.gz", "../x.tar.gz", "a/../../x", "a//b", "./x", "%2E%2E/x",
                                    "%252e%252e%252fx", "a\\b", "a\x00b", "x" * 1025])
def test_targets_that_could_leave_the_prefix_are_refused(target: str) -> None:
    with pytest.raises(RuntimeValidationError):
        checked_target(target, "ep")


@pytest.mark.parametrize("target", ["m.tar.gz", "a/b/m1.tar.gz", "v1.2/model..tar.gz", "100%.tar.gz"])
def test_ordinary_targets_pass(target: str) -> None:
    assert checked_target(target, "ep") == target
