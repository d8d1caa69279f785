"""The taint eviction controller: deletes pods from nodes with NoExecute taints they do not
tolerate, or tolerate only for `tolerationSeconds`.

A pod's clock starts when the controller first sees it on the tainted node (as the real one
keys its timed work queue); the shortest `tolerationSeconds` among the tolerations used
wins, and a toleration without one tolerates forever. When the time is up it does what
v1.32 does:

1. a Normal `TaintManagerEviction` event "Marking for deletion Pod NS/NAME" from
   `taint-eviction-controller` (its reference carries no uid);
2. the condition `DisruptionTarget` True, reason `DeletionByTaintManager`, message
   "Taint manager: deleting due to NoExecute taint";
3. a delete with the pod's own grace period. On a node whose kubelet is down nothing
   finishes it: the pod stays Terminating until the node returns or a force delete.

Taints removed before the time is up cancel the eviction with a `TaintManagerEviction`
"Cancelling deletion of Pod NS/NAME" event.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from simcluster.controllers.base import Controller, Key
from simcluster.errors import ApiError
from simcluster.events import record_event
from simcluster.store import Store, WatchEvent, now_rfc3339
from simcluster.tolerations import matching_toleration

COMPONENT = "taint-eviction-controller"
REASON = "TaintManagerEviction"
CONDITION_REASON = "DeletionByTaintManager"
CONDITION_MESSAGE = "Taint manager: deleting due to NoExecute taint"


def no_execute_taints(node: dict[str, Any] | None) -> list[dict[str, Any]]:
    taints = ((node or {}).get("spec") or {}).get("taints") or []
    return [t for t in taints if t.get("effect") == "NoExecute"]


def toleration_time(
    tolerations: list[dict[str, Any]], taints: list[dict[str, Any]]
) -> float | None:
    """Seconds the pod may stay: 0 if a taint is not tolerated, None if forever."""
    shortest: float | None = None
    for taint in taints:
        tol = matching_toleration(tolerations, taint)
        if tol is None:
            return 0.0
        seconds = tol.get("tolerationSeconds")
        if seconds is None:
            continue
        seconds = max(0.0, float(seconds))
        shortest = seconds if shortest is None else min(shortest, seconds)
    return shortest


class TaintEvictionController(Controller):
    name = "taint-eviction"
    plural = "pods"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._since: dict[Key, float] = {}  # pod -> when its eviction clock started

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "pods":
            meta = ev.object["metadata"]
            return [(meta.get("namespace", ""), meta["name"])]
        if plural == "nodes":
            old, new = no_execute_taints(ev.old), no_execute_taints(ev.object)
            if ev.old is not None and old == new and ev.type != "DELETED":
                return ()
            name = ev.object["metadata"]["name"]
            pods, _ = self.store.list("pods", field_selector=f"spec.nodeName={name}", copy=False)
            return [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods]
        return ()

    def resync_keys(self) -> Iterable[Key]:
        return list(self._since)

    def reconcile(self, key: Key) -> float | None:
        pod = self.store.peek("pods", key[0], key[1])
        node_name = ((pod or {}).get("spec") or {}).get("nodeName")
        if pod is None or not node_name or pod["metadata"].get("deletionTimestamp"):
            self._since.pop(key, None)
            return None
        taints = no_execute_taints(self.store.peek("nodes", None, node_name))
        allowed = toleration_time((pod.get("spec") or {}).get("tolerations") or [], taints)
        if not taints or allowed is None:
            self._cancel(key)
            return None
        now = time.monotonic()
        started = self._since.setdefault(key, now)
        left = started + allowed - now
        if left > 0:
            return left
        self._since.pop(key, None)
        self._evict(pod)
        return None

    def _cancel(self, key: Key) -> None:
        if self._since.pop(key, None) is not None:
            record_event(
                self.store,
                _ref(key),
                REASON,
                f"Cancelling deletion of Pod {key[0]}/{key[1]}",
                component=COMPONENT,
            )

    def _evict(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        ns, name = meta["namespace"], meta["name"]
        record_event(
            self.store,
            _ref((ns, name)),
            REASON,
            f"Marking for deletion Pod {ns}/{name}",
            component=COMPONENT,
        )
        now = now_rfc3339()

        def disrupt(obj: dict[str, Any]) -> None:
            conds = obj.setdefault("status", {}).setdefault("conditions", [])
            conds[:] = [c for c in conds if c.get("type") != "DisruptionTarget"]
            conds.append(
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": CONDITION_REASON,
                    "message": CONDITION_MESSAGE,
                    "lastProbeTime": None,
                    "lastTransitionTime": now,
                }
            )

        try:
            self.store.mutate("pods", ns, name, disrupt)
            self.store.delete("pods", ns, name)
        except ApiError as exc:
            if exc.code != 404:
                raise


def _ref(key: Key) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "name": key[1], "namespace": key[0]}
