"""Which multi-container instances are given a restart's time to answer /ping after a timeout: those whose
timed-out containers all restart themselves (modelyard's toolkit); a stuck bring-your-own container keeps
SageMaker's 2 s. Checking the instance clears the containers' counts with its own."""

from __future__ import annotations

from modelyard.hosting.container_chain import ChainMember, ContainerChain
from modelyard.hosting.http_instance import HttpInstance
from modelyard.hosting.instances import FramedInstance


def _chain() -> ContainerChain:
    return ContainerChain([ChainMember("toolkit-a", FramedInstance("/nonexistent/a.sock")),
                           ChainMember("byoc", HttpInstance(1)),
                           ChainMember("toolkit-b", FramedInstance("/nonexistent/b.sock"))])


def test_only_timed_out_toolkits_earn_a_restarts_patience() -> None:
    chain = _chain()
    assert not chain.restarts_when_stuck
    chain.members[0].client.timeouts = 1
    chain.members[2].client.timeouts = 2
    assert chain.restarts_when_stuck
    chain.members[1].client.timeouts = 1
    assert not chain.restarts_when_stuck


def test_clearing_the_instances_count_clears_its_containers() -> None:
    chain = _chain()
    chain.timeouts += 1
    chain.members[0].client.timeouts = 1
    chain.timeouts = 0
    assert [member.client.timeouts for member in chain.members] == [0, 0, 0]
    assert not chain.restarts_when_stuck
