"""Restart a pod, rollout-restart a Deployment: on efs-shared, followed to Ready."""

from __future__ import annotations

from collections.abc import Callable

from actions import registry
from tests.actions.conftest import MODEL
from tests.actions.world import CLAIM, NS, World, efs_shared, ready_pods


def test_restart_pod_follows_the_replacement_to_ready(start: Callable[..., World]) -> None:
    world, pods = efs_shared(start)
    sent = world.stats("v1").bytes_sent
    victim = pods[0]
    plan = world.plan(registry.RESTART_POD, victim)
    assert plan.runnable and not plan.warnings, plan.describe()
    result = world.execute(plan)
    assert result.ok, result.message
    (new,) = result.details["ready_pods"]
    assert new not in pods
    after = world.snapshot()
    assert victim not in [p.name for p in after.pods if not p.deleting]
    assert new in ready_pods(after, "lightning-asr")
    # The pod shares the EFS claim: its replacement found the model without downloading.
    assert world.stats("v1").bytes_sent == sent
    assert CLAIM in [v.name for v in after.volumes]
    world.assert_recorded("restart-pod", "AsrCacheTuiRestart", f"pod/{victim}")


def test_rollout_restart_replaces_every_pod(start: Callable[..., World]) -> None:
    world, pods = efs_shared(start)
    plan = world.plan(registry.ROLLOUT_RESTART, "deployment/lightning-asr")
    assert plan.runnable and set(plan.affected_pods) == set(pods), plan.describe()
    result = world.execute(plan)
    assert result.ok, result.message
    snap = world.wait_snapshot(
        lambda s: (
            len(ready_pods(s, "lightning-asr")) == 4 and not set(pods) & {p.name for p in s.pods}
        ),
        30,
        "four new ready pods, the old ones gone",
    )
    assert not set(pods) & set(ready_pods(snap, "lightning-asr"))
    dep = world.cluster.apps.read_namespaced_deployment("lightning-asr", NS)
    annotations = dep.spec.template.metadata.annotations or {}
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert world.stats("v1").bytes_sent < 2 * MODEL, "the new pods start from the shared file"
    target = "deployment/lightning-asr"
    world.assert_recorded("rollout-restart", "AsrCacheTuiRolloutRestart", target)
