"""The volume scenarios reach the stuck states they promise, with the real downloader in the
pods: a claim that cannot bind, a ReadWriteOnce volume two nodes want, an emptyDir that
outgrows its limit mid-download."""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client

from simcluster.kubelet.registry import agents
from tests.polling import wait_until
from tests.scenarios.conftest import NS, World

KiB = 1024


def test_pvc_pending_leaves_every_pod_unscheduled(start: Callable[..., World]) -> None:
    w = start("pvc-pending")
    pvc = w.core.read_namespaced_persistent_volume_claim("models-aws-efs-pvc", NS)
    assert pvc.spec.storage_class_name == "models-aws-efs-sc2"
    wait_until(lambda: len(w.warnings("FailedScheduling")) == 2, 10, "both pods unschedulable")
    failed = w.warnings("ProvisioningFailed")
    assert [e.message for e in failed] == [
        'storageclass.storage.k8s.io "models-aws-efs-sc2" not found'
    ]
    assert w.core.read_namespaced_persistent_volume_claim(
        "models-aws-efs-pvc", NS
    ).status.phase == ("Pending")
    for pod in w.pods():
        assert not pod.spec.node_name and pod.status.phase == "Pending"
        assert pod.status.conditions[0].reason == "Unschedulable"
    assert w.stats("v1").requests == 0
    # The fix: the class the claim names appears; the claim binds and the pods download.
    client.StorageV1Api(w.api).create_storage_class(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "models-aws-efs-sc2"},
            "provisioner": "efs.csi.aws.com",
        }
    )
    wait_until(lambda: len(w.ready()) == 2, 20, "both pods ready")


def test_rwo_multi_attach_serves_from_one_pod_and_strands_the_other(
    start: Callable[..., World],
) -> None:
    w = start("rwo-multi-attach", speed=2048 * KiB)
    ready = wait_until(lambda: w.ready() if len(w.ready()) == 1 else None, 20, "one pod ready")
    serving = ready[0]
    stuck = next(p for p in w.pods() if p.metadata.name != serving.metadata.name)
    assert stuck.spec.node_name and stuck.spec.node_name != serving.spec.node_name
    assert stuck.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    [event] = w.warnings("FailedAttachVolume")
    assert event.involved_object.name == stuck.metadata.name
    assert event.message.startswith('Multi-Attach error for volume "pvc-')
    assert event.message.endswith(f"Volume is already used by pod(s) {serving.metadata.name}")
    assert b"INFO: Server ready on port 2269" in w.log(serving.metadata.name)
    assert w.stats("v1").requests >= 1


def test_emptydir_evicted_evicts_mid_download_and_starts_over(start: Callable[..., World]) -> None:
    w = start("emptydir-evicted", speed=512 * KiB)  # 4 MiB model: the limit (2 MiB) in ~4 s
    agents(w.cluster).settings.eviction_interval = 0.3
    first = wait_until(lambda: w.pods(), 5, "the first pod")[0]

    def evicted() -> bool:
        p = w.core.read_namespaced_pod(first.metadata.name, NS)
        return p.status.phase == "Failed" and p.status.reason == "Evicted"

    wait_until(evicted, 12, "the first pod evicted")
    pod = w.core.read_namespaced_pod(first.metadata.name, NS)
    limit = str(w.runtime.models["v1"].size // 2)
    assert pod.status.message == f'Usage of EmptyDir volume "models" exceeds the limit "{limit}". '
    assert [e.involved_object.name for e in w.warnings("Evicted")] == [first.metadata.name]
    log = w.log(first.metadata.name)
    assert b"INFO: Server ready" not in log  # it never got to serve
    # A replacement starts the download again from zero.
    again = wait_until(
        lambda: [
            p
            for p in w.pods()
            if p.metadata.name != first.metadata.name and p.status.phase == "Running"
        ],
        8,
        "a replacement downloading",
    )[0]
    wait_until(lambda: w.log(again.metadata.name), 5, "the replacement's log")
    assert w.stats("v1").requests >= 2
