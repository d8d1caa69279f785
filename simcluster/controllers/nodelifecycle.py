"""The node lifecycle controller: says on each Node what its kubelet's reports (or their
absence) mean, as v1.32's does.

A node whose kubelet has not been heard from (see `heartbeats.py`) for `grace` seconds
(kube-controller-manager's --node-monitor-grace-period, 50 s since v1.32) gets:

- its Ready, MemoryPressure, DiskPressure and PIDPressure conditions turned `Unknown`, reason
  `NodeStatusUnknown`, message `Kubelet stopped posting node status.` (lastTransitionTime
  now, lastHeartbeatTime left as the kubelet last posted it);
- when it was Ready until then: a Normal `NodeNotReady` event on the Node, "Node NAME status
  is now: NodeNotReady", from `node-controller`, and each pod on the node its `Ready`
  condition set to False (ContainersReady and the reason and message are left alone, as
  MarkPodsNotReady does) with a Warning `NodeNotReady` event "Node is not ready". A node
  whose kubelet had already posted Ready False gets neither (1.32 marks pods only on the way
  out of Ready, and the kubelet recorded its own NodeNotReady).

Its taints follow its Ready condition (taint-by-condition for NoSchedule, the tainting queue
for NoExecute, both at once here), each with `timeAdded`:

- Unknown: `node.kubernetes.io/unreachable:NoExecute` and `...:NoSchedule`;
- False (the kubelet answers and says NotReady): `node.kubernetes.io/not-ready:NoExecute`
  and `...:NoSchedule`, swapped for the unreachable ones if it had those;
- True: neither.

The NoExecute taints are what the taint eviction controller acts on; the NoSchedule ones keep
the scheduler away. A node whose kubelet never posted a Ready condition is left untainted.
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
NOT_READY = "node.kubernetes.io/not-ready"
# The pair of taints (NoExecute and NoSchedule) each status of Ready calls for.
TAINT_FOR = {"True": None, "False": NOT_READY, "Unknown": UNREACHABLE}
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_REASON = "NodeStatusNeverUpdated"
NEVER_MESSAGE = "Kubelet never posted node status."
POD_EVENT_MESSAGE = "Node is not ready"


def ready_status(node: dict[str, Any]) -> str:
    """The status of the node's Ready condition; "" when it has none (never posted)."""
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status", "Unknown"))
    return ""


def _ours(taint: dict[str, Any]) -> bool:
    """A taint this controller sets from the Ready condition."""
    return taint.get("key") in (UNREACHABLE, NOT_READY) and taint.get("effect") in (
        "NoExecute",
        "NoSchedule",
    )


def condition_taints(
    taints: list[dict[str, Any]], key: str | None, now: str
) -> list[dict[str, Any]]:
    """`taints` with ours replaced by `key`'s pair (none for None); a taint kept keeps its
    timeAdded, so a taint eviction's clock is not reset."""
    kept = {(t.get("key"), t.get("effect")): t for t in taints if _ours(t)}
    out = [t for t in taints if not _ours(t)]
    for effect in ("NoExecute", "NoSchedule") if key else ():
        out.append(kept.get((key, effect)) or {"key": key, "effect": effect, "timeAdded": now})
    return out


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
        ready = ready_status(node)
        if silence >= self.grace and ready != "Unknown":
            self._lost(node, was=ready)
            return None  # the kubelet's next status post wakes us
        if ready:
            self._taint(node, TAINT_FOR.get(ready, UNREACHABLE))
        return None if silence >= self.grace else self.grace - silence + 0.01

    def _lost(self, node: dict[str, Any], was: str) -> None:
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
            spec["taints"] = condition_taints(spec.get("taints") or [], UNREACHABLE, now)

        updated = self.store.mutate("nodes", None, name, mark)
        if was != "True":
            return
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

    def _taint(self, node: dict[str, Any], key: str | None) -> None:
        """Make the node's condition taints `key`'s pair (none for None), if they are not."""
        taints = (node.get("spec") or {}).get("taints") or []
        wanted = condition_taints(taints, key, now_rfc3339())
        if wanted == taints:
            return

        def retaint(obj: dict[str, Any]) -> None:
            spec = obj.setdefault("spec", {})
            new = condition_taints(spec.get("taints") or [], key, now_rfc3339())
            if new:
                spec["taints"] = new
            else:
                spec.pop("taints", None)

        self.store.mutate("nodes", None, node["metadata"]["name"], retaint)
