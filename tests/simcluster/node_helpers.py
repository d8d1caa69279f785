"""What the node tests (a node powered off, a node whose network breaks) ask of the cluster
through the official client: a ReplicaSet of idle pods, its pods, their readiness, a node's
Ready condition and taints, and the events about an object."""

from __future__ import annotations

from typing import Any

from kubernetes import client

NS = "smallest"


def replicaset(
    name: str, replicas: int, tolerates: str, toleration_seconds: int | None
) -> dict[str, Any]:
    """Idle pods that tolerate the NoExecute taint ``tolerates`` for ``toleration_seconds``
    (None: admission's default tolerations, 300 s)."""
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "app",
                "image": "busybox:1.36",
                "command": ["sh", "-c", "echo serving; sleep 3600"],
            }
        ],
        "terminationGracePeriodSeconds": 5,
    }
    if toleration_seconds is not None:
        spec["tolerations"] = [
            {
                "key": tolerates,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": toleration_seconds,
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


def pods_of(core: client.CoreV1Api, app: str) -> list[Any]:
    return core.list_namespaced_pod(NS, label_selector=f"app={app}").items


def pod_ready(pod: Any) -> str | None:
    return next((c.status for c in pod.status.conditions or [] if c.type == "Ready"), None)


def running(core: client.CoreV1Api, app: str, n: int) -> list[Any]:
    """The app's Ready pods once there are ``n`` of them (else none: for ``wait_until``)."""
    pods = [p for p in pods_of(core, app) if pod_ready(p) == "True"]
    return pods if len(pods) >= n else []


def node_ready(core: client.CoreV1Api, node: str) -> Any:
    return next(c for c in core.read_node(node).status.conditions if c.type == "Ready")


def events(core: client.CoreV1Api, namespace: str, name: str, reason: str) -> list[Any]:
    return [
        e
        for e in core.list_namespaced_event(namespace).items
        if e.involved_object.name == name and e.reason == reason
    ]
