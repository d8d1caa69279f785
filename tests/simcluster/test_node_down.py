"""A node that loses its power, as the official client and kubectl see it on v1.32: the
node lifecycle controller's NotReady, the unreachable taints, pods not Ready, the taint
eviction controller's Terminating pods, a ReplicaSet's replacement elsewhere, logs that
cannot reach the kubelet, and the node coming back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from simcluster.cluster import SimCluster
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
UNREACHABLE = "node.kubernetes.io/unreachable"


@pytest.fixture
def lost(sim_api: Any) -> tuple[SimCluster, client.CoreV1Api, str, Any]:
    """Two nodes, a ReplicaSet pod on each (tolerating the unreachable taint 1 s), and the
    node of one of them powered off."""
    sim, api = sim_api(nodes=2, node_monitor_grace=GRACE)
    core = client.CoreV1Api(api)
    client.AppsV1Api(api).create_namespaced_replica_set(NS, replicaset("web", 2, UNREACHABLE, 1))
    pods = wait_until(lambda: running(core, "web", 2), timeout=20, what="2 web pods Ready")
    victim = pods[0]
    sim.node_down(victim.spec.node_name)
    return sim, core, victim.spec.node_name, victim


def test_a_silent_node_turns_unknown_with_taints_events_and_unreadypods_of(
    sim_api: Any,
) -> None:
    sim, api = sim_api(nodes=2, node_monitor_grace=GRACE)
    core = client.CoreV1Api(api)
    client.AppsV1Api(api).create_namespaced_replica_set(
        NS, replicaset("slow", 2, UNREACHABLE, None)
    )
    pods = wait_until(lambda: running(core, "slow", 2), timeout=20, what="2 slow pods Ready")
    victim = pods[0]
    node = victim.spec.node_name
    assert sim.node_down(node)["message"].startswith(f"node {node} is down")
    assert node_ready(core, node).status == "True"  # nobody has noticed yet

    wait_until(lambda: node_ready(core, node).status == "Unknown", 10, "node Unknown")
    obj = core.read_node(node)
    for cond in obj.status.conditions:
        if cond.type in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
            assert (cond.status, cond.reason, cond.message) == (
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
            )
    taints = {(t.key, t.effect): t for t in obj.spec.taints}
    assert set(taints) == {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")}
    assert all(t.time_added is not None for t in taints.values())
    (event,) = events(core, "default", node, "NodeNotReady")
    assert event.message == f"Node {node} status is now: NodeNotReady"
    assert (event.type, event.source.component) == ("Normal", "node-controller")

    pod = wait_until(
        lambda: (
            (p := core.read_namespaced_pod(victim.metadata.name, NS))
            and pod_ready(p) == "False"
            and p
        ),
        5,
        "the lost pod not Ready",
    )
    ready = next(c for c in pod.status.conditions if c.type == "Ready")
    assert ready.status == "False"
    assert pod.status.phase == "Running"  # the last status the kubelet posted, otherwise
    assert pod.metadata.deletion_timestamp is None  # default tolerations: 300 s
    tolerations = {(t.key, t.toleration_seconds) for t in pod.spec.tolerations}
    assert {(UNREACHABLE, 300), ("node.kubernetes.io/not-ready", 300)} <= tolerations
    (pev,) = events(core, NS, victim.metadata.name, "NodeNotReady")
    assert (pev.type, pev.message, pev.source.component) == (
        "Warning",
        "Node is not ready",
        "node-controller",
    )
    other = next(p for p in pods if p.spec.node_name != node)
    assert pod_ready(core.read_namespaced_pod(other.metadata.name, NS)) == "True"


def test_expired_toleration_marks_the_pod_for_deletion_and_it_is_replaced(lost: Any) -> None:
    _, core, node, victim = lost
    name = victim.metadata.name
    pod = wait_until(
        lambda: (p := core.read_namespaced_pod(name, NS)).metadata.deletion_timestamp and p,
        10,
        "the lost pod marked for deletion",
    )
    cond = next(c for c in pod.status.conditions if c.type == "DisruptionTarget")
    assert (cond.status, cond.reason, cond.message) == (
        "True",
        "DeletionByTaintManager",
        "Taint manager: deleting due to NoExecute taint",
    )
    assert pod.metadata.deletion_grace_period_seconds == 5
    (ev,) = events(core, NS, name, "TaintManagerEviction")
    assert ev.message == f"Marking for deletion Pod {NS}/{name}"
    assert ev.source.component == "taint-eviction-controller"

    replacement = wait_until(
        lambda: [
            p
            for p in running(core, "web", 2)
            if p.metadata.name != name
            and p.spec.node_name != node
            and len(running(core, "web", 2)) == 2
        ],
        15,
        "a replacement Ready on the other node",
    )
    assert all(p.spec.node_name != node for p in replacement)
    # The kubelet is gone: nothing finishes the deletion, past its grace period too.
    assert core.read_namespaced_pod(name, NS).metadata.deletion_timestamp is not None

    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log(name, NS)
    ip = next(a.address for a in core.read_node(node).status.addresses if a.type == "InternalIP")
    assert err.value.status == 500
    assert json.loads(err.value.body)["message"] == (
        f'Get "https://{ip}:10250/containerLogs/{NS}/{name}/app": '
        f"dial tcp {ip}:10250: connect: no route to host"
    )

    core.delete_namespaced_pod(name, NS, grace_period_seconds=0)
    wait_until(lambda: not [p for p in pods_of(core, "web") if p.metadata.name == name], 5, "gone")


def test_node_up_removes_the_taints_and_the_terminating_pod(lost: Any) -> None:
    sim, core, node, victim = lost
    name = victim.metadata.name
    wait_until(
        lambda: core.read_namespaced_pod(name, NS).metadata.deletion_timestamp,
        10,
        "the lost pod marked for deletion",
    )
    sim.node_up(node)
    wait_until(lambda: not core.read_node(node).spec.taints, 5, "the taints removed")
    assert node_ready(core, node).status == "True"
    wait_until(
        lambda: not [p for p in pods_of(core, "web") if p.metadata.name == name],
        10,
        "the terminating pod removed by the returning kubelet",
    )
    reasons = {
        e.reason
        for e in core.list_namespaced_event("default").items
        if e.involved_object.name == node
    }
    assert {"NodeNotReady", "Rebooted", "NodeReady"} <= reasons


def test_node_up_restarts_the_pods_it_still_has(sim_api: Any) -> None:
    sim, api = sim_api(nodes=1, node_monitor_grace=GRACE)
    core = client.CoreV1Api(api)
    client.AppsV1Api(api).create_namespaced_replica_set(
        NS, replicaset("keep", 1, UNREACHABLE, None)
    )
    (pod,) = wait_until(lambda: running(core, "keep", 1), 20, "the pod Ready")
    node = pod.spec.node_name
    sim.node_down(node)
    wait_until(
        lambda: pod_ready(core.read_namespaced_pod(pod.metadata.name, NS)) == "False", 10, "unready"
    )
    # a node that is down has no pods to schedule onto
    sim.node_up(node)
    back = wait_until(
        lambda: (
            (p := core.read_namespaced_pod(pod.metadata.name, NS)) and pod_ready(p) == "True" and p
        ),
        15,
        "the pod Ready again",
    )
    (st,) = back.status.container_statuses
    assert st.restart_count == 1
    assert st.last_state.terminated.reason == "Unknown"
    assert st.last_state.terminated.exit_code == 255
    assert events(core, NS, pod.metadata.name, "SandboxChanged")


def test_exec_and_stats_of_a_down_node_fail(lost: Any) -> None:
    _, core, node, victim = lost
    ip = next(a.address for a in core.read_node(node).status.addresses if a.type == "InternalIP")
    with pytest.raises(ApiException) as err:
        core.connect_get_node_proxy_with_path(node, "stats/summary")
    assert err.value.status == 503
    with pytest.raises(Exception) as failed:
        exec_in_pod(core, NS, victim.metadata.name, "true")
    assert f"error dialing backend: dial tcp {ip}:10250: connect: no route to host" in str(
        failed.value
    )
    assert (
        f"error trying to reach service: dial tcp {ip}:10250: connect: no route to host"
        in err.value.body
    )


@kubectl_only
def test_kubectl_shows_the_lost_node(make_sim: Any, tmp_path: Path) -> None:
    sim = make_sim(tls=True, nodes=2, node_monitor_grace=GRACE)
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")

    kubectl = kubectl_on(kubeconfig)
    pods = two_web_pods(sim, kubectl, UNREACHABLE, 1)
    name, node = pods[0].split()
    sim.node_down(node)
    wait_until(lambda: "NotReady" in kubectl("get", "nodes").stdout, 10, "NotReady")
    line = next(row for row in kubectl("get", "nodes").stdout.splitlines() if row.startswith(node))
    assert line.split()[1] == "NotReady"
    described = kubectl("describe", "node", node).stdout
    assert f"{UNREACHABLE}:NoExecute" in described and f"{UNREACHABLE}:NoSchedule" in described
    assert "NodeStatusUnknown" in described and "Kubelet stopped posting node status." in described
    wait_until(lambda: "Terminating" in kubectl("get", "pod", name).stdout, 10, "Terminating")
    logs = kubectl("logs", name)
    assert logs.returncode != 0
    assert "connect: no route to host" in logs.stderr and "Error from server" in logs.stderr


def test_the_cli_takes_a_node_down_and_up(make_sim: Any, tmp_path: Path) -> None:
    from simcluster.faultcli import fault_main

    sim = make_sim(nodes=2, node_monitor_grace=GRACE)
    kubeconfig = str(sim.write_kubeconfig(tmp_path / "kubeconfig"))
    assert fault_main(["--kubeconfig", kubeconfig, "node-down", "node-2"]) == 0
    assert fault_main(["--kubeconfig", kubeconfig, "node-down", "node-2"]) == 1  # already down
    wait_until(
        lambda: sim.call(lambda: sim.store.peek("nodes", None, "node-2"))["spec"].get("taints"),
        10,
        "tainted",
    )
    assert fault_main(["--kubeconfig", kubeconfig, "node-up", "node-2"]) == 0
    wait_until(
        lambda: not sim.call(lambda: sim.store.peek("nodes", None, "node-2"))["spec"].get("taints"),
        10,
        "untainted",
    )


def test_a_node_that_never_posted_ready_is_left_alone_until_its_grace(sim_api: Any) -> None:
    """No Ready condition is no news: untainted, until the grace says the kubelet never
    posted (1.32's NodeStatusNeverUpdated), then unreachable like any silent node."""
    sim, api = sim_api(nodes=1, node_monitor_grace=2.0)
    core = client.CoreV1Api(api)
    sim.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-9"}})
    assert not (core.read_node("node-9").spec or client.V1NodeSpec()).taints
    ready = wait_until(lambda: _node_ready_or_none(core, "node-9"), 10, "a Ready condition")
    assert (ready.status, ready.reason, ready.message) == (
        "Unknown",
        "NodeStatusNeverUpdated",
        "Kubelet never posted node status.",
    )
    taints = {(t.key, t.effect) for t in core.read_node("node-9").spec.taints}
    assert taints == {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")}
    assert not events(core, "default", "node-9", "NodeNotReady")  # it was never Ready


def _node_ready_or_none(core: client.CoreV1Api, node: str) -> Any:
    conds = (core.read_node(node).status or client.V1NodeStatus()).conditions or []
    return next((c for c in conds if c.type == "Ready"), None)
