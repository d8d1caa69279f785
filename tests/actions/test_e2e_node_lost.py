"""A node loses its power while its pod downloads (emptydir: one pod per node, each with its
own copy). The feed says the node took the download with it; fix replaces the pod on the
node that answers, and leaves the force delete of the Terminating one to a person."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from actions import registry
from actions.fix import NODE_LOST
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.report import attention
from tests.actions.world import NS, World
from tui.health import health


def _downloading(snap: ClusterSnapshot) -> PodInfo | None:
    return next((p for p in snap.pods if p.model_state is ModelState.DOWNLOADING and p.node), None)


def test_a_pod_whose_node_lost_power_is_failed_and_fix_replaces_it_elsewhere(
    start: Callable[..., World],
) -> None:
    world = start("emptydir", speed=256 * 1024)  # 4 MiB at 256 KiB/s: 16 s of downloading
    world.watch()
    snap = world.wait_snapshot(_downloading, 30, "a pod downloading")
    victim = _downloading(snap)
    assert victim is not None and victim.node is not None
    world.sim.node_down(victim.node)  # from this thread: it runs on the cluster's loop

    def lost(s: ClusterSnapshot) -> PodInfo | None:
        p = s.pod(victim.name)
        return p if p is not None and p.node_lost is not None else None

    snap = world.wait_snapshot(lost, 30, "the pod's node seen lost")
    pod = lost(snap)
    assert pod is not None and pod.model_state is ModelState.FAILED, pod
    assert pod.evidence[0].startswith(f"node {victim.node} is unreachable"), pod.evidence
    assert "Kubelet stopped posting node status" in pod.evidence[0]

    plan = world.plan(registry.FIX, pod.name, on=snap)
    assert plan.decision == NODE_LOST and plan.runnable, plan.describe()
    (force,) = plan.commands
    assert shlex.split(force)[-2:] == ["--grace-period=0", "--force"]
    result = world.execute(plan)
    assert result.ok, result.message
    (fresh,) = result.details["ready_pods"]
    elsewhere = world.snapshot().pod(fresh)
    assert elsewhere is not None and elsewhere.node != victim.node
    # The old pod cannot be confirmed gone: it stays, Terminating; fix now only says so.
    old = world.wait_snapshot(
        lambda s: (p := s.pod(victim.name)) is not None and p.deleting and p, 30, "Terminating"
    ).pod(victim.name)
    assert old is not None
    again = world.plan(registry.FIX, old.name, on=world.snapshot())
    assert not again.runnable and "already being deleted" in (again.refused or "")
    assert again.commands == plan.commands
    assert world.cluster.core.read_namespaced_pod(old.name, NS).metadata.deletion_timestamp
    # The header counts the replacement, and the ghost apart; status needs nothing of it.
    now = world.snapshot()
    assert "1 Terminating on a lost node" in health(now).text
    assert not [a for a in attention(now) if old.name in a], attention(now)


def test_the_node_lost_scenario_plays_it_by_itself(start: Callable[..., World]) -> None:
    """The demo's scenario: node-2 goes dark 8 s in, NotReady 5 s later (its own grace)."""
    # 4 MiB over 4 connections of 48 KiB/s: still downloading at 8 s.
    world = start("node-lost", speed=48 * 1024)
    world.watch()

    def lost(s: ClusterSnapshot) -> list[PodInfo]:
        return [p for p in s.pods if p.node_lost is not None and not p.ready]

    (pod,) = lost(world.wait_snapshot(lost, 45, "a pod on a lost node"))
    assert pod.node == "node-2" and pod.model_state is ModelState.FAILED, pod
    node = world.cluster.core.read_node("node-2")
    taints = {(t.key, t.effect) for t in node.spec.taints or []}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in taints
