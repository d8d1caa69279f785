"""What the node tests (a node powered off, a node whose network breaks) ask of the cluster
through the official client: a ReplicaSet of idle pods, its pods, their readiness, a node's
Ready condition and taints, and the events about an object."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.polling import wait_until

NS = "smallest"

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]
kubectl_only = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")


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


def kubectl_on(kubeconfig: Path) -> Kubectl:
    """kubectl in our namespace, against the simulator's kubeconfig (a TLS one sends tokens)."""

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", f"--kubeconfig={kubeconfig}", "-n", NS, *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    return kubectl


def two_web_pods(sim: Any, kubectl: Kubectl, tolerates: str, seconds: int | None) -> list[str]:
    """A two-pod ReplicaSet ``web`` applied and seen Running by kubectl: ``NAME NODE`` rows."""
    sim.apply(replicaset("web", 2, tolerates, seconds))
    wait_until(
        lambda: kubectl("get", "pods", "--no-headers").stdout.count(" Running ") == 2,
        20,
        "2 Running",
    )
    return kubectl(
        "get",
        "pods",
        "-o",
        'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{"\\n"}{end}',
    ).stdout.split("\n")
