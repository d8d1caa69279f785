"""A claim naming a StorageClass that does not exist: Pending, its pods unschedulable — as a
real PV controller and scheduler (1.30+) leave them — and the recoveries: the class appears,
or the claim is recreated with a class that exists."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kubernetes import client

from simcluster.cluster import SimCluster
from tests.polling import wait_until
from tests.simcluster.conftest import NS, Kubectl, SimApi
from tests.simcluster.volume_helpers import (
    claim,
    condition,
    deployment,
    events_for,
    one_event,
    pods,
    pvc_volume,
    running,
)

TYPO = "models-aws-efs-sc2"
NOT_FOUND = f'storageclass.storage.k8s.io "{TYPO}" not found'
UNSCHEDULABLE = (
    "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
    "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
)
EFS_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": TYPO},
    "provisioner": "efs.csi.aws.com",
    "parameters": {"provisioningMode": "efs-ap", "fileSystemId": "fs-0123456789abcdef0"},
}


def _pending_world(cluster: SimCluster) -> None:
    cluster.controllers.volumes.retry = 0.4  # the PV controller's 15 s sync, shortened
    cluster.apply(
        [
            claim("models-aws-efs-pvc", TYPO, ("ReadWriteMany",)),
            deployment("asr", pvc_volume("models-aws-efs-pvc"), replicas=2),
        ]
    )


def test_claim_with_missing_class_stays_pending_and_its_pods_unscheduled(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=3)
    core = client.CoreV1Api(api)
    _pending_world(sim)
    event = one_event(core, "models-aws-efs-pvc", "ProvisioningFailed")
    assert event.type == "Warning" and event.message == NOT_FOUND
    assert event.source.component == "persistentvolume-controller"
    assert event.involved_object.kind == "PersistentVolumeClaim"
    # Repeated at each sync: one event object whose count grows.
    wait_until(
        lambda: one_event(core, "models-aws-efs-pvc", "ProvisioningFailed").count >= 3,
        5,
        "the ProvisioningFailed count to grow",
    )
    pvc = core.read_namespaced_persistent_volume_claim("models-aws-efs-pvc", NS)
    assert pvc.status.phase == "Pending" and not pvc.spec.volume_name
    assert pvc.spec.storage_class_name == TYPO and not pvc.status.capacity
    assert not core.list_persistent_volume().items
    unscheduled = wait_until(
        lambda: [p for p in pods(core, "asr") if condition(p, "PodScheduled")] or None,
        5,
        "the pods to be looked at",
    )
    assert len(pods(core, "asr")) == 2
    for pod in pods(core, "asr"):
        cond = condition(pod, "PodScheduled")
        assert (cond.status, cond.reason, cond.message) == ("False", "Unschedulable", UNSCHEDULABLE)
        assert pod.status.phase == "Pending" and not pod.spec.node_name
        assert not pod.status.container_statuses and not pod.status.host_ip
        failed = one_event(core, pod.metadata.name, "FailedScheduling")
        assert failed.type == "Warning" and failed.message == UNSCHEDULABLE
        assert failed.source.component == "default-scheduler"
    assert unscheduled


def test_the_missing_class_appears_and_everything_starts(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=3)
    core = client.CoreV1Api(api)
    _pending_world(sim)
    one_event(core, "models-aws-efs-pvc", "ProvisioningFailed")
    client.StorageV1Api(api).create_storage_class(EFS_CLASS)
    pvc = wait_until(
        lambda: (
            p
            if (
                p := core.read_namespaced_persistent_volume_claim("models-aws-efs-pvc", NS)
            ).status.phase
            == "Bound"
            else None
        ),
        5,
        "the claim to bind",
    )
    assert pvc.spec.volume_name == f"pvc-{pvc.metadata.uid}"
    assert pvc.status.access_modes == ["ReadWriteMany"]
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    assert pv.spec.csi.driver == "efs.csi.aws.com" and pv.spec.storage_class_name == TYPO
    wait_until(lambda: len(running(core, "asr")) == 2, 8, "both pods running")
    for pod in running(core, "asr"):
        assert condition(pod, "PodScheduled").status == "True" and pod.spec.node_name


def test_the_claim_recreated_with_an_existing_class_binds_and_pods_start(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=3)
    core = client.CoreV1Api(api)
    _pending_world(sim)
    one_event(core, "models-aws-efs-pvc", "ProvisioningFailed")
    # Unscheduled pods do not hold the claim (pvc-protection counts scheduled pods only).
    core.delete_namespaced_persistent_volume_claim("models-aws-efs-pvc", NS)
    wait_until(
        lambda: (
            not [
                c
                for c in core.list_namespaced_persistent_volume_claim(NS).items
                if c.metadata.name == "models-aws-efs-pvc"
            ]
        ),
        5,
        "the claim to go",
    )
    fixed = claim("models-aws-efs-pvc", "models-aws-efs-sc", ("ReadWriteMany",))
    core.create_namespaced_persistent_volume_claim(NS, fixed)
    wait_until(lambda: len(running(core, "asr")) == 2, 8, "both pods running")
    pvc = core.read_namespaced_persistent_volume_claim("models-aws-efs-pvc", NS)
    assert pvc.status.phase == "Bound" and pvc.spec.storage_class_name == "models-aws-efs-sc"


def test_claims_without_a_class_and_missing_claims(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=2)
    core = client.CoreV1Api(api)
    sim.apply(
        [
            claim("defaulted", None),
            claim("no-class", ""),
            deployment("ghost", pvc_volume("not-there")),
        ]
    )
    bound = wait_until(
        lambda: (
            p
            if (p := core.read_namespaced_persistent_volume_claim("defaulted", NS)).status.phase
            == "Bound"
            else None
        ),
        5,
        "the class-less claim to get the default class",
    )
    assert bound.spec.storage_class_name == "standard"
    event = one_event(core, "no-class", "FailedBinding")
    assert event.type == "Normal"
    assert event.message == (
        "no persistent volumes available for this claim and no storage class is set"
    )
    assert core.read_namespaced_persistent_volume_claim("no-class", NS).status.phase == "Pending"
    ghost = wait_until(lambda: pods(core, "ghost"), 5, "the ghost pod")[0]
    failed = one_event(core, ghost.metadata.name, "FailedScheduling")
    assert failed.message == (
        '0/2 nodes are available: persistentvolumeclaim "not-there" not found. '
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )


def test_failed_scheduling_is_retried_and_counted(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=3)
    sim.controllers.scheduler.retry = 0.4  # the 5-minute flush of unschedulable pods, shortened
    core = client.CoreV1Api(api)
    _pending_world(sim)
    pod = wait_until(lambda: pods(core, "asr"), 5, "the pods")[0]
    wait_until(
        lambda: one_event(core, pod.metadata.name, "FailedScheduling").count >= 3,
        5,
        "FailedScheduling to be counted",
    )
    # Its own status write is no reason to try again: no burst of attempts at creation.
    assert len(events_for(core, pod.metadata.name, "FailedScheduling")) == 1


@pytest.mark.kubectl
def test_kubectl_shows_the_pending_claim_and_unscheduled_pods(
    make_sim: Callable[..., SimCluster], kubectl: Kubectl
) -> None:
    sim = make_sim(nodes=3, tls=True)
    _pending_world(sim)
    time.sleep(1.0)
    out = kubectl(sim, "get", "pvc", "-n", NS)
    assert out.returncode == 0, out.stderr
    cells = out.stdout.splitlines()[1].split()
    assert cells[:3] == ["models-aws-efs-pvc", "Pending", TYPO]
    out = kubectl(sim, "get", "pods", "-n", NS, "-l", "app=asr")
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    assert len(rows) == 2 and all(r[1:4] == ["0/1", "Pending", "0"] for r in rows), out.stdout
    name = rows[0][0]
    described = kubectl(sim, "describe", "pod", name, "-n", NS).stdout
    assert "Warning  FailedScheduling" in described
    assert "default-scheduler  0/3 nodes are available: pod has unbound immediate" in described
    assert "Node:             <none>" in described
    described = kubectl(sim, "describe", "pvc", "models-aws-efs-pvc", "-n", NS).stdout
    assert "Status:        Pending" in described and f"StorageClass:  {TYPO}" in described
    assert "Warning  ProvisioningFailed" in described and NOT_FOUND in described
    out = kubectl(sim, "get", "storageclass")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "PROVISIONER",
        "RECLAIMPOLICY",
        "VOLUMEBINDINGMODE",
        "ALLOWVOLUMEEXPANSION",
        "AGE",
    ]
    classes = {line.split()[0]: line.split() for line in lines[1:]}
    assert classes["standard"][1] == "(default)"
    assert classes["gp3"][1:5] == ["ebs.csi.aws.com", "Delete", "Immediate", "true"]
    assert classes["models-aws-efs-sc"][1] == "efs.csi.aws.com"
    assert TYPO not in classes
