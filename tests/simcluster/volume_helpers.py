"""Objects and waits shared by the volume-failure tests (claims, deployments, events)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from simcluster.cluster import SimCluster
from tests.polling import wait_until
from tests.simcluster.conftest import NS


def claim(
    name: str, storage_class: str | None, modes: tuple[str, ...] = ("ReadWriteOnce",)
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": list(modes),
        "resources": {"requests": {"storage": "1Gi"}},
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def deployment(
    name: str,
    volume: dict[str, Any],
    replicas: int = 1,
    init: bool = False,
    node: str | None = None,
) -> dict[str, Any]:
    """A Deployment whose pods sleep with `volume` mounted at /data (and optionally an init
    container that mounts it too, or a nodeSelector pinning them to one node)."""
    mount = [{"name": volume["name"], "mountPath": "/data"}]
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "main",
                "image": "busybox:1.36",
                "command": ["sleep", "3600"],
                "volumeMounts": mount,
            }
        ],
        "volumes": [volume],
    }
    if init:
        spec["initContainers"] = [
            {"name": "fetch", "image": "busybox:1.36", "command": ["true"], "volumeMounts": mount}
        ]
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


def pvc_volume(claim_name: str) -> dict[str, Any]:
    return {"name": "models", "persistentVolumeClaim": {"claimName": claim_name}}


def pods(core: client.CoreV1Api, app: str) -> list[Any]:
    items = core.list_namespaced_pod(NS, label_selector=f"app={app}").items
    return sorted(
        (p for p in items if p.metadata.deletion_timestamp is None),
        key=lambda p: (p.metadata.creation_timestamp, p.metadata.name),
    )


def running(core: client.CoreV1Api, app: str) -> list[Any]:
    return [
        p
        for p in pods(core, app)
        if p.status.phase == "Running"
        and p.status.container_statuses
        and all(c.ready for c in p.status.container_statuses)
    ]


def events_for(core: client.CoreV1Api, name: str, reason: str | None = None) -> list[Any]:
    return [
        e
        for e in core.list_namespaced_event(NS).items
        if e.involved_object.name == name and (reason is None or e.reason == reason)
    ]


def one_event(core: client.CoreV1Api, name: str, reason: str, timeout: float = 5.0) -> Any:
    found = wait_until(lambda: events_for(core, name, reason), timeout, f"{reason} on {name}")
    assert len(found) == 1, [(e.reason, e.message, e.count) for e in found]
    return found[0]


def condition(pod: Any, kind: str) -> Any:
    return next((c for c in pod.status.conditions or [] if c.type == kind), None)


def in_loop(cluster: SimCluster, fn: Any) -> Any:
    return cluster.call(fn)
