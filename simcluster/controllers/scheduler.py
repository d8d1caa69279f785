"""The scheduler: binds each pending pod to a Ready, schedulable node, spreading pods out.

A node qualifies when its Ready condition is True, it is not cordoned, it matches the pod's
`nodeSelector`, and every NoSchedule/NoExecute taint is tolerated. Among those the node with
the fewest running pods wins (ties by name), as the default scheduler's spreading does for
equal nodes. A pod nothing fits stays Pending with `PodScheduled=False/Unschedulable` and a
FailedScheduling event, and is retried when nodes change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simcluster.controllers.base import Controller, Key
from simcluster.events import record_event
from simcluster.store import WatchEvent, now_rfc3339

COMPONENT = "default-scheduler"


def node_ready(node: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def _tolerates(pod_spec: dict[str, Any], taint: dict[str, Any]) -> bool:
    for tol in pod_spec.get("tolerations") or []:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        op = tol.get("operator", "Equal")
        if op == "Exists" and (not tol.get("key") or tol.get("key") == taint.get("key")):
            return True
        if (
            op == "Equal"
            and tol.get("key") == taint.get("key")
            and tol.get("value", "") == taint.get("value", "")
        ):
            return True
    return False


def _fits(pod: dict[str, Any], node: dict[str, Any]) -> str | None:
    """None if the pod may run on the node, else the reason it may not."""
    spec, nspec = pod.get("spec") or {}, node.get("spec") or {}
    if not node_ready(node):
        return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    if nspec.get("unschedulable"):
        return "node(s) were unschedulable"
    labels = node["metadata"].get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return "node(s) didn't match Pod's node affinity/selector"
    for taint in nspec.get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(spec, taint):
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    return None


class Scheduler(Controller):
    name = "scheduler"
    plural = "pods"

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "pods":
            obj = ev.object
            if ev.type != "DELETED" and not (obj.get("spec") or {}).get("nodeName"):
                return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
            if ev.type == "DELETED" or (obj.get("status") or {}).get("phase") in (
                "Succeeded",
                "Failed",
            ):
                return self._pending()  # capacity freed
            return ()
        if plural == "nodes":
            return self._pending()
        return ()

    def _pending(self) -> list[Key]:
        return [
            (p["metadata"]["namespace"], p["metadata"]["name"])
            for p in self.store.list("pods", field_selector="spec.nodeName=", copy=False)[0]
        ]

    def resync_keys(self) -> Iterable[Key]:
        return self._pending()

    def reconcile(self, key: Key) -> float | None:
        pod = self.store.peek("pods", key[0], key[1])
        if pod is None:
            return None
        spec = pod.get("spec") or {}
        if spec.get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return None
        if spec.get("schedulerName", COMPONENT) != COMPONENT or spec.get("schedulingGates"):
            return None
        nodes, _ = self.store.list("nodes", copy=False)
        load: dict[str, int] = {n["metadata"]["name"]: 0 for n in nodes}
        for p in self.store.list("pods", copy=False)[0]:
            node = (p.get("spec") or {}).get("nodeName")
            if node in load and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                load[node] += 1
        reasons: dict[str, int] = {}
        fits = []
        for n in nodes:
            why = _fits(pod, n)
            if why is None:
                fits.append(n["metadata"]["name"])
            else:
                reasons[why] = reasons.get(why, 0) + 1
        if not fits:
            self._unschedulable(pod, len(nodes), reasons)
            return None
        chosen = min(fits, key=lambda name: (load[name], name))
        now = now_rfc3339()

        def bind(o: dict[str, Any]) -> None:
            o["spec"]["nodeName"] = chosen
            conds = [
                c
                for c in (o.setdefault("status", {}).get("conditions") or [])
                if c.get("type") != "PodScheduled"
            ]
            conds.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": now,
                }
            )
            o["status"]["conditions"] = conds

        bound = self.store.mutate("pods", key[0], key[1], bind)
        record_event(
            self.store,
            bound,
            "Scheduled",
            f"Successfully assigned {key[0]}/{key[1]} to {chosen}",
            component=COMPONENT,
        )
        return None

    def _unschedulable(self, pod: dict[str, Any], total: int, reasons: dict[str, int]) -> None:
        detail = " ".join(f"{n} {why}." for why, n in sorted(reasons.items()))
        message = (
            f"0/{total} nodes are available: {detail}".rstrip()
            if total
            else "no nodes available to schedule pods"
        )
        if total:
            message += (
                f" preemption: 0/{total} nodes are available: {total} Preemption is not "
                "helpful for scheduling."
            )
        meta = pod["metadata"]
        conds = (pod.get("status") or {}).get("conditions") or []
        current = next((c for c in conds if c.get("type") == "PodScheduled"), None)
        if current is None or current.get("message") != message:
            now = now_rfc3339()

            def mark(o: dict[str, Any]) -> None:
                cs = [
                    c
                    for c in (o.setdefault("status", {}).get("conditions") or [])
                    if c.get("type") != "PodScheduled"
                ]
                cs.append(
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "lastProbeTime": None,
                        "lastTransitionTime": now,
                        "reason": "Unschedulable",
                        "message": message,
                    }
                )
                o["status"]["conditions"] = cs

            pod = self.store.mutate("pods", meta["namespace"], meta["name"], mark)
        record_event(
            self.store, pod, "FailedScheduling", message, type="Warning", component=COMPONENT
        )
