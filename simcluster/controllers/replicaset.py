"""The ReplicaSet controller: keeps `spec.replicas` pods of the template alive and reports
replicas, readyReplicas and availableReplicas (ready for `minReadySeconds`).

A deleted or failed pod is replaced; surplus pods go in kube-controller-manager's order
(unscheduled, then pending, then not ready, then the newest first).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from simcluster.apiserver.tables import parse_time
from simcluster.controllers.base import Controller, Key, owner_keys, owner_ref
from simcluster.events import record_event
from simcluster.store import WatchEvent, deep_copy

COMPONENT = "replicaset-controller"
BURST = 500


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def pod_available(pod: dict[str, Any], min_ready: int, now: datetime) -> bool:
    if not pod_ready(pod):
        return False
    if min_ready <= 0:
        return True
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            t = parse_time(c.get("lastTransitionTime"))
            return t is not None and (now - t).total_seconds() >= min_ready
    return False


def active_pod(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get(
        "phase"
    ) not in ("Succeeded", "Failed")


def pod_from_template(
    owner: dict[str, Any], template: dict[str, Any], generate_name: str
) -> dict[str, Any]:
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {
        "generateName": generate_name,
        "namespace": owner["metadata"]["namespace"],
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [owner_ref(owner)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    return {"metadata": meta, "spec": deep_copy(template.get("spec") or {})}


def _delete_rank(pod: dict[str, Any]) -> tuple[int, int, int, tuple[int, ...]]:
    """Sort key: pods to delete first sort first (the newest among equals)."""
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    created = pod["metadata"].get("creationTimestamp", "")
    return (
        1 if (pod.get("spec") or {}).get("nodeName") else 0,
        phase_rank,
        1 if pod_ready(pod) else 0,
        tuple(-ord(c) for c in created),
    )


class ReplicaSetController(Controller):
    name = "replicaset"
    plural = "replicasets"
    resync = 1.0

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "replicasets":
            return super().keys_for(plural, ev)
        if plural == "pods":
            return owner_keys(ev, "ReplicaSet")
        return ()

    def reconcile(self, key: Key) -> float | None:
        rs = self.store.peek("replicasets", key[0], key[1])
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return None
        uid = rs["metadata"]["uid"]
        pods = [p for p in self.store.owned_by("pods", uid, key[0]) if active_pod(p)]
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = want - len(pods)
        template = (rs.get("spec") or {}).get("template") or {}
        if diff > 0:
            for _ in range(min(diff, BURST)):
                pod = self.store.create("pods", pod_from_template(rs, template, f"{key[1]}-"))
                record_event(
                    self.store,
                    rs,
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                    component=COMPONENT,
                )
        elif diff < 0:
            victims = sorted(pods, key=_delete_rank)[:-diff]
            for p in victims:
                self.store.delete("pods", key[0], p["metadata"]["name"])
                record_event(
                    self.store,
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {p['metadata']['name']}",
                    component=COMPONENT,
                )
        return self._update_status(key, rs)

    def _update_status(self, key: Key, rs: dict[str, Any]) -> float | None:
        uid = rs["metadata"]["uid"]
        pods = [p for p in self.store.owned_by("pods", uid, key[0]) if active_pod(p)]
        now = datetime.now(timezone.utc)
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds", 0) or 0)
        ready = sum(1 for p in pods if pod_ready(p))
        available = sum(1 for p in pods if pod_available(p, min_ready, now))
        selector_labels = ((rs.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        labeled = sum(
            1
            for p in pods
            if all(
                (p["metadata"].get("labels") or {}).get(k) == v for k, v in selector_labels.items()
            )
        )
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": labeled,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        for k in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if not status[k]:
                del status[k]

        def write(o: dict[str, Any]) -> None:
            o["status"] = {
                **status,
                **(
                    {"conditions": o["status"]["conditions"]}
                    if (o.get("status") or {}).get("conditions")
                    else {}
                ),
            }

        self.store.mutate("replicasets", key[0], key[1], write)
        if ready > available:
            return float(min_ready) / 2 or 0.5
        return None
