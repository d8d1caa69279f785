"""A node whose container network fails, as the official client and kubectl see it on v1.32:
its kubelet answers but posts Ready False, the node controller's not-ready taints, pods that
keep running (logs, exec and stats work) while nothing new starts there, the scheduler going
elsewhere, the taint eviction that the answering kubelet finishes, and the node mending.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from simcluster.cluster import SimCluster
from simcluster.kubelet.network import NETWORK_NOT_READY
from tests.polling import wait_until
from tests.simcluster.kubelet_helpers import exec_in_pod
from tests.simcluster.node_helpers import (
    NS,
    events,
    kubectl_on,
    kubectl_only,
    node_ready,
    pod_ready,
    pods_of,
    replicaset,
    running,
    two_web_pods,
)

GRACE = 1.0
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
NETWORK_EVENT = f"network is not ready: {NETWORK_NOT_READY}"


def _taints(core: client.CoreV1Api, node: str) -> set[tuple[str, str]]:
    return {(t.key, t.effect) for t in core.read_node(node).spec.taints or []}


@pytest.fixture
def broken(sim_api: Any) -> tuple[SimCluster, client.CoreV1Api, str, Any]:
    """Two nodes, a ReplicaSet pod on each (default tolerations: 300 s), and the container
    network of one of the nodes broken, its taints in place."""
    sim, api = sim_api(nodes=2, node_monitor_grace=GRACE, kubelet_retry=0.5)
    core = client.CoreV1Api(api)
    client.AppsV1Api(api).create_namespaced_replica_set(NS, replicaset("web", 2, NOT_READY, None))
    pods = wait_until(lambda: running(core, "web", 2), timeout=20, what="2 web pods Ready")
    victim = pods[0]
    node = victim.spec.node_name
    said = sim.node_not_ready(node)["message"]
    assert said.startswith(f"node {node} is NotReady ({NETWORK_NOT_READY})"), said
    wait_until(lambda: len(_taints(core, node)) == 2, 5, "the not-ready taints")
    return sim, core, node, victim


def test_its_kubelet_says_not_ready_and_the_node_controller_taints_it(broken: Any) -> None:
    sim, core, node, victim = broken
    obj = core.read_node(node)
    conds = {c.type: c for c in obj.status.conditions}
    ready = conds["Ready"]
    assert (ready.status, ready.reason, ready.message) == (
        "False",
        "KubeletNotReady",
        NETWORK_NOT_READY,
    )
    assert {t: conds[t].status for t in ("MemoryPressure", "DiskPressure", "PIDPressure")} == {
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
    }
    taints = {(t.key, t.effect): t for t in obj.spec.taints}
    assert set(taints) == {(NOT_READY, "NoExecute"), (NOT_READY, "NoSchedule")}
    assert all(t.time_added is not None for t in taints.values())
    # The kubelet said it, and goes on renewing its heartbeat: not the node controller's
    # Unknown, and no MarkPodsNotReady (1.32 marks pods only when it turns a Ready node Unknown).
    (event,) = events(core, "default", node, "NodeNotReady")
    assert event.message == f"Node {node} status is now: NodeNotReady"
    assert (event.type, event.source.component, event.source.host) == ("Normal", "kubelet", node)
    assert sim.call(sim.heartbeats.silence, node) < GRACE
    pod = core.read_namespaced_pod(victim.metadata.name, NS)
    assert (pod_ready(pod), pod.status.phase, pod.metadata.deletion_timestamp) == (
        "True",
        "Running",
        None,
    )
    assert not events(core, NS, victim.metadata.name, "NodeNotReady")


def test_its_pods_keep_running_and_answer_logs_exec_and_stats(broken: Any) -> None:
    _, core, node, victim = broken
    name = victim.metadata.name
    assert "serving" in core.read_namespaced_pod_log(name, NS)
    code, out, _ = exec_in_pod(core, NS, name, "echo", "still here")
    assert (code, out) == (0, "still here\n")
    summary = json.loads(
        core.connect_get_node_proxy_with_path(node, "stats/summary", _preload_content=False).data
    )
    assert summary["node"]["nodeName"] == node
    assert name in {p["podRef"]["name"] for p in summary["pods"]}


def test_nothing_new_starts_there_and_the_scheduler_goes_elsewhere(broken: Any) -> None:
    sim, core, node, victim = broken
    name = victim.metadata.name
    # A container that dies is not started again while the network is down.
    sim.run(_kill(sim, name))
    pod = wait_until(
        lambda: (p := core.read_namespaced_pod(name, NS)) and pod_ready(p) == "False" and p,
        10,
        "the killed container seen",
    )
    wait_until(lambda: events(core, NS, name, "NetworkNotReady"), 10, "NetworkNotReady")
    (ev,) = events(core, NS, name, "NetworkNotReady")
    assert (ev.type, ev.message, ev.source.host) == ("Warning", NETWORK_EVENT, node)
    (st,) = pod.status.container_statuses
    assert st.restart_count == 0 and st.state.running is None, st
    # Pods scheduled now go to the Ready node; one that can only go here is refused by taint.
    client.AppsV1Api(core.api_client).patch_namespaced_replica_set(
        "web", NS, {"spec": {"replicas": 4}}
    )
    added = wait_until(
        lambda: [p for p in running(core, "web", 3) if p.metadata.name != name], 20, "3 more"
    )
    assert {p.spec.node_name for p in added} == {n for n in ("node-1", "node-2") if n != node}
    pinned = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pinned", "namespace": NS},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "containers": [{"name": "app", "image": "busybox:1.36", "command": ["sleep", "60"]}],
        },
    }
    core.create_namespaced_pod(NS, pinned)
    (refusal,) = wait_until(lambda: events(core, NS, "pinned", "FailedScheduling"), 10, "refused")
    assert refusal.message.startswith(
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."
    ), refusal.message

    # Mended: Ready again, untainted, and the container that waited starts.
    assert sim.node_ready(node)["message"] == f"node {node} is Ready"
    wait_until(lambda: not _taints(core, node), 5, "the taints removed")
    assert (node_ready(core, node).status, node_ready(core, node).reason) == (
        "True",
        "KubeletReady",
    )
    assert events(core, "default", node, "NodeReady")
    back = wait_until(
        lambda: (p := core.read_namespaced_pod(name, NS)) and pod_ready(p) == "True" and p,
        10,
        "the container running again",
    )
    assert back.status.container_statuses[0].restart_count == 1
    wait_until(lambda: core.read_namespaced_pod("pinned", NS).spec.node_name == node, 10, "bound")


async def _kill(sim: SimCluster, pod: str) -> dict[str, Any]:
    from simcluster.admin import SimAdmin

    return await SimAdmin(sim).kill_container(NS, pod)


def test_the_toleration_runs_out_and_the_answering_kubelet_removes_the_pod(
    sim_api: Any,
) -> None:
    sim, api = sim_api(nodes=2, node_monitor_grace=GRACE)
    core = client.CoreV1Api(api)
    client.AppsV1Api(api).create_namespaced_replica_set(NS, replicaset("web", 2, NOT_READY, 1))
    pods = wait_until(lambda: running(core, "web", 2), timeout=20, what="2 web pods Ready")
    victim, node = pods[0].metadata.name, pods[0].spec.node_name
    sim.node_not_ready(node)
    (ev,) = wait_until(lambda: events(core, NS, victim, "TaintManagerEviction"), 10, "evicted")
    assert ev.message == f"Marking for deletion Pod {NS}/{victim}"
    # No ghost: its kubelet answers, stops it and removes it.
    wait_until(lambda: victim not in {p.metadata.name for p in pods_of(core, "web")}, 15, "gone")
    fresh = wait_until(lambda: running(core, "web", 2), 20, "2 web pods Ready again")
    assert all(p.spec.node_name != node for p in fresh)
    assert node_ready(core, node).status == "False"  # still NotReady: it is the pods that moved


def test_losing_power_while_not_ready_swaps_the_taints_for_unreachable(broken: Any) -> None:
    sim, core, node, victim = broken
    sim.node_down(node)
    wait_until(lambda: node_ready(core, node).status == "Unknown", 10, "node Unknown")
    assert _taints(core, node) == {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")}
    # It was NotReady already: no second NodeNotReady (the node controller's), no pod marked.
    assert [e.source.component for e in events(core, "default", node, "NodeNotReady")] == [
        "kubelet"
    ]
    assert pod_ready(core.read_namespaced_pod(victim.metadata.name, NS)) == "True"


@kubectl_only
def test_kubectl_shows_the_not_ready_node(make_sim: Any, tmp_path: Path) -> None:
    sim = make_sim(tls=True, nodes=2, node_monitor_grace=GRACE)
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")

    kubectl = kubectl_on(kubeconfig)
    pods = two_web_pods(sim, kubectl, NOT_READY, None)
    name, node = pods[0].split()
    sim.node_not_ready(node)
    wait_until(lambda: "NotReady" in kubectl("get", "nodes").stdout, 10, "NotReady")
    line = next(row for row in kubectl("get", "nodes").stdout.splitlines() if row.startswith(node))
    assert line.split()[1] == "NotReady"
    described = wait_until(
        lambda: (
            (d := kubectl("describe", "node", node).stdout) and f"{NOT_READY}:NoSchedule" in d and d
        ),
        5,
        "the taints described",
    )
    assert f"{NOT_READY}:NoExecute" in described
    assert "KubeletNotReady" in described and "cni plugin not initialized" in described
    logs = kubectl("logs", name)
    assert (logs.returncode, logs.stdout) == (0, "serving\n"), logs.stderr
    deleted = kubectl("delete", "pod", name, "--wait=true", "--timeout=20s")
    assert deleted.returncode == 0, deleted.stderr
    assert name not in kubectl("get", "pods", "--no-headers").stdout


def test_the_cli_breaks_and_mends_a_nodes_network(make_sim: Any, tmp_path: Path) -> None:
    from simcluster.faultcli import fault_main

    sim = make_sim(nodes=2, node_monitor_grace=GRACE)
    kubeconfig = str(sim.write_kubeconfig(tmp_path / "kubeconfig"))

    def node() -> dict[str, Any]:
        return sim.call(lambda: sim.store.peek("nodes", None, "node-2"))

    assert fault_main(["--kubeconfig", kubeconfig, "node-ready", "node-2"]) == 1  # not broken
    assert fault_main(["--kubeconfig", kubeconfig, "node-not-ready", "node-2"]) == 0
    assert fault_main(["--kubeconfig", kubeconfig, "node-not-ready", "node-2"]) == 1  # already
    wait_until(lambda: node()["spec"].get("taints"), 10, "tainted")
    assert fault_main(["--kubeconfig", kubeconfig, "node-ready", "node-2"]) == 0
    wait_until(lambda: not node()["spec"].get("taints"), 10, "untainted")
    assert fault_main(["--kubeconfig", kubeconfig, "node-not-ready", "node-2"]) == 0
    sim.node_down("node-2")  # a machine that is off says nothing, Ready or not
    assert fault_main(["--kubeconfig", kubeconfig, "node-ready", "node-2"]) == 1
    assert fault_main(["--kubeconfig", kubeconfig, "node-not-ready", "node-2"]) == 1
    sim.node_up("node-2")  # it boots with its network still broken: NotReady
    assert next(c for c in node()["status"]["conditions"] if c["type"] == "Ready")["reason"] == (
        "KubeletNotReady"
    )
    assert fault_main(["--kubeconfig", kubeconfig, "node-ready", "node-2"]) == 0
