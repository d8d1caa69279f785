"""ReadWriteOnce block volumes attach to one node at a time: a second pod elsewhere is
scheduled but waits in ContainerCreating with the attach/detach controller's Multi-Attach
error, and starts once the holder is gone. Pods on one node share the volume; RWX (EFS)
volumes are not attached at all; ReadWriteOncePod is the scheduler's to refuse."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from simcluster.cluster import SimCluster
from simcluster.kubelet.registry import agents
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


def _two_replicas(sim: SimCluster, init: bool = False) -> None:
    sim.apply(
        [claim("models-ebs-pvc", "gp3"), deployment("asr", pvc_volume("models-ebs-pvc"), 2, init)]
    )


def _stuck(core: client.CoreV1Api) -> tuple[Any, Any]:
    """(the pod running on the volume, the one waiting for it) once they are so."""

    def split() -> tuple[Any, Any] | None:
        up, all_pods = running(core, "asr"), pods(core, "asr")
        waiting = [p for p in all_pods if p not in up and p.spec.node_name]
        return (up[0], waiting[0]) if len(up) == 1 and len(waiting) == 1 else None

    return wait_until(split, 8, "one pod running and one waiting for the volume")


def _pv_name(core: client.CoreV1Api) -> str:
    return str(core.read_namespaced_persistent_volume_claim("models-ebs-pvc", NS).spec.volume_name)


def test_a_second_node_waits_with_a_multi_attach_error(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=2)
    core = client.CoreV1Api(api)
    _two_replicas(sim)
    holder, waiter = _stuck(core)
    assert holder.spec.node_name != waiter.spec.node_name  # spread over the two nodes
    pv = _pv_name(core)
    # Scheduled (the scheduler does not check ReadWriteOnce) but not started.
    time.sleep(1.0)
    waiter = core.read_namespaced_pod(waiter.metadata.name, NS)
    assert waiter.status.phase == "Pending"
    assert condition(waiter, "PodScheduled").status == "True"
    assert condition(waiter, "PodReadyToStartContainers").status == "False"
    assert condition(waiter, "Ready").status == "False"
    [status] = waiter.status.container_statuses
    assert status.state.waiting.reason == "ContainerCreating" and not status.ready
    assert status.restart_count == 0 and not status.state.running
    event = one_event(core, waiter.metadata.name, "FailedAttachVolume")
    assert event.type == "Warning" and event.source.component == "attachdetach-controller"
    assert event.message == (
        f'Multi-Attach error for volume "{pv}" Volume is already used by pod(s) '
        f"{holder.metadata.name}"
    )
    assert event.count == 1  # reported once per volume and node, never repeated
    # A 1.28+ kubelet says nothing when its attach-and-mount wait runs out.
    assert not events_for(core, waiter.metadata.name, "FailedMount")
    attached = core.read_node(holder.spec.node_name).status.volumes_attached
    assert [v.name for v in attached] == [
        f"kubernetes.io/csi/ebs.csi.aws.com^{core.read_persistent_volume(pv).spec.csi.volume_handle}"
    ]
    assert not core.read_node(waiter.spec.node_name).status.volumes_attached
    ok = one_event(core, holder.metadata.name, "SuccessfulAttachVolume")
    assert ok.message == f'AttachVolume.Attach succeeded for volume "{pv}" '


def test_the_volume_moves_when_its_holder_goes(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=2)
    core = client.CoreV1Api(api)
    sim.apply(
        [
            claim("models-ebs-pvc", "gp3"),
            deployment("first", pvc_volume("models-ebs-pvc"), 1, node="node-1"),
        ]
    )
    holder = wait_until(lambda: running(core, "first"), 8, "the holder")[0]
    sim.apply(deployment("second", pvc_volume("models-ebs-pvc"), 1, node="node-2"))
    waiter = wait_until(lambda: pods(core, "second"), 5, "the waiting pod")[0]
    one_event(core, waiter.metadata.name, "FailedAttachVolume")
    client.AppsV1Api(api).patch_namespaced_deployment_scale("first", NS, {"spec": {"replicas": 0}})
    wait_until(
        lambda: [p.metadata.name for p in running(core, "second")] == [waiter.metadata.name],
        8,
        "the waiting pod to start on node-2",
    )
    pv = _pv_name(core)
    ok = one_event(core, waiter.metadata.name, "SuccessfulAttachVolume")
    assert ok.message == f'AttachVolume.Attach succeeded for volume "{pv}" '
    assert not core.read_node("node-1").status.volumes_attached
    assert len(core.read_node("node-2").status.volumes_attached) == 1
    assert holder.spec.node_name == "node-1"


def test_pods_on_one_node_share_a_read_write_once_volume(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=1)
    core = client.CoreV1Api(api)
    _two_replicas(sim)
    wait_until(lambda: len(running(core, "asr")) == 2, 8, "both pods running on the one node")
    for pod in pods(core, "asr"):
        assert not events_for(core, pod.metadata.name, "FailedAttachVolume")


def test_efs_and_hostpath_volumes_are_not_attached(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=2)
    core = client.CoreV1Api(api)
    sim.apply(
        [
            claim("shared", "models-aws-efs-sc", ("ReadWriteMany",)),
            claim("local", "standard"),
            deployment("efs", pvc_volume("shared"), 2),
            deployment("local", pvc_volume("local"), 2),
            deployment("scratch", {"name": "models", "emptyDir": {}}, 2),
        ]
    )
    for app in ("efs", "local", "scratch"):

        def both(app: str = app) -> bool:
            return len(running(core, app)) == 2

        wait_until(both, 8, f"{app} running")
        assert len({p.spec.node_name for p in running(core, app)}) == 2
    assert not [e for e in core.list_namespaced_event(NS).items if "Attach" in e.reason]
    assert all(not n.status.volumes_attached for n in core.list_node().items)


def test_several_holders_are_named(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=2)
    core = client.CoreV1Api(api)
    sim.apply(
        [
            claim("models-ebs-pvc", "gp3"),
            deployment("first", pvc_volume("models-ebs-pvc"), 2, node="node-1"),
        ]
    )
    wait_until(lambda: len(running(core, "first")) == 2, 8, "two holders on node-1")
    holders = sorted(p.metadata.name for p in running(core, "first"))
    sim.apply(deployment("second", pvc_volume("models-ebs-pvc"), 1, node="node-2"))
    waiter = wait_until(lambda: pods(core, "second"), 5, "the second pod")[0]
    event = one_event(core, waiter.metadata.name, "FailedAttachVolume")
    assert event.message == (
        f'Multi-Attach error for volume "{_pv_name(core)}" Volume is already used by pod(s) '
        f"{', '.join(holders)}"
    )


def test_the_pre_1_28_kubelet_timeout_event_when_asked_for(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=2)
    settings = agents(sim).settings
    settings.mount_timeout = 0.6  # podAttachAndMountTimeout is 2m3s
    settings.mount_timeout_event = True
    core = client.CoreV1Api(api)
    _two_replicas(sim)
    _holder, waiter = _stuck(core)
    wait_until(
        lambda: one_event(core, waiter.metadata.name, "FailedMount").count >= 2,
        6,
        "FailedMount at each timeout",
    )
    event = one_event(core, waiter.metadata.name, "FailedMount")
    assert event.type == "Warning" and event.source.component == "kubelet"
    assert event.source.host == waiter.spec.node_name
    assert event.message == (
        "Unable to attach or mount volumes: unmounted volumes=[models], unattached "
        "volumes=[models], failed to process volumes=[]: timed out waiting for the condition"
    )


def test_read_write_once_pod_is_refused_by_the_scheduler(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=2)
    core = client.CoreV1Api(api)
    sim.apply(
        [
            claim("solo", "gp3", ("ReadWriteOncePod",)),
            deployment("one", pvc_volume("solo"), 1),
        ]
    )
    wait_until(lambda: running(core, "one"), 8, "the first pod")
    sim.apply(deployment("two", pvc_volume("solo"), 1))
    waiter = wait_until(lambda: pods(core, "two"), 5, "the second pod")[0]
    message = (
        "0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with the same "
        "name and ReadWriteOncePod access mode. preemption: 0/2 nodes are available: 2 No "
        "preemption victims found for incoming pod."
    )
    event = one_event(core, waiter.metadata.name, "FailedScheduling")
    assert event.message == message
    waiter = core.read_namespaced_pod(waiter.metadata.name, NS)
    cond = condition(waiter, "PodScheduled")
    assert (cond.status, cond.reason, cond.message) == ("False", "Unschedulable", message)
    assert not waiter.spec.node_name
    client.AppsV1Api(api).patch_namespaced_deployment_scale("one", NS, {"spec": {"replicas": 0}})
    wait_until(
        lambda: any(p.metadata.name == waiter.metadata.name for p in running(core, "two")),
        8,
        "the second pod to run once the first is gone",
    )


@pytest.mark.kubectl
def test_kubectl_shows_container_creating_and_the_event(sim_api: SimApi, kubectl: Kubectl) -> None:
    sim, api = sim_api(nodes=2, tls=True)
    core = client.CoreV1Api(api)
    sim.apply(
        [
            claim("models-ebs-pvc", "gp3"),
            deployment("asr", pvc_volume("models-ebs-pvc"), 2),
            claim("init-pvc", "gp3"),
            deployment("withinit", pvc_volume("init-pvc"), 2, init=True),
        ]
    )
    _, waiter = _stuck(core)
    wait_until(lambda: len(running(core, "withinit")) == 1, 8, "one withinit pod running")
    out = kubectl(sim, "get", "pods", "-n", NS, "-o", "wide")
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    assert rows[waiter.metadata.name][1:4] == ["0/1", "ContainerCreating", "0"]
    assert rows[waiter.metadata.name][5] == "<none>"  # no pod IP before a sandbox
    assert rows[waiter.metadata.name][6] == waiter.spec.node_name
    statuses = sorted(r[2] for name, r in rows.items() if name.startswith("withinit"))
    assert statuses == ["Init:0/1", "Running"], out.stdout
    described = kubectl(sim, "describe", "pod", waiter.metadata.name, "-n", NS).stdout
    assert "Status:           Pending" in described
    assert (
        "Warning  FailedAttachVolume" in described and "Multi-Attach error for volume" in described
    )
    assert "attachdetach-controller" in described
    assert "      Reason:       ContainerCreating" in described
