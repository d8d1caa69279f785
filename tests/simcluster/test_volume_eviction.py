"""An emptyDir over its sizeLimit gets its pod evicted by the kubelet's eviction manager, as
`emptyDirLimitEviction` does it, and the ReplicaSet replaces the Failed pod."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from kubernetes import client

from simcluster.cluster import SimCluster
from simcluster.kubelet.registry import agents
from tests.polling import wait_until
from tests.simcluster.conftest import NS, Kubectl, SimApi
from tests.simcluster.volume_helpers import condition, deployment, one_event, pods, running

MiB = 1024 * 1024
MESSAGE = 'Usage of EmptyDir volume "models" exceeds the limit "1Mi". '


def _fill(sim: SimCluster, pod: Any, size: int) -> None:
    """Write `size` bytes into the pod's emptyDir, as its container would."""
    path = agents(sim).volumes.emptydir_path(pod.metadata.uid, "models") / "model.bin.part"
    path.write_bytes(os.urandom(size))


def _evicting_world(sim: SimCluster, core: client.CoreV1Api) -> Any:
    agents(sim).settings.eviction_interval = 0.2  # a real kubelet looks every 10 s
    sim.apply(deployment("asr", {"name": "models", "emptyDir": {"sizeLimit": "1Mi"}}))
    return wait_until(lambda: running(core, "asr"), 8, "the pod running")[0]


def test_an_emptydir_over_its_limit_gets_the_pod_evicted_and_replaced(sim_api: SimApi) -> None:
    sim, api = sim_api(nodes=1)
    core = client.CoreV1Api(api)
    pod = _evicting_world(sim, core)
    _fill(sim, pod, MiB)  # exactly the limit is not over it
    time.sleep(0.7)
    assert core.read_namespaced_pod(pod.metadata.name, NS).status.phase == "Running"
    _fill(sim, pod, MiB + 64 * 1024)

    def failed() -> Any:
        p = core.read_namespaced_pod(pod.metadata.name, NS)
        return (
            p
            if p.status.phase == "Failed" and p.status.container_statuses[0].state.terminated
            else None
        )

    evicted = wait_until(failed, 5, "the pod to be evicted")
    assert evicted.status.reason == "Evicted" and evicted.status.message == MESSAGE
    [status] = evicted.status.container_statuses
    assert status.state.terminated.exit_code == 143 and status.state.terminated.reason == "Error"
    assert not status.ready and status.restart_count == 0
    assert condition(evicted, "Ready").status == "False"
    assert not [c for c in evicted.status.conditions if c.type == "DisruptionTarget"]
    event = one_event(core, pod.metadata.name, "Evicted")
    assert event.type == "Warning" and event.message == MESSAGE
    assert event.source.component == "kubelet" and event.source.host == pod.spec.node_name
    killing = one_event(core, pod.metadata.name, "Killing")
    assert killing.message == "Stopping container main"
    assert not agents(sim).volumes.emptydir_path(pod.metadata.uid, "models").exists()
    # The Failed pod stays; the ReplicaSet, counting active pods only, replaces it.
    replacement = wait_until(
        lambda: [p for p in running(core, "asr") if p.metadata.name != pod.metadata.name],
        8,
        "a replacement pod",
    )[0]
    assert {p.metadata.name for p in pods(core, "asr")} == {
        pod.metadata.name,
        replacement.metadata.name,
    }
    rs = client.AppsV1Api(api).list_namespaced_replica_set(NS).items[0]
    assert rs.status.replicas == 1 and rs.status.ready_replicas == 1
    # Deleting the evicted pod removes it (the kubelet lets a finished pod go).
    core.delete_namespaced_pod(pod.metadata.name, NS)
    wait_until(
        lambda: pod.metadata.name not in {p.metadata.name for p in pods(core, "asr")},
        5,
        "the evicted pod to go",
    )


@pytest.mark.kubectl
def test_kubectl_shows_the_evicted_pod(sim_api: SimApi, kubectl: Kubectl) -> None:
    sim, api = sim_api(nodes=1, tls=True)
    core = client.CoreV1Api(api)
    pod = _evicting_world(sim, core)
    _fill(sim, pod, 2 * MiB)
    wait_until(
        lambda: len(running(core, "asr")) == 1 and len(pods(core, "asr")) == 2, 8, "replaced"
    )
    wait_until(
        lambda: (
            core.read_namespaced_pod(pod.metadata.name, NS)
            .status.container_statuses[0]
            .state.terminated
        ),
        5,
        "the container stopped",
    )
    out = kubectl(sim, "get", "pods", "-n", NS)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    # kubectl shows a container's terminated reason over the pod's: Error, not Evicted.
    assert rows[pod.metadata.name][1:4] == ["0/1", "Error", "0"]
    assert [r[2] for name, r in rows.items() if name != pod.metadata.name] == ["Running"]
    described = kubectl(sim, "describe", "pod", pod.metadata.name, "-n", NS).stdout
    assert "Status:           Failed" in described
    assert "Reason:           Evicted" in described
    assert f"Message:          {MESSAGE.rstrip()}" in described
    assert "Warning  Evicted" in described and "Normal   Killing" in described
    assert "Exit Code:    143" in described
