"""The ReplicaSet controller: keeps `spec.replicas` pods of the template alive and reports
replicas, readyReplicas and availableReplicas (ready for `minReadySeconds`).

A deleted or failed pod is replaced; surplus pods go in kube-controller-manager's order
(unscheduled, then pending, then not ready, then the newest first).

A pod create the API server refuses (a namespace's ResourceQuota, say) is what a real
controller makes of it: a Warning `FailedCreate` event "Error creating: <message>", the
condition `ReplicaFailure` (True, FailedCreate, the message) and a retry after a back-off
that doubles up to `max_create_backoff`, sooner if the ReplicaSet or its pods change. The
condition goes once a sync creates what it must (or has nothing to create).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from simcluster.apiserver.tables import parse_time
from simcluster.controllers.base import Controller, Key, owner_keys, owner_ref
from simcluster.errors import ApiError
from simcluster.events import record_event
from simcluster.store import Store, WatchEvent, deep_copy, now_rfc3339

COMPONENT = "replicaset-controller"
BURST = 500
REPLICA_FAILURE = "ReplicaFailure"
_KEEP = object()  # _update_status: leave the ReplicaFailure condition as it is


@dataclass
class _BackOff:
    """A ReplicaSet whose last pod create was refused: no new attempt before `until` (loop
    time) unless its generation or its number of active pods changes."""

    until: float
    delay: float
    generation: int
    active: int


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
    first_create_backoff = 0.5
    max_create_backoff = 10.0

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._backoff: dict[Key, _BackOff] = {}

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "replicasets":
            return super().keys_for(plural, ev)
        if plural == "pods":
            return owner_keys(ev, "ReplicaSet")
        return ()

    def reconcile(self, key: Key) -> float | None:
        rs = self.store.peek("replicasets", key[0], key[1])
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            self._backoff.pop(key, None)
            return None
        uid = rs["metadata"]["uid"]
        pods = [p for p in self.store.owned_by("pods", uid, key[0]) if active_pod(p)]
        want = int((rs.get("spec") or {}).get("replicas", 1))
        diff = want - len(pods)
        template = (rs.get("spec") or {}).get("template") or {}
        failure: Any = None
        if diff > 0:
            now = asyncio.get_running_loop().time()
            generation = int(rs["metadata"].get("generation", 1))
            held = self._backoff.get(key)
            if (
                held is not None
                and now < held.until
                and held.generation == generation
                and held.active == len(pods)
            ):
                return self._update_status(key, rs, _KEEP)  # the armed retry comes back
            for _ in range(min(diff, BURST)):
                try:
                    pod = self.store.create("pods", pod_from_template(rs, template, f"{key[1]}-"))
                except ApiError as exc:
                    failure = exc.message
                    self._refused(key, rs, exc, held, now, generation, len(pods))
                    break
                record_event(
                    self.store,
                    rs,
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                    component=COMPONENT,
                )
            else:
                self._backoff.pop(key, None)
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
        if diff <= 0:
            self._backoff.pop(key, None)
        return self._update_status(key, rs, failure)

    def _refused(
        self,
        key: Key,
        rs: dict[str, Any],
        exc: ApiError,
        held: _BackOff | None,
        now: float,
        generation: int,
        active: int,
    ) -> None:
        """Record a refused create and arm the retry (a namespace being deleted: no event)."""
        if "because it is being terminated" not in exc.message:
            record_event(
                self.store,
                rs,
                "FailedCreate",
                f"Error creating: {exc.message}",
                type="Warning",
                component=COMPONENT,
            )
        delay = (
            self.first_create_backoff
            if held is None
            else min(self.max_create_backoff, held.delay * 2)
        )
        self._backoff[key] = _BackOff(now + delay, delay, generation, active)
        self.enqueue_after(key, delay)

    def _update_status(self, key: Key, rs: dict[str, Any], failure: Any = None) -> float | None:
        """Write the replica counts; `failure` (a refused create's message) sets the
        ReplicaFailure condition, None clears it, _KEEP leaves it."""
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
            conditions = list((o.get("status") or {}).get("conditions") or [])
            has = any(c.get("type") == REPLICA_FAILURE for c in conditions)
            if failure is None:
                conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
            elif failure is not _KEEP and not has:  # set once, as the real one does
                conditions.append(
                    {
                        "type": REPLICA_FAILURE,
                        "status": "True",
                        "lastTransitionTime": now_rfc3339(),
                        "reason": "FailedCreate",
                        "message": failure,
                    }
                )
            o["status"] = {**status, **({"conditions": conditions} if conditions else {})}

        self.store.mutate("replicasets", key[0], key[1], write)
        if ready > available:
            return float(min_ready) / 2 or 0.5
        return None
