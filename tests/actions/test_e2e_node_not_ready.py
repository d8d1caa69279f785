"""A node's container network fails while its pod downloads (emptydir: one pod per node,
each with its own copy). Its kubelet answers, so the pod runs on: the feed says where it
stands without calling it failed, fix replaces it on the Ready node (no ghost is left), and a
pod there that still serves is left alone. A node that has not reported is not lost."""

from __future__ import annotations

from collections.abc import Callable

from actions import registry
from actions.fix import NODE_NOT_READY
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.report import attention
from tests.actions.world import NS, World
from tui.health import health


def _downloading(snap: ClusterSnapshot) -> PodInfo | None:
    return next((p for p in snap.pods if p.model_state is ModelState.DOWNLOADING and p.node), None)


def _stranded(name: str) -> Callable[[ClusterSnapshot], PodInfo | None]:
    def find(s: ClusterSnapshot) -> PodInfo | None:
        p = s.pod(name)
        return p if p is not None and p.node_not_ready is not None else None

    return find


def test_a_pod_on_a_not_ready_node_downloads_on_and_fix_replaces_it_on_the_ready_node(
    start: Callable[..., World],
) -> None:
    world = start("emptydir", speed=64 * 1024)  # 4 MiB at 64 KiB/s per connection
    world.watch()
    victim = _downloading(world.wait_snapshot(_downloading, 30, "a pod downloading"))
    assert victim is not None and victim.node is not None
    world.sim.node_not_ready(victim.node)

    snap = world.wait_snapshot(_stranded(victim.name), 30, "the pod's node seen NotReady")
    pod = _stranded(victim.name)(snap)
    assert pod is not None and pod.node_lost is None
    assert pod.model_state is ModelState.DOWNLOADING, pod  # its container runs on
    said = pod.node_not_ready.said if pod.node_not_ready else ""
    assert said.startswith(f"node {victim.node} is NotReady"), said
    assert "cni plugin not initialized" in said and "evicted in 5 min unless" in said, said
    assert said in pod.evidence and pod.reachable  # logs and exec still answer
    assert "1 on a NotReady node" in health(snap).text
    assert f"pod {pod.name}: {said}" in attention(snap)

    plan = world.plan(registry.FIX, pod.name, on=snap)
    assert plan.decision == NODE_NOT_READY and plan.runnable, plan.describe()
    assert plan.commands == ()
    result = world.execute(plan)
    assert result.ok, result.message
    (fresh,) = result.details["ready_pods"]
    elsewhere = world.snapshot().pod(fresh)
    assert elsewhere is not None and elsewhere.node != victim.node
    # Its kubelet answered the delete: the old pod is gone, not a ghost Terminating for ever.
    world.wait_snapshot(lambda s: s.pod(victim.name) is None, 30, "the old pod gone")
    assert not world.cluster.core.list_namespaced_pod(
        NS, field_selector=f"metadata.name={victim.name}"
    ).items


def test_a_ready_pod_on_a_not_ready_node_still_serves_and_fix_leaves_it(
    start: Callable[..., World],
) -> None:
    world = start("emptydir")
    world.watch()
    names = world.wait_ready("lightning-asr", 2)
    snap = world.snapshot()
    node = next(p.node for p in snap.pods if p.name == names[1])
    assert node is not None
    world.sim.node_not_ready(node)
    snap = world.wait_snapshot(_stranded(names[1]), 30, "the node seen NotReady")
    pod = snap.pod(names[1])
    assert pod is not None and pod.ready and pod.model_state is ModelState.READY, pod
    plan = world.plan(registry.FIX, pod.name, on=snap)
    assert plan.decision == NODE_NOT_READY and not plan.runnable
    assert (plan.refused or "").startswith(f"Pod {pod.name} is Ready: its server still serves")
    assert health(snap).text == "2/2 ready · 1 on a NotReady node"  # both still serve


def test_fix_refuses_when_no_other_node_is_ready(start: Callable[..., World]) -> None:
    world = start("emptydir", speed=64 * 1024)
    world.watch()
    victim = _downloading(world.wait_snapshot(_downloading, 30, "a pod downloading"))
    assert victim is not None and victim.node is not None
    for node in ("node-1", "node-2"):
        world.sim.node_not_ready(node)
    snap = world.wait_snapshot(_stranded(victim.name), 30, "the pod's node seen NotReady")
    plan = world.plan(registry.FIX, victim.name, on=snap)
    assert plan.decision == NODE_NOT_READY and not plan.runnable, plan.describe()
    assert (plan.refused or "").startswith("No other node is Ready: the replacement would stay")
    assert (
        world.cluster.core.read_namespaced_pod(victim.name, NS).metadata.deletion_timestamp is None
    )


def test_a_pod_on_a_node_that_has_not_reported_is_not_lost(start: Callable[..., World]) -> None:
    """A Node without a Ready condition yet (a kubelet registering) is no news, not a lost
    node: its pod waits, it has not failed. (The node controller would call it Unknown only
    after its grace, here longer than the test.)"""
    world = start("emptydir", node_monitor_grace=120.0)
    world.sim.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-9"}})
    labels = {"app": "lightning-asr"}
    world.sim.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "lightning-asr-early", "namespace": NS, "labels": labels},
            "spec": {
                "nodeName": "node-9",
                "containers": [{"name": "lightning-asr", "image": "smallest/lightning-asr:v1"}],
            },
        }
    )
    before = world.cluster.counters.requests("get", "nodes")
    pod = world.snapshot().pod("lightning-asr-early")  # one collect: it reads the pods' nodes
    assert world.cluster.counters.requests("get", "nodes") > before
    assert pod is not None and pod.node == "node-9", pod
    assert pod.node_lost is None and pod.node_not_ready is None, pod
    assert pod.model_state is not ModelState.FAILED, pod


def test_the_node_not_ready_scenario_plays_it_by_itself(start: Callable[..., World]) -> None:
    """The demo's scenario: node-2's network breaks 8 s in; its pods tolerate that 120 s."""
    world = start("node-not-ready", speed=48 * 1024)  # still downloading at 8 s
    world.watch()

    def stranded(s: ClusterSnapshot) -> list[PodInfo]:
        return [p for p in s.pods if p.node_not_ready is not None]

    (pod,) = stranded(world.wait_snapshot(stranded, 45, "a pod on a NotReady node"))
    assert pod.node == "node-2" and pod.model_state is not ModelState.FAILED, pod
    left = pod.node_not_ready.evicted_in if pod.node_not_ready else None
    assert left is not None and 60 < left <= 120, pod.node_not_ready
    node = world.cluster.core.read_node("node-2")
    taints = {(t.key, t.effect) for t in node.spec.taints or []}
    assert taints == {
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/not-ready", "NoSchedule"),
    }
