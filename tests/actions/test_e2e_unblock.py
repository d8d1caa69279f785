"""The commands a refused fix gives, run as given with kubectl against the simulator (over TLS,
where kubectl sends its token), and what they change: each scenario's pods start, or the
deployment takes the change. Skipped where kubectl is not on PATH; the words and commands
themselves are checked in test_unblock_advice.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from actions import registry
from actions.plan import ActionPlan
from collectors.model import ModelState, PodInfo
from tests.actions.by_hand import first, kubectl, kubectl_only
from tests.actions.world import NS, World

pytestmark = kubectl_only


def _planned(world: World, test: Callable[[PodInfo], object], what: str) -> ActionPlan:
    """The fix of the first lightning-asr pod that passes ``test``, refused with commands."""
    world.watch()
    snap = world.wait_snapshot(lambda s: first(s, test), 40, what)
    pod = first(snap, test)
    assert pod is not None
    plan = world.plan(registry.FIX, pod.name, on=snap)
    assert not plan.runnable and plan.commands, plan.describe()
    return plan


def _state(state: ModelState) -> Callable[[PodInfo], bool]:
    return lambda p: p.model_state is state


def _deployment(world: World) -> dict[str, Any]:
    obj = world.cluster.apps.read_namespaced_deployment("lightning-asr", NS)
    said: dict[str, Any] = world.cluster.api_client.sanitize_for_serialization(obj)
    return said


def _serving(world: World, count: int) -> None:
    world.wait_snapshot(
        lambda s: (
            not first(s, lambda p: not p.ready and not p.deleting)
            and len([p for p in s.pods if p.release == "lightning-asr" and p.ready]) == count
        ),
        60,
        f"{count} lightning-asr pods serving, none stuck",
    )


def test_the_memory_limit_given_ends_the_oom_loop(start: Callable[..., World]) -> None:
    world = start("oom-on-load", tls=True)
    plan = _planned(world, lambda p: p.killed_for_memory is not None, "a pod OOMKilled")
    (command,) = plan.commands
    assert "deployment.apps/lightning-asr resource requirements updated" in kubectl(world, command)
    spec = json.dumps(_deployment(world)["spec"])
    assert '"limits": {"memory": "1Gi"}' in spec, spec
    _serving(world, 2)


def test_the_secret_given_lets_the_pods_start(start: Callable[..., World]) -> None:
    world = start("missing-secret", tls=True)
    plan = _planned(world, _state(ModelState.BLOCKED), "a pod blocked")
    (command,) = plan.commands
    assert "secret/hf-token created" in kubectl(world, command)
    secret = world.cluster.core.read_namespaced_secret("hf-token", NS)
    assert set(secret.data) == {"token"}, "the key the pod reads"
    _serving(world, 2)


def test_the_secret_given_for_a_volume_lets_the_pods_start(start: Callable[..., World]) -> None:
    world = start("missing-secret-volume", tls=True)
    plan = _planned(world, _state(ModelState.BLOCKED), "a pod blocked")
    (command,) = plan.commands
    assert "--from-literal=token=<value>" in command  # the file HF_TOKEN_FILE names
    kubectl(world, command)
    _serving(world, 2)


def test_the_rollout_undo_given_brings_the_image_back(start: Callable[..., World]) -> None:
    world = start("image-pull-backoff", tls=True)
    plan = _planned(world, _state(ModelState.BLOCKED), "the new pod blocked")
    (command,) = plan.commands
    assert "deployment.apps/lightning-asr rolled back" in kubectl(world, command)
    spec = json.dumps(_deployment(world)["spec"])
    assert "lightning-asr:v1" in spec and "v2.0-typo" not in spec
    _serving(world, 2)


def test_the_sizelimit_given_lets_the_download_fit(start: Callable[..., World]) -> None:
    world = start("emptydir-evicted", tls=True)
    plan = _planned(world, lambda p: p.evicted, "a pod evicted")
    (command,) = plan.commands
    assert "deployment.apps/lightning-asr patched" in kubectl(world, command)
    volumes = _deployment(world)["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "models", "emptyDir": {"sizeLimit": "1Gi"}}], volumes
    world.wait_snapshot(
        lambda s: len([p for p in s.pods if p.release == "lightning-asr" and p.ready]) == 1,
        60,
        "a pod serving from its larger emptyDir",
    )


def test_one_replica_given_leaves_no_pod_waiting_for_the_volume(
    start: Callable[..., World],
) -> None:
    world = start("rwo-multi-attach", tls=True)
    plan = _planned(world, _state(ModelState.BLOCKED), "a pod blocked on the volume")
    # The command is one option among those the refusal states; the others change the design.
    assert "ReadWriteMany" in (plan.refused or "")
    (command,) = plan.commands
    assert "deployment.apps/lightning-asr scaled" in kubectl(world, command)
    assert _deployment(world)["spec"]["replicas"] == 1
    _serving(world, 1)


def test_the_storageclass_commands_given_show_what_is_missing(
    start: Callable[..., World],
) -> None:
    world = start("pvc-pending", tls=True)
    plan = _planned(
        world,
        lambda p: p.blocker is not None and p.blocker.details,  # the claim's warning is in
        "a pod waiting for its claim, the claim's warning seen",
    )
    assert 'ProvisioningFailed: storageclass.storage.k8s.io "models-aws-efs-sc2" not found' in (
        plan.summary
    ), plan.summary
    assert ".." not in plan.summary, plan.summary
    classes, claim = plan.commands
    assert classes == "kubectl get storageclass"
    listed = kubectl(world, classes)
    assert "models-aws-efs-sc " in listed and "models-aws-efs-sc2" not in listed, listed
    described = kubectl(world, claim)
    assert "models-aws-efs-sc2" in described and "Pending" in described, described
