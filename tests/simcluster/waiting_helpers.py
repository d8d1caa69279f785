"""Helpers for the tests of containers that never start: what the official client reads."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.simcluster.conftest import NS

RETRY = 0.3  # SimCluster(kubelet_retry=...) in these tests: a real kubelet's 10 s, scaled


def pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": containers, **spec},
    }


def sleeper(name: str = "main", image: str = "busybox:1.36", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, "command": ["sleep", "3600"], **extra}


def status_of(core: client.CoreV1Api, pod: str, container: str) -> Any:
    """The container's status (init containers too) as the client deserialises it."""
    st = core.read_namespaced_pod(pod, NS).status
    for cs in (st.container_statuses or []) + (st.init_container_statuses or []):
        if cs.name == container:
            return cs
    return None


def waiting(core: client.CoreV1Api, pod: str, container: str) -> tuple[str, str] | None:
    """(reason, message) of a waiting container, None when it is not waiting."""
    cs = status_of(core, pod, container)
    if cs is None or cs.state is None or cs.state.waiting is None:
        return None
    return cs.state.waiting.reason, cs.state.waiting.message


def events(core: client.CoreV1Api, pod: str) -> dict[tuple[str, str, str], int]:
    """The pod's events: (type, reason, message) -> count."""
    items = core.list_namespaced_event(NS, field_selector=f"involvedObject.name={pod}").items
    return {(e.type, e.reason, e.message): e.count for e in items}


def event_paths(core: client.CoreV1Api, pod: str, reason: str) -> set[str | None]:
    items = core.list_namespaced_event(NS, field_selector=f"involvedObject.name={pod}").items
    return {e.involved_object.field_path for e in items if e.reason == reason}
