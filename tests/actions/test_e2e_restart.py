"""Restart a pod, rollout-restart a Deployment: against the simulator, followed to Ready."""

from __future__ import annotations

from typing import Any

from actions import registry
from tests.actions.world import CLAIM, asr_deployment, pvc, ready_pods


def _two_ready(world: Any, model: Any) -> None:
    url = world.sim.model_server.url("/models/v1/model.bin")
    world.sim.apply(
        [pvc(), asr_deployment("lightning-asr", url, "sha256:" + model.sha256, replicas=2)]
    )
    world.wait_snapshot(lambda s: len(ready_pods(s, "lightning-asr")) == 2, 30, "two ready pods")


def test_restart_pod_follows_the_replacement_to_ready(world: Any, model: Any) -> None:
    _two_ready(world, model)
    before = world.snapshot()
    victim = sorted(ready_pods(before, "lightning-asr"))[0]
    plan = world.plan(registry.RESTART_POD, victim)
    assert plan.runnable, plan.refused
    result = world.execute(plan)
    assert result.ok, result.message
    (new,) = result.details["ready_pods"]
    assert new != victim
    after = world.snapshot()
    assert victim not in [p.name for p in after.pods if not p.deleting]
    assert new in ready_pods(after, "lightning-asr")
    # The pod shared the EFS-like claim: the new one found the model without downloading.
    assert world.sim.model_server.stats("/models/v1/model.bin").bytes_sent <= model.size * 1.1
    # Audit line and Event.
    (line,) = world.audit_lines()
    assert line["action"] == "restart-pod" and line["target"] == f"pod/{victim}"
    assert line["outcome"]["ok"] is True and line["who"]["kube_user"]
    events = world.events("AsrCacheTuiRestart")
    assert events and events[0]["involvedObject"]["name"] == victim
    assert events[0]["source"]["component"] == "asr-cache-tui"
    assert CLAIM in [v.name for v in after.volumes]


def test_rollout_restart_replaces_every_pod(world: Any, model: Any) -> None:
    _two_ready(world, model)
    old = set(ready_pods(world.snapshot(), "lightning-asr"))
    plan = world.plan(registry.ROLLOUT_RESTART, "deployment/lightning-asr")
    assert plan.runnable, plan.refused
    result = world.execute(plan)
    assert result.ok, result.message
    snap = world.wait_snapshot(
        lambda s: (
            len(ready_pods(s, "lightning-asr")) == 2 and not old & set(p.name for p in s.pods)
        ),
        20,
        "old pods gone",
    )
    assert not old & set(ready_pods(snap, "lightning-asr"))
    dep = world.cluster.apps.read_namespaced_deployment("lightning-asr", "smallest")
    annotations = dep.spec.template.metadata.annotations or {}
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert world.events("AsrCacheTuiRolloutRestart")


def test_dry_run_changes_nothing(world: Any, model: Any) -> None:
    _two_ready(world, model)
    before = sorted(ready_pods(world.snapshot(), "lightning-asr"))
    plan = world.plan(registry.RESTART_POD, before[0])
    result = world.execute(plan, dry_run=True)
    assert result.ok and result.dry_run, result.message
    plan = world.plan(registry.ROLLOUT_RESTART, "deployment/lightning-asr")
    result = world.execute(plan, dry_run=True)
    assert result.ok and result.dry_run, result.message
    snap = world.snapshot()
    assert sorted(ready_pods(snap, "lightning-asr")) == before
    dep = world.cluster.apps.read_namespaced_deployment("lightning-asr", "smallest")
    assert "kubectl.kubernetes.io/restartedAt" not in (dep.spec.template.metadata.annotations or {})
    assert world.audit_lines() == [] and world.events("AsrCacheTuiRestart") == []
