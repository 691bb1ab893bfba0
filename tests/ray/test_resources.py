"""What an instance asks of a Ray node, and the refusal when no node can ever hold it (pure logic)."""

from __future__ import annotations

from modelyard.controllers.ray.resources import ActorResources, cluster_cannot_hold, no_node_fits, resources_for

GIB = 1 << 30


def test_instance_types_ask_for_their_cpus_memory_and_gpus() -> None:
    assert resources_for("ml.m5.large") == ActorResources(2.0, 8 * GIB, 0)
    assert resources_for("ml.p3.2xlarge") == ActorResources(8.0, 61 * GIB, 1)
    assert resources_for("ml.unknown.type") == ActorResources(2.0, 4 * GIB, 0)
    assert resources_for(None, memory_mb=2048) == ActorResources(1.0, 2 * GIB, 0)


def test_a_node_that_covers_all_three_fits() -> None:
    wanted = ActorResources(2.0, 8 * GIB, 1)
    nodes = [{"CPU": 8.0, "memory": 64.0 * GIB}, {"CPU": 2.0, "memory": 8.0 * GIB, "GPU": 1.0}]
    assert no_node_fits(wanted, nodes) is None


def test_no_node_that_fits_is_explained_with_the_numbers() -> None:
    reason = no_node_fits(ActorResources(16.0, 64 * GIB, 0), [{"CPU": 4.0, "memory": 20.0 * GIB},
                                                             {"CPU": 32.0, "memory": 10.0 * GIB}])
    assert reason == ("it needs 16 CPUs, 64 GiB memory, and the nodes have 4 CPUs, 20 GiB memory; "
                      "32 CPUs, 10 GiB memory")
    assert no_node_fits(ActorResources(1.0, GIB, 0), []) == \
        "it needs 1 CPUs, 1 GiB memory, and the nodes have no live node"


def test_several_hosts_are_counted_across_the_nodes_with_the_numbers() -> None:
    wanted = ActorResources(2.0, 8 * GIB, 0)
    nodes = [{"CPU": 4.0, "memory": 20.0 * GIB}, {"CPU": 8.0, "memory": 10.0 * GIB}]
    assert cluster_cannot_hold(wanted, 3, nodes) is None
    assert cluster_cannot_hold(wanted, 4, nodes) == (
        "4 hosts need 4 x 2 CPUs, 8 GiB memory at once, and the live nodes (4 CPUs, 20 GiB memory; 8 CPUs, "
        "10 GiB memory) hold at most 3 of them: use an InstanceCount of at most 3 or a smaller instance type")
    assert cluster_cannot_hold(ActorResources(1.0, GIB, 1), 2, nodes) is not None
    assert cluster_cannot_hold(wanted, 1, nodes) is None
    assert cluster_cannot_hold(ActorResources(16.0, GIB, 0), 1, nodes) == no_node_fits(
        ActorResources(16.0, GIB, 0), nodes)
