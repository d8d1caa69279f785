"""A node whose container network is not ready: its kubelet answers, but reports NotReady.

The CNI plugin is gone or broken (on EKS, the aws-node DaemonSet), so the container runtime
says NetworkReady=false. A v1.32 kubelet then:

- posts Ready False, reason `KubeletNotReady`, message `container runtime network not ready:
  NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni
  plugin not initialized`, and records `NodeNotReady` ("Node NAME status is now:
  NodeNotReady") on its Node;
- starts no pod sandbox and no container, new or restarted, for a pod not on the host
  network: each try ends early with a Warning `NetworkNotReady` "network is not ready: <that
  message>" on the pod, and is tried again later;
- leaves what runs alone: a download goes on, a server serves, probes run, so a pod's Ready
  is what its containers make it;
- still answers: logs, exec and stats work, and a deleted pod is stopped and removed.

This is the NotReady whose kubelet keeps answering (a runtime that is down would fail exec
and logs too, and hold deletions). The node lifecycle controller taints the node
`node.kubernetes.io/not-ready` (NoSchedule, NoExecute); the taint eviction controller
evicts its pods once their toleration runs out. `network_up` undoes it: Ready True,
`NodeReady`, and the pods that waited start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simcluster.kubelet.nodestatus import post_node_status, record_ready_change

if TYPE_CHECKING:
    from simcluster.kubelet.node import Kubelet

NETWORK_NOT_READY = (
    "container runtime network not ready: NetworkReady=false "
    "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not "
    "initialized"
)
EVENT_REASON = "NetworkNotReady"


def network_down(kubelet: Kubelet) -> None:
    """The node's container network fails: Ready False, and nothing new starts here."""
    kubelet.network_error = NETWORK_NOT_READY
    post_node_status(kubelet)
    record_ready_change(kubelet, ready=False)


def network_up(kubelet: Kubelet) -> None:
    """The network is back: Ready True, and the pods that waited start."""
    kubelet.network_error = None
    post_node_status(kubelet)
    record_ready_change(kubelet, ready=True)


def sandbox_refused(kubelet: Kubelet, pod_spec: dict[str, Any]) -> str | None:
    """Why nothing of this pod may start now (the kubelet's event message), or None: a pod on
    the host network needs no pod network."""
    if kubelet.network_error is None or pod_spec.get("hostNetwork"):
        return None
    return f"network is not ready: {kubelet.network_error}"
