"""What a pod on a lost node needs: its replacement elsewhere, and what to know first.

Deleting such a pod only marks it: its kubelet cannot confirm, so it stays Terminating until
the node comes back. Its ReplicaSet replaces it at once, on a node that answers; a
ReadWriteOnce volume stays attached to the lost node until the pod is gone, so there the
replacement waits (Multi-Attach) unless the old pod is force deleted -- which is safe only when
the machine is really down, and so is left to a person, as a command.
"""

from __future__ import annotations

import shlex

from collectors.model import PodInfo


def force_delete_command(namespace: str, pod: str) -> str:
    return shlex.join(
        ["kubectl", "-n", namespace, "delete", "pod", pod, "--grace-period=0", "--force"]
    )


def node_lost_warnings(pod: PodInfo, rwo: bool) -> tuple[str, ...]:
    node = pod.node_lost.node if pod.node_lost else pod.node
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
    node = pod.node_lost.node if pod.node_lost else pod.node
    return (
        f"Pod {pod.name} is already being deleted; it stays Terminating because node {node} "
        "cannot confirm, and its ReplicaSet has replaced it. Only a force delete removes it "
        "(the command below), safe only when the machine is really down."
    )
