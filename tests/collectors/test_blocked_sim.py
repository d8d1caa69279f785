"""Pods that cannot start, seen through the live feed on the simulator's scenarios: the state,
the cause in the API's words, the fix's answer, and the way back once the cause is gone."""

from __future__ import annotations

from kubernetes import client

from actions.fix import diagnose, plan_fix
from actions.options import ActionOptions
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.units import format_bytes

KiB = 1024
MiB = 1024**2


def _blocked(s: ClusterSnapshot) -> list[PodInfo]:
    return [p for p in s.pods if p.model_state is ModelState.BLOCKED]


def test_a_readwriteonce_volume_held_on_another_node_blocks_at_once(start, start_feed) -> None:
    world = start("rwo-multi-attach", speed=1 * MiB)
    _feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: len(_blocked(s)) == 1 and any(p.ready for p in s.pods),
        30,
        "one pod serving, the other blocked on the volume",
    )
    (stuck,) = _blocked(snap)
    holder = next(p for p in snap.pods if p.ready)
    assert stuck.blocker is not None and stuck.blocker.kind == "volume"
    assert stuck.evidence[0].startswith("volume cannot be attached: Multi-Attach error for volume")
    assert stuck.evidence[0].endswith(f"Volume is already used by pod(s) {holder.name}")
    assert stuck.blocker.gist == "volume attached to another node"
    d = diagnose(snap, stuck)
    assert d.kind == "cannot-start" and "Multi-Attach" in d.why


def test_an_unbound_claim_is_pending_with_its_cause_then_blocked_until_it_binds(
    start, start_feed
) -> None:
    world = start("pvc-pending", speed=1 * MiB)
    stall_after = 3.0
    _feed, rec = start_feed(world.cluster, refresh=1, stall_after=stall_after)
    early = rec.wait(
        lambda s: any(p.blocker and p.blocker.kind == "schedule" for p in s.pods),
        20,
        "a pod not scheduled, with the scheduler's reason",
    )
    first = next(p for p in early.pods if p.blocker)
    assert first.blocker is not None and first.unscheduled is not None
    assert "pod has unbound immediate PersistentVolumeClaims" in first.unscheduled
    late = rec.wait(lambda s: len(_blocked(s)) == 2, 20, "both pods blocked after the grace")
    pod = _blocked(late)[0]
    assert pod.blocker is not None and pod.blocker.gist == "unscheduled: its claim is not bound"
    assert any(
        e.startswith("models-aws-efs-pvc: ProvisioningFailed: storageclass.storage.k8s.io")
        for e in pod.evidence
    ), pod.evidence
    (claim,) = late.volumes
    assert claim.phase == "Pending" and claim.usage is not None
    assert "no volume is bound to it yet" in (claim.usage.note or "")
    # The way back: the StorageClass the claim names appears, the claim binds, the pods run.
    pvc = client.CoreV1Api(world.api).read_namespaced_persistent_volume_claim(
        "models-aws-efs-pvc", "smallest"
    )
    client.StorageV1Api(world.api).create_storage_class(
        client.V1StorageClass(
            metadata=client.V1ObjectMeta(name=pvc.spec.storage_class_name),
            provisioner="efs.csi.aws.com",
        )
    )
    rec.wait(
        lambda s: not _blocked(s) and any(p.model_state is not ModelState.PENDING for p in s.pods),
        30,
        "the pods scheduled once the claim bound",
    )


def test_an_eviction_over_the_emptydir_limit_is_a_failure_that_says_which_limit(
    start, start_feed
) -> None:
    world = start("emptydir-evicted", model_size=4 * MiB, speed=512 * KiB)
    _feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: any(p.status_reason == "Evicted" for p in s.pods),
        40,
        "a pod evicted over its emptyDir's limit",
    )
    evicted = next(p for p in snap.pods if p.status_reason == "Evicted")
    assert evicted.model_state is ModelState.FAILED
    assert evicted.evidence[0].startswith(
        'pod phase Failed (Evicted): Usage of EmptyDir volume "models" exceeds the limit'
    )
    d = diagnose(snap, evicted)
    assert d.kind == "evicted"
    refusal = plan_fix(snap, evicted.name, ActionOptions()).refused or ""
    assert "evicted again" in refusal and "sizeLimit" in refusal


def test_a_rollout_to_an_image_that_does_not_exist_blocks_its_pod_with_the_registrys_answer(
    start, start_feed
) -> None:
    world = start("image-pull-backoff", speed=1 * MiB)
    _feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(lambda s: len(_blocked(s)) == 1, 40, "the new pod blocked on its image")
    (stuck,) = _blocked(snap)
    image = "smallest/lightning-asr:v2.0-typo"
    assert stuck.blocker is not None and stuck.blocker.gist == f"cannot pull {image}"
    assert stuck.evidence[0].startswith(f"container lightning-asr: image {image} cannot be pulled")
    assert any(
        e.startswith(f'Failed to pull image "{image}": rpc error: code = NotFound')
        for e in stuck.evidence
    ), stuck.evidence
    assert sum(1 for p in snap.pods if p.ready) == 2, "the old pods keep serving"
    # A rollout brought it (revision 2): going back is a command to copy.
    assert plan_fix(snap, stuck.name, ActionOptions()).commands == (
        "kubectl -n smallest rollout undo deployment/lightning-asr",
    )


def test_a_missing_secret_blocks_every_pod_until_it_is_created(start, start_feed) -> None:
    world = start("missing-secret", speed=1 * MiB, kubelet_retry=0.5)
    _feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: len([p for p in _blocked(s) if p.name.startswith("lightning-asr")]) == 2,
        30,
        "both ASR pods blocked on the Secret",
    )
    stuck = _blocked(snap)[0]
    assert stuck.blocker is not None and stuck.blocker.gist == 'secret "hf-token" not found'
    client.CoreV1Api(world.api).create_namespaced_secret(
        "smallest",
        client.V1Secret(metadata=client.V1ObjectMeta(name="hf-token"), string_data={"token": "x"}),
    )
    rec.wait(lambda s: not _blocked(s), 30, "the pods started once the Secret exists")


def test_a_server_killed_for_memory_loading_a_good_model_is_failed_not_corrupt(
    start, start_feed
) -> None:
    world = start("oom-on-load", speed=2 * MiB)
    _feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: any(p.model_state is ModelState.FAILED for p in s.pods),
        40,
        "a pod failed on its memory limit",
    )
    killed = next(p for p in snap.pods if p.model_state is ModelState.FAILED)
    assert killed.evidence[0].startswith("container lightning-asr was OOMKilled (exit 137"), (
        killed.evidence
    )
    assert f"its memory limit is {format_bytes(2 * MiB)}" in killed.evidence[0]
    assert not any(p.model_state is ModelState.CORRUPT for p in snap.pods)
    plan = plan_fix(snap, killed.name, ActionOptions())
    assert plan.decision == "out-of-memory" and not plan.steps
    assert "container lightning-asr's resources.limits.memory" in (plan.refused or "")


def test_a_secret_volume_never_created_blocks_at_once_until_it_exists(start, start_feed) -> None:
    world = start("missing-secret-volume", speed=1 * MiB)
    _feed, rec = start_feed(world.cluster, refresh=1)
    snap = rec.wait(
        lambda s: len([p for p in _blocked(s) if p.release == "lightning-asr"]) >= 1,
        20,
        "a pod blocked on its Secret volume",
    )
    stuck = next(p for p in _blocked(snap) if p.release == "lightning-asr")
    assert stuck.blocker is not None and stuck.blocker.kind == "config"
    assert stuck.blocker.gist == 'secret "hf-token" not found'
    assert stuck.evidence[0] == 'volume hf-token cannot be mounted: secret "hf-token" not found'
    plan = plan_fix(snap, stuck.name, ActionOptions())
    assert plan.decision == "cannot-start" and "Create Secret hf-token" in (plan.refused or "")
    client.CoreV1Api(world.api).create_namespaced_secret(
        "smallest",
        client.V1Secret(metadata=client.V1ObjectMeta(name="hf-token"), string_data={"token": "x"}),
    )
    rec.wait(
        lambda s: not _blocked(s) and any(p.model_state is not ModelState.PENDING for p in s.pods),
        20,
        "the pods starting once the Secret exists",
    )
