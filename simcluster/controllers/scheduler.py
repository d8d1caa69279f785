"""The scheduler: binds each pending pod to a Ready, schedulable node, spreading pods out.

A node qualifies when it is not cordoned, every NoSchedule/NoExecute taint is tolerated
(the unreachable taints of a lost node among them), its Ready condition is True and it
matches the pod's `nodeSelector`. Among those the node with
the fewest running pods wins (ties by name), as the default scheduler's spreading does for
equal nodes. A pod nothing fits stays Pending with `PodScheduled=False/Unschedulable` and a
FailedScheduling event, and is retried when nodes, claims or pods change (and every
`retry` seconds, the scheduler's 5-minute flush of its unschedulable queue).

Volumes are checked first, as the default profile's PreFilter plugins do: a claim that does
not exist, is being deleted, or is not bound (and will not be: its StorageClass is missing,
or it names none) fails every node at once — `0/3 nodes are available: pod has unbound
immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not
helpful for scheduling.` (1.30+ wording). A claim whose class exists is about to be bound by
the volume binder: the pod waits for that quietly. A ReadWriteOncePod claim already used by
a scheduled pod fails each node with VolumeRestrictions' reason, which preemption cannot fix
among equal priorities. ReadWriteOnce is not checked here (the real scheduler does not
either): that is the attach/detach controller's Multi-Attach error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simcluster.controllers.base import Controller, Key
from simcluster.controllers.volumes import claims_of
from simcluster.events import record_event
from simcluster.storageclasses import default_class, find
from simcluster.store import WatchEvent, now_rfc3339
from simcluster.tolerations import matching_toleration

COMPONENT = "default-scheduler"
RETRY = 300.0  # podMaxInUnschedulablePodsDuration: an unschedulable pod is tried again
SETTLING = 0.1  # how soon a pod whose claims are being bound is looked at again
UNBOUND = "pod has unbound immediate PersistentVolumeClaims"
RWOP_CONFLICT = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


def node_ready(node: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def _fits(pod: dict[str, Any], node: dict[str, Any]) -> str | None:
    """None if the pod may run on the node, else the reason it may not."""
    spec, nspec = pod.get("spec") or {}, node.get("spec") or {}
    if nspec.get("unschedulable"):  # the default profile's filters run in this order
        return "node(s) were unschedulable"
    for taint in nspec.get("taints") or []:
        tolerated = matching_toleration(spec.get("tolerations") or [], taint) is not None
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerated:
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    if not node_ready(node):
        return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    labels = node["metadata"].get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return "node(s) didn't match Pod's node affinity/selector"
    return None


def _terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _bound(pvc: dict[str, Any]) -> bool:
    return (
        bool((pvc.get("spec") or {}).get("volumeName"))
        and (pvc.get("status") or {}).get("phase") == "Bound"
    )


def _same_but_status(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """The scheduling queue's isPodUpdated, negated: nothing but status and bookkeeping moved."""
    skip = ("resourceVersion", "managedFields", "generation")

    def meta(o: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in (o.get("metadata") or {}).items() if k not in skip}

    return bool(old.get("spec") == new.get("spec") and meta(old) == meta(new))


def histogram(reasons: dict[str, int]) -> str:
    """`N reason, M reason` sorted as the scheduler's FitError sorts its reason strings."""
    return ", ".join(sorted(f"{n} {why}" for why, n in reasons.items()))


class Scheduler(Controller):
    name = "scheduler"
    plural = "pods"
    retry = RETRY

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "pods":
            obj = ev.object
            if ev.type != "DELETED" and not (obj.get("spec") or {}).get("nodeName"):
                if ev.old is not None and _same_but_status(ev.old, obj):
                    return ()  # our own status write (or another's) is no reason to try again
                return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
            if ev.type == "DELETED" or (obj.get("status") or {}).get("phase") in (
                "Succeeded",
                "Failed",
            ):
                return self._pending()  # capacity freed
            return ()
        if plural in ("nodes", "persistentvolumeclaims"):
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
        prefilter, settling, rwop = self._volumes(pod)
        if prefilter is not None:
            self._unschedulable(pod, len(nodes), prefilter=prefilter)
            return self.retry
        if settling:
            return SETTLING
        load: dict[str, int] = {n["metadata"]["name"]: 0 for n in nodes}
        for p in self.store.list("pods", copy=False)[0]:
            node = (p.get("spec") or {}).get("nodeName")
            if node in load and not _terminal(p):
                load[node] += 1
        reasons: dict[str, int] = {}
        unresolvable = 0
        fits = []
        for n in nodes:
            why = _fits(pod, n)
            if why is None and rwop:
                why = RWOP_CONFLICT  # Unschedulable: preemption is tried (and finds no victim)
            elif why is not None:
                unresolvable += 1
            if why is None:
                fits.append(n["metadata"]["name"])
            else:
                reasons[why] = reasons.get(why, 0) + 1
        if not fits:
            self._unschedulable(pod, len(nodes), reasons, unresolvable)
            return self.retry
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

    def _volumes(self, pod: dict[str, Any]) -> tuple[str | None, bool, bool]:
        """The pod's claims as the PreFilter plugins see them: (rejection message or None,
        whether a claim is about to be bound, whether a ReadWriteOncePod claim is taken)."""
        ns = pod["metadata"].get("namespace", "")
        pvcs = []
        for name in claims_of(pod):  # VolumeRestrictions runs first: every claim must exist
            pvc = self.store.peek("persistentvolumeclaims", ns, name)
            if pvc is None:
                return f'persistentvolumeclaim "{name}" not found', False, False
            pvcs.append(pvc)
        unbound = settling = False
        for pvc in pvcs:  # then VolumeBinding
            if pvc["metadata"].get("deletionTimestamp"):
                return (
                    f'persistentvolumeclaim "{pvc["metadata"]["name"]}" is being deleted',
                    False,
                    False,
                )
            if _bound(pvc):
                continue
            wanted = (pvc.get("spec") or {}).get("storageClassName")
            provisionable = (
                default_class(self.store) if wanted is None else find(self.store, str(wanted))
            )
            if provisionable is None:
                unbound = True
            else:
                settling = True
        if unbound:
            return UNBOUND, False, False
        rwop = {
            pvc["metadata"]["name"]
            for pvc in pvcs
            if "ReadWriteOncePod" in ((pvc.get("spec") or {}).get("accessModes") or [])
        }
        taken = bool(rwop) and any(
            p["metadata"]["uid"] != pod["metadata"]["uid"]
            and (p.get("spec") or {}).get("nodeName")
            and not _terminal(p)
            and rwop & set(claims_of(p))
            for p in self.store.list("pods", ns, copy=False)[0]
        )
        return None, settling, taken

    def _unschedulable(
        self,
        pod: dict[str, Any],
        total: int,
        reasons: dict[str, int] | None = None,
        unresolvable: int = 0,
        prefilter: str | None = None,
    ) -> None:
        """Mark the pod unschedulable with the scheduler's FitError message (1.30+ shape)."""
        if not total:
            message = "no nodes available to schedule pods"
        else:
            message = f"0/{total} nodes are available:"
            if prefilter is not None:
                message += f" {prefilter}."  # a PreFilter rejection fails every node
                unresolvable = total
            else:
                message += f" {histogram(reasons or {})}."
            preemption: dict[str, int] = {}
            if unresolvable:
                preemption[NOT_HELPFUL] = unresolvable
            if total - unresolvable:
                preemption[NO_VICTIMS] = total - unresolvable
            message += f" preemption: 0/{total} nodes are available: {histogram(preemption)}."
        meta = pod["metadata"]
        conds = (pod.get("status") or {}).get("conditions") or []
        current = next((c for c in conds if c.get("type") == "PodScheduled"), None)
        if current is None or current.get("message") != message:
            now = now_rfc3339()
            if current is not None and current.get("status") == "False":
                now = current.get("lastTransitionTime") or now

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
