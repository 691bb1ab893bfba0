"""A serverless variant's gate, on its own: admission under MaxConcurrency, and when a call asks the controller
for one more instance (none running, or every running one busy, never beyond the cap or twice for one start).
The black-box behaviour (cold starts, throttling, idle stops) is tests/hosting/test_serverless.py's."""

from __future__ import annotations

from modelyard.hosting.serverless import ServerlessGate, ServerlessShape


class Running:
    """A published instance as the gate reads it: only its count of calls in flight."""

    def __init__(self, outstanding: int) -> None:
        self.outstanding = outstanding


def _gate(max_concurrency: int = 4, cap: int = 2) -> tuple[ServerlessGate, list[str]]:
    demands: list[str] = []
    gate = ServerlessGate(ServerlessShape(memory_mb=1024, max_concurrency=max_concurrency), cap,
                          lambda: demands.append("start"), clock=lambda: 0.0)
    return gate, demands


def test_calls_beyond_max_concurrency_are_refused_and_a_call_leaving_makes_room() -> None:
    gate, _ = _gate(max_concurrency=2)
    assert [gate.admit() for _ in range(3)] == [True, True, False]
    gate.leave()
    assert gate.admit()
    assert gate.in_flight == 2


def test_the_first_call_starts_one_instance_and_calls_during_that_start_start_no_other() -> None:
    gate, demands = _gate()
    gate.want_capacity([])
    gate.want_capacity([])
    assert demands == ["start"]
    gate.started(0.2)
    gate.set_instances(1)
    gate.want_capacity([Running(0)])
    assert demands == ["start"]


def test_a_busy_instance_asks_for_another_up_to_the_cap() -> None:
    gate, demands = _gate(cap=2)
    gate.want_capacity([])
    gate.started(0.2)
    gate.set_instances(1)
    gate.want_capacity([Running(1)])
    assert demands == ["start", "start"]
    gate.started(0.2)
    gate.set_instances(2)
    gate.want_capacity([Running(1), Running(3)])
    gate.want_capacity([Running(1), Running(0)])
    assert demands == ["start", "start"], "asked beyond the cap, or with an instance idle"


def test_the_cap_is_never_above_max_concurrency() -> None:
    gate, demands = _gate(max_concurrency=1, cap=4)
    gate.want_capacity([])
    gate.started(0.2)
    gate.set_instances(1)
    gate.want_capacity([Running(1)])
    assert demands == ["start"]
