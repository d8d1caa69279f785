"""The Deployment controller: one ReplicaSet per pod template (named by its pod-template-hash),
rolling updates within maxSurge/maxUnavailable (or Recreate), and the status fields
`kubectl rollout status` reads: observedGeneration, replicas, updatedReplicas,
readyReplicas, availableReplicas, unavailableReplicas and the Available/Progressing
conditions (ProgressDeadlineExceeded when a rollout stalls), plus ReplicaFailure copied
from a ReplicaSet whose pod creates are refused (a ResourceQuota), for as long as it lasts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from simcluster.apiserver.tables import parse_time
from simcluster.controllers.base import Controller, Key, owner_keys, owner_ref
from simcluster.events import record_event
from simcluster.store import WatchEvent, deep_copy, now_rfc3339

COMPONENT = "deployment-controller"
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: dict[str, Any]) -> str:
    """FNV-32a of the template, encoded with Kubernetes' SafeEncodeString alphabet."""
    t = deep_copy(template)
    labels = (t.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    data = json.dumps(t, sort_keys=True, separators=(",", ":")).encode()
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(h))


def _same_template(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(t: dict[str, Any]) -> dict[str, Any]:
        t = deep_copy(t)
        labels = (t.get("metadata") or {}).get("labels")
        if labels:
            labels.pop(HASH_LABEL, None)
        meta = t.get("metadata") or {}
        meta.pop("creationTimestamp", None)
        return t

    return strip(a) == strip(b)


def _resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        pct = int(value[:-1]) * total / 100
        return math.ceil(pct) if round_up else math.floor(pct)
    return int(value or 0)


def surge_and_unavailable(d: dict[str, Any]) -> tuple[int, int]:
    spec = d.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, replicas
    ru = strategy.get("rollingUpdate") or {}
    surge = _resolve(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = _resolve(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def _revision(rs: dict[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _cond(
    type_: str, status: str, reason: str, message: str, now: str, old: dict[str, Any] | None
) -> dict[str, Any]:
    transition = now
    if old is not None and old.get("status") == status:
        transition = old.get("lastTransitionTime", now)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": now
        if old is None or old.get("reason") != reason or old.get("message") != message
        else old.get("lastUpdateTime", now),
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }


class DeploymentController(Controller):
    name = "deployment"
    plural = "deployments"
    resync = 2.0

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "deployments":
            return super().keys_for(plural, ev)
        if plural == "replicasets":
            return owner_keys(ev, "Deployment")
        return ()

    def _scale(self, d: dict[str, Any], rs: dict[str, Any], to: int) -> dict[str, Any]:
        frm = int(rs["spec"].get("replicas", 0))
        if frm == to:
            return rs
        meta = rs["metadata"]

        def set_replicas(o: dict[str, Any]) -> None:
            o["spec"]["replicas"] = to
            ann = o["metadata"].setdefault("annotations", {})
            ann["deployment.kubernetes.io/desired-replicas"] = str(d["spec"].get("replicas", 1))
            ann["deployment.kubernetes.io/max-replicas"] = str(
                int(d["spec"].get("replicas", 1)) + surge_and_unavailable(d)[0]
            )

        updated = self.store.mutate("replicasets", meta["namespace"], meta["name"], set_replicas)
        word = "up" if to > frm else "down"
        record_event(
            self.store,
            d,
            "ScalingReplicaSet",
            f"Scaled {word} replica set {meta['name']} from {frm} to {to}",
            component=COMPONENT,
        )
        return updated

    def reconcile(self, key: Key) -> float | None:
        d = self.store.peek("deployments", key[0], key[1])
        if d is None or d["metadata"].get("deletionTimestamp"):
            return None
        spec = d.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        owned = [
            rs
            for rs in self.store.owned_by("replicasets", d["metadata"]["uid"], key[0])
            if not rs["metadata"].get("deletionTimestamp")
        ]
        new_rs = next(
            (rs for rs in owned if _same_template(rs["spec"].get("template") or {}, template)), None
        )
        old_rss = sorted((rs for rs in owned if rs is not new_rs), key=_revision)
        max_rev = max((_revision(rs) for rs in owned), default=0)
        created_new = False
        surge, unavailable = surge_and_unavailable(d)
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        if spec.get("paused"):
            self._write_status(d, new_rs, old_rss, created_new)
            return None
        if new_rs is None:
            new_rs = self._create_rs(d, template, max_rev + 1, replicas, old_rss, surge, recreate)
            created_new = True
        elif _revision(new_rs) < max_rev:
            rev = str(max_rev + 1)
            new_rs = self.store.mutate(
                "replicasets",
                key[0],
                new_rs["metadata"]["name"],
                lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(REVISION, rev),
            )
        if recreate:
            self._recreate(d, new_rs, old_rss, replicas)
        else:
            self._rolling(d, new_rs, old_rss, replicas, surge, unavailable)
        self._cleanup(d, old_rss)
        return self._write_status(d, new_rs, old_rss, created_new)

    def _create_rs(
        self,
        d: dict[str, Any],
        template: dict[str, Any],
        revision: int,
        replicas: int,
        old_rss: list[dict[str, Any]],
        surge: int,
        recreate: bool,
    ) -> dict[str, Any]:
        h = template_hash(template)
        t = deep_copy(template)
        t.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = deep_copy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        labels = dict(t["metadata"]["labels"])
        if recreate:
            initial = 0 if any(int(rs["spec"].get("replicas", 0)) for rs in old_rss) else replicas
        else:
            current = sum(int(rs["spec"].get("replicas", 0)) for rs in old_rss)
            initial = max(0, min(replicas, replicas + surge - current))
        rs = {
            "metadata": {
                "name": f"{d['metadata']['name']}-{h}",
                "namespace": d["metadata"]["namespace"],
                "labels": labels,
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas + surge),
                },
                "ownerReferences": [owner_ref(d)],
            },
            "spec": {
                "replicas": initial,
                "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                "selector": selector,
                "template": t,
            },
        }
        created = self.store.create("replicasets", rs)
        if initial > 0:
            record_event(
                self.store,
                d,
                "ScalingReplicaSet",
                f"Scaled up replica set {created['metadata']['name']} from 0 to {initial}",
                component=COMPONENT,
            )
        return created

    def _recreate(
        self,
        d: dict[str, Any],
        new_rs: dict[str, Any],
        old_rss: list[dict[str, Any]],
        replicas: int,
    ) -> None:
        for rs in old_rss:
            self._scale(d, rs, 0)
        old_pods = [
            p
            for rs in old_rss
            for p in self.store.owned_by("pods", rs["metadata"]["uid"], d["metadata"]["namespace"])
        ]
        if not old_pods:
            self._scale(d, new_rs, replicas)

    def _rolling(
        self,
        d: dict[str, Any],
        new_rs: dict[str, Any],
        old_rss: list[dict[str, Any]],
        replicas: int,
        surge: int,
        unavailable: int,
    ) -> None:
        new_count = int(new_rs["spec"].get("replicas", 0))
        if new_count > replicas:
            new_rs = self._scale(d, new_rs, replicas)
        elif new_count < replicas:
            total = new_count + sum(int(rs["spec"].get("replicas", 0)) for rs in old_rss)
            room = replicas + surge - total
            if room > 0:
                new_rs = self._scale(d, new_rs, min(replicas, new_count + room))
        if not old_rss:
            return
        # Scale old ReplicaSets down, never below minAvailable across all of them.
        min_available = replicas - unavailable
        all_rs = [new_rs, *old_rss]
        total_pods = sum(int(rs["spec"].get("replicas", 0)) for rs in all_rs)
        new_unavailable = int(new_rs["spec"].get("replicas", 0)) - int(
            (new_rs.get("status") or {}).get("availableReplicas", 0)
        )
        budget = total_pods - min_available - max(0, new_unavailable)
        for rs in old_rss:  # unhealthy replicas first
            if budget <= 0:
                break
            cur = int(rs["spec"].get("replicas", 0))
            unhealthy = cur - int((rs.get("status") or {}).get("availableReplicas", 0))
            cut = min(max(0, unhealthy), budget)
            if cut:
                self._scale(d, rs, cur - cut)
                budget -= cut
        old_rss = [
            self.store.peek("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])
            or rs
            for rs in old_rss
        ]
        available = sum(
            int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in [new_rs, *old_rss]
        )
        can_down = available - min_available
        for rs in old_rss:
            if can_down <= 0:
                break
            cur = int(rs["spec"].get("replicas", 0))
            cut = min(cur, can_down)
            if cut:
                self._scale(d, rs, cur - cut)
                can_down -= cut

    def _cleanup(self, d: dict[str, Any], old_rss: list[dict[str, Any]]) -> None:
        limit = int(d["spec"].get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in old_rss
            if int(rs["spec"].get("replicas", 0)) == 0
            and int((rs.get("status") or {}).get("replicas", 0)) == 0
        ]
        for rs in idle[: max(0, len(idle) - limit)]:
            self.store.delete("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _write_status(
        self,
        d: dict[str, Any],
        new_rs: dict[str, Any] | None,
        old_rss: list[dict[str, Any]],
        created_new: bool,
    ) -> float | None:
        ns = d["metadata"]["namespace"]
        fresh = [
            self.store.peek("replicasets", ns, rs["metadata"]["name"])
            for rs in ([new_rs] if new_rs else []) + old_rss
        ]
        all_rs = [rs for rs in fresh if rs is not None]
        new_fresh = fresh[0] if new_rs is not None else None
        spec = d["spec"]
        replicas = int(spec.get("replicas", 1))

        def st(rs: dict[str, Any] | None, k: str) -> int:
            return int(((rs or {}).get("status") or {}).get(k, 0))

        total = sum(st(rs, "replicas") for rs in all_rs)
        updated = st(new_fresh, "replicas")
        ready = sum(st(rs, "readyReplicas") for rs in all_rs)
        available = sum(st(rs, "availableReplicas") for rs in all_rs)
        _, unavailable = surge_and_unavailable(d)
        now = now_rfc3339()
        old_conds = {c.get("type"): c for c in (d.get("status") or {}).get("conditions") or []}
        if available >= replicas - unavailable:
            avail = _cond(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
                old_conds.get("Available"),
            )
        else:
            avail = _cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
                old_conds.get("Available"),
            )
        rs_name = new_fresh["metadata"]["name"] if new_fresh else ""
        complete = (
            new_fresh is not None
            and updated == replicas
            and available >= replicas
            and total == replicas
            and st(new_fresh, "availableReplicas") >= replicas
        )
        prev = old_conds.get("Progressing")
        again: float | None = None
        if spec.get("paused"):
            prog = _cond(
                "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now, prev
            )
        elif complete:
            prog = _cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
                prev,
            )
        elif created_new:
            prog = _cond(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{rs_name}"',
                now,
                prev,
            )
        else:
            prog = _cond(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                now,
                prev,
            )
            same = _same_progress(d, total, updated, ready, available)
            deadline = spec.get("progressDeadlineSeconds")
            if prev is not None and prev.get("reason") == "ProgressDeadlineExceeded" and same:
                prog = prev
            elif not same:
                prog["lastUpdateTime"] = now
            elif deadline is not None:
                started = parse_time(prog.get("lastUpdateTime"))
                waited = (datetime.now(timezone.utc) - started).total_seconds() if started else 0.0
                if waited > int(deadline):
                    prog = _cond(
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        f'ReplicaSet "{rs_name}" has timed out progressing.',
                        now,
                        prev,
                    )
                else:
                    again = max(0.5, int(deadline) - waited + 0.1)
        status: dict[str, Any] = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": max(0, replicas - available),
            "conditions": [avail, prog],
        }
        failure = _replica_failure(all_rs, old_conds.get("ReplicaFailure"))
        if failure is not None:
            status["conditions"].append(failure)
        for k in (
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ):
            if not status[k]:
                del status[k]
        revision = str(_revision(new_fresh)) if new_fresh else None

        def write(o: dict[str, Any]) -> None:
            o["status"] = status
            if revision:
                o["metadata"].setdefault("annotations", {})[REVISION] = revision

        self.store.mutate("deployments", ns, d["metadata"]["name"], write)
        return again


def _replica_failure(
    all_rs: list[dict[str, Any]], old: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The ReplicaFailure condition of the first ReplicaSet that has one (the new one is
    first), as a Deployment condition dated by the ReplicaSet's transition; an unchanged
    status and reason keep the Deployment's own, as SetDeploymentCondition does."""
    for rs in all_rs:
        for c in (rs.get("status") or {}).get("conditions") or []:
            if c.get("type") != "ReplicaFailure":
                continue
            if old is not None and (old.get("status"), old.get("reason")) == (
                c.get("status"),
                c.get("reason"),
            ):
                return old
            return {
                "type": "ReplicaFailure",
                "status": c.get("status", "True"),
                "lastUpdateTime": c.get("lastTransitionTime"),
                "lastTransitionTime": c.get("lastTransitionTime"),
                "reason": c.get("reason", ""),
                "message": c.get("message", ""),
            }
    return None


def _same_progress(d: dict[str, Any], total: int, updated: int, ready: int, available: int) -> bool:
    status = d.get("status") or {}
    return (
        int(status.get("replicas", 0)) == total
        and int(status.get("updatedReplicas", 0)) == updated
        and int(status.get("readyReplicas", 0)) == ready
        and int(status.get("availableReplicas", 0)) == available
    )
