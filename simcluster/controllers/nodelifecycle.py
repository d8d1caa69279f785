"""The node lifecycle controller: notices a kubelet that went quiet and says so on its Node.

A node whose kubelet has not been heard from (see `heartbeats.py`) for `grace` seconds
(kube-controller-manager's --node-monitor-grace-period, 50 s since v1.32) gets what v1.32
gives it:

- its Ready, MemoryPressure, DiskPressure and PIDPressure conditions turn `Unknown`, reason
  `NodeStatusUnknown`, message `Kubelet stopped posting node status.` (lastTransitionTime
  now, lastHeartbeatTime left as the kubelet last posted it);
- the taints `node.kubernetes.io/unreachable:NoExecute` and `...:NoSchedule`, each with
  `timeAdded` (the NoExecute one is what the taint eviction controller acts on);
- a Normal `NodeNotReady` event on the Node, "Node NAME status is now: NodeNotReady", from
  `node-controller`;
- each pod on the node gets its `Ready` condition set to False (ContainersReady and the
  reason and message are left alone, as MarkPodsNotReady does) and a Warning `NodeNotReady`
  event "Node is not ready".

When the kubelet posts Ready=True again, the unreachable taints are removed.
"""

from __future__ import annotations

from typing import Any

from simcluster.controllers.base import Controller, Key
from simcluster.events import record_event
from simcluster.heartbeats import NodeHeartbeats
from simcluster.store import Store, now_rfc3339

COMPONENT = "node-controller"
DEFAULT_GRACE = 50.0
UNREACHABLE = "node.kubernetes.io/unreachable"
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_REASON = "NodeStatusNeverUpdated"
NEVER_MESSAGE = "Kubelet never posted node status."
POD_EVENT_MESSAGE = "Node is not ready"


def ready_status(node: dict[str, Any]) -> str:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status", "Unknown"))
    return "Unknown"


def _unreachable(taint: dict[str, Any]) -> bool:
    return taint.get("key") == UNREACHABLE and taint.get("effect") in ("NoExecute", "NoSchedule")


class NodeLifecycleController(Controller):
    name = "node-lifecycle"
    plural = "nodes"

    def __init__(self, store: Store, heartbeats: NodeHeartbeats, grace: float) -> None:
        super().__init__(store)
        self.heartbeats = heartbeats
        self.grace = grace

    def reconcile(self, key: Key) -> float | None:
        node = self.store.peek("nodes", None, key[1])
        if node is None:
            self.heartbeats.forget(key[1])
            return None
        silence = self.heartbeats.silence(key[1])
        if silence >= self.grace:
            if ready_status(node) != "Unknown":
                self._lost(node)
            return None  # the kubelet's next status post wakes us
        if ready_status(node) == "True":
            self._untaint(node)
        return self.grace - silence + 0.01

    def _lost(self, node: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        now = now_rfc3339()

        def mark(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            conds = status.setdefault("conditions", [])
            for ctype in KUBELET_CONDITIONS:
                cond = next((c for c in conds if c.get("type") == ctype), None)
                if cond is None:
                    conds.append(
                        {
                            "type": ctype,
                            "status": "Unknown",
                            "reason": NEVER_REASON,
                            "message": NEVER_MESSAGE,
                            "lastHeartbeatTime": obj["metadata"].get("creationTimestamp"),
                            "lastTransitionTime": now,
                        }
                    )
                elif cond.get("status") != "Unknown":
                    cond.update(
                        status="Unknown",
                        reason=UNKNOWN_REASON,
                        message=UNKNOWN_MESSAGE,
                        lastTransitionTime=now,
                    )
            spec = obj.setdefault("spec", {})
            taints = [t for t in spec.get("taints") or [] if not _unreachable(t)]
            for effect in ("NoExecute", "NoSchedule"):
                taints.append({"key": UNREACHABLE, "effect": effect, "timeAdded": now})
            spec["taints"] = taints

        updated = self.store.mutate("nodes", None, name, mark)
        record_event(
            self.store,
            updated,
            "NodeNotReady",
            f"Node {name} status is now: NodeNotReady",
            component=COMPONENT,
        )
        self._mark_pods_not_ready(name)

    def _mark_pods_not_ready(self, node: str) -> None:
        pods, _ = self.store.list("pods", field_selector=f"spec.nodeName={node}")
        now = now_rfc3339()
        for pod in pods:
            ready = next(
                (
                    c
                    for c in (pod.get("status") or {}).get("conditions") or []
                    if c.get("type") == "Ready"
                ),
                None,
            )
            if ready is None or ready.get("status") == "False":
                continue

            def unready(obj: dict[str, Any]) -> None:
                for c in (obj.get("status") or {}).get("conditions") or []:
                    if c.get("type") == "Ready":
                        c.update(status="False", lastTransitionTime=now)

            meta = pod["metadata"]
            updated = self.store.mutate("pods", meta["namespace"], meta["name"], unready)
            record_event(
                self.store, updated, "NodeNotReady", POD_EVENT_MESSAGE, "Warning", COMPONENT
            )

    def _untaint(self, node: dict[str, Any]) -> None:
        if not any(_unreachable(t) for t in (node.get("spec") or {}).get("taints") or []):
            return

        def untaint(obj: dict[str, Any]) -> None:
            spec = obj.setdefault("spec", {})
            kept = [t for t in spec.get("taints") or [] if not _unreachable(t)]
            if kept:
                spec["taints"] = kept
            else:
                spec.pop("taints", None)

        self.store.mutate("nodes", None, node["metadata"]["name"], untaint)
