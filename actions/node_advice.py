"""What a pod on a lost or NotReady node needs: its replacement elsewhere, and what to know
first.

Deleting a pod on a lost node only marks it: its kubelet cannot confirm, so it stays
Terminating until the node comes back. Its ReplicaSet replaces it at once, on a node that
answers; a ReadWriteOnce volume stays attached to the lost node until the pod is gone, so there
the replacement waits (Multi-Attach) unless the old pod is force deleted -- which is safe only
when the machine is really down, and so is left to a person, as a command.

A NotReady node's kubelet answers: a deleted pod is stopped and removed as anywhere, and the
node's not-ready NoSchedule taint sends the replacement to a Ready node. A pod there that is
Ready still serves: taking it away is not a fix (the taint manager evicts it in its time).

Either way a replacement needs another node that takes pods; with none, it would stay Pending.
"""

from __future__ import annotations

from actions.advice import kubectl
from collectors.model import PodInfo
from collectors.units import format_duration


def force_delete_command(namespace: str, pod: str) -> str:
    return kubectl(namespace, "delete", "pod", pod, "--grace-period=0", "--force")


def force_delete_when(pod: PodInfo) -> str:
    """When the force delete may be run: it tells the API the pod is gone without its kubelet's
    word, so on a node that still runs it, two copies would run."""
    return (
        f"only when node {node_of(pod)} is really down (a force delete on a node that still "
        "runs the pod leaves two copies running)"
    )


def node_of(pod: PodInfo) -> str:
    """The troubled node, as its evidence names it."""
    if pod.node_lost is not None:
        return pod.node_lost.node
    if pod.node_not_ready is not None:
        return pod.node_not_ready.node
    return pod.node or "?"


def nowhere_else(pod: PodInfo, ready_nodes: tuple[str, ...] | None) -> str | None:
    """Why a replacement would stay Pending (no other node takes pods), or None: one does, or
    the nodes could not be read (``ready_nodes`` None: not known, so not claimed)."""
    node = node_of(pod)
    if ready_nodes is None or any(n != node for n in ready_nodes):
        return None
    taint = "unreachable" if pod.node_lost is not None else "not-ready"
    return (
        f"no other node is Ready: the replacement would stay Pending (node {node} is tainted "
        f"node.kubernetes.io/{taint}:NoSchedule)"
    )


def node_not_ready_warnings(pod: PodInfo, rwo: bool) -> tuple[str, ...]:
    node = node_of(pod)  # why it is NotReady is in the evidence, said once
    said = [
        f"node {node} is NotReady: the replacement is scheduled on a Ready node (it is "
        "tainted node.kubernetes.io/not-ready:NoSchedule)"
    ]
    if rwo:
        said.append(
            f"its cache claim {pod.cache_claim} is ReadWriteOnce: the replacement waits for it "
            f"until pod {pod.name} has stopped on {node} and the volume is detached"
        )
    return tuple(said)


def still_serving(pod: PodInfo) -> str:
    """Why a Ready pod on a NotReady node is not restarted, and what comes of it."""
    nr = pod.node_not_ready
    why = f" ({nr.why})" if nr else ""
    left = nr.evicted_in if nr is not None else 0.0
    if left is None:
        fate = "It tolerates the not-ready taint, so it stays until the node recovers."
    elif left >= 1:
        fate = (
            f"The taint manager evicts it in {format_duration(left)} unless the node "
            "recovers, and its ReplicaSet replaces it on a Ready node then."
        )
    else:
        fate = "The taint manager evicts it now, and its ReplicaSet replaces it on a Ready node."
    return (
        f"Pod {pod.name} is Ready: its server still serves on node {node_of(pod)}, which is "
        f"NotReady{why}. Restarting it would take a serving replica away. {fate} What needs "
        "fixing is the node."
    )


def gone_soon(pod: PodInfo) -> str:
    """Why a pod on a NotReady node that is being deleted needs nothing more."""
    return (
        f"Pod {pod.name} is already being deleted; node {node_of(pod)} still answers, so its "
        "kubelet stops and removes it, and its ReplicaSet has replaced it."
    )


def node_lost_warnings(pod: PodInfo, rwo: bool) -> tuple[str, ...]:
    node = node_of(pod)
    said = [
        f"node {node} does not answer: pod {pod.name} stays Terminating until it comes back "
        "or the pod is force deleted (the command below; only when the machine is really down)"
    ]
    if rwo:
        said.append(
            f"its cache claim {pod.cache_claim} is ReadWriteOnce: the replacement cannot attach "
            f"it while it is attached to {node} (Multi-Attach), until the old pod is gone"
        )
    return tuple(said)


def already_replaced(pod: PodInfo) -> str:
    node = node_of(pod)
    return (
        f"Pod {pod.name} is already being deleted; it stays Terminating because node {node} "
        "cannot confirm, and its ReplicaSet has replaced it. Only a force delete removes it "
        "(the command below), safe only when the machine is really down."
    )
