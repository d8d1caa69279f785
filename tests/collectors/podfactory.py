"""Pod objects as the API returns them (plain dicts), for the pure tests."""

from __future__ import annotations

from typing import Any


def make_pod(
    name: str = "lightning-asr-abc",
    *,
    node: str | None = "node-1",
    phase: str = "Running",
    ready: bool = False,
    env: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    owner: tuple[str, str] | None = ("ReplicaSet", "lightning-asr-7d9f"),
    labels: dict[str, str] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    env = {"MODEL_URL": "http://models/v1/model.bin", "MODEL_CACHE_DIR": "/app/models"} | (
        env or {}
    )
    if containers is None:
        containers = [
            {
                "name": "lightning-asr",
                "image": "lightning-asr:1.0",
                "env": [{"name": k, "value": v} for k, v in env.items()],
                "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
            }
        ]
    if volumes is None:
        volumes = [{"name": "models", "persistentVolumeClaim": {"claimName": "models-aws-efs-pvc"}}]
    if statuses is None:
        statuses = [
            {
                "name": containers[0]["name"],
                "ready": ready,
                "restartCount": 0,
                "state": {"running": {"startedAt": "2026-11-27T10:00:00Z"}},
            }
        ]
    md: dict[str, Any] = {
        "name": name,
        "namespace": "smallest",
        "uid": f"uid-{name}",
        "creationTimestamp": "2026-11-27T10:00:00Z",
        "labels": labels or {"app": "lightning-asr"},
        "resourceVersion": "1",
    }
    if owner:
        md["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if deleting:
        md["deletionTimestamp"] = "2026-11-27T10:05:00Z"
    conditions = [{"type": "PodScheduled", "status": "True" if node else "False"}]
    if node:
        conditions.append({"type": "Ready", "status": "True" if ready else "False"})
    pod: dict[str, Any] = {
        "metadata": md,
        "spec": {"containers": containers, "volumes": volumes},
        "status": {"phase": phase, "conditions": conditions, "containerStatuses": statuses},
    }
    if node:
        pod["spec"]["nodeName"] = node
    if init_containers:
        pod["spec"]["initContainers"] = init_containers
        pod["status"]["initContainerStatuses"] = init_statuses or []
    return pod


def waiting(
    name: str,
    reason: str,
    restarts: int = 0,
    last_exit: int | None = None,
    message: str | None = None,
) -> dict:
    state: dict[str, Any] = {"reason": reason}
    if message is not None:
        state["message"] = message
    st: dict[str, Any] = {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": state},
    }
    if last_exit is not None:
        st["lastState"] = {"terminated": {"exitCode": last_exit, "reason": "Error"}}
    return st


def terminated(name: str, code: int, reason: str = "Error") -> dict:
    return {
        "name": name,
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": code, "reason": reason}},
    }
