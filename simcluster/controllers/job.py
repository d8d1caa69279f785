"""The Job controller: runs pods until `completions` succeed or failures pass `backoffLimit`.

Status follows batch/v1 as Kubernetes 1.32 writes it: active, ready, terminating,
succeeded, failed, startTime, completionTime, and the conditions SuccessCriteriaMet then
Complete, or FailureTarget then Failed (the terminal one once no pod is left running).
Failed pods are replaced after an exponential backoff (`backoff_base` seconds, doubling);
`activeDeadlineSeconds`, `suspend` and `ttlSecondsAfterFinished` are honoured.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from simcluster.apiserver.tables import parse_time
from simcluster.controllers.base import Controller, Key, owner_keys
from simcluster.controllers.replicaset import pod_from_template, pod_ready
from simcluster.events import record_event
from simcluster.store import WatchEvent, now_rfc3339

COMPONENT = "job-controller"
BACKOFF_CAP = 360.0


@dataclass
class _Tracked:
    succeeded: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    base_succeeded: int = 0
    base_failed: int = 0
    not_before: float = 0.0


def _cond_true(status: dict[str, Any], type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _condition(type_: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True",
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


class JobController(Controller):
    name = "job"
    plural = "jobs"
    resync = 1.0
    backoff_base = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tracked: dict[str, _Tracked] = {}

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "jobs":
            if ev.type == "DELETED":
                self._tracked.pop(ev.object["metadata"]["uid"], None)
                return ()
            return super().keys_for(plural, ev)
        if plural == "pods":
            return owner_keys(ev, "Job")
        return ()

    def reconcile(self, key: Key) -> float | None:
        job = self.store.peek("jobs", key[0], key[1])
        if job is None or job["metadata"].get("deletionTimestamp"):
            return None
        spec, status = job.get("spec") or {}, dict(job.get("status") or {})
        uid = job["metadata"]["uid"]
        tr = self._tracked.get(uid)
        if tr is None:
            tr = self._tracked[uid] = _Tracked(
                base_succeeded=int(status.get("succeeded", 0)),
                base_failed=int(status.get("failed", 0)),
            )
        pods = self.store.owned_by("pods", uid, key[0])
        new_failures = 0
        for p in pods:
            phase = (p.get("status") or {}).get("phase")
            puid = p["metadata"]["uid"]
            if phase == "Succeeded" and puid not in tr.succeeded:
                tr.succeeded.add(puid)
            elif phase == "Failed" and puid not in tr.failed:
                tr.failed.add(puid)
                new_failures += 1
        active = [
            p
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        terminating = [
            p
            for p in pods
            if p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        succeeded = tr.base_succeeded + len(tr.succeeded)
        failed = tr.base_failed + len(tr.failed)
        restarts = 0
        if (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure":
            restarts = sum(
                int(cs.get("restartCount", 0))
                for p in pods
                for cs in (p.get("status") or {}).get("containerStatuses") or []
            )
        now = now_rfc3339()
        conditions = list(status.get("conditions") or [])
        finished = _cond_true(status, "Complete") or _cond_true(status, "Failed")
        again: float | None = None
        if finished:
            ttl = spec.get("ttlSecondsAfterFinished")
            if ttl is not None:
                done_at = parse_time(
                    status.get("completionTime")
                    or next(
                        (
                            c.get("lastTransitionTime")
                            for c in conditions
                            if c.get("type") in ("Complete", "Failed")
                        ),
                        None,
                    )
                )
                left = int(ttl) - (
                    (datetime.now(timezone.utc) - done_at).total_seconds() if done_at else 0
                )
                if left <= 0:
                    self.store.delete("jobs", key[0], key[1], propagation="Background")
                    return None
                again = left
            if _cond_true(status, "Failed"):
                self._delete(job, active)
            return again
        if spec.get("suspend"):
            self._delete(job, active)
            if not _cond_true(status, "Suspended"):
                conditions.append(_condition("Suspended", "JobSuspended", "Job suspended", now))
                record_event(self.store, job, "Suspended", "Job suspended", component=COMPONENT)
            self._write(job, status, conditions, active, terminating, succeeded, failed)
            return None
        conditions = [c for c in conditions if c.get("type") != "Suspended"]
        if not status.get("startTime"):
            status["startTime"] = now
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        failure_reason = None
        if failed + restarts > int(spec.get("backoffLimit", 6)):
            failure_reason = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        deadline = spec.get("activeDeadlineSeconds")
        started = parse_time(status.get("startTime"))
        if failure_reason is None and deadline is not None and started is not None:
            elapsed = (datetime.now(timezone.utc) - started).total_seconds()
            if elapsed >= int(deadline):
                failure_reason = (
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                )
            else:
                again = int(deadline) - elapsed
        if failure_reason is not None:
            if not _cond_true(status, "FailureTarget"):
                conditions.append(_condition("FailureTarget", *failure_reason, now))
                record_event(
                    self.store,
                    job,
                    failure_reason[0],
                    failure_reason[1],
                    type="Warning",
                    component=COMPONENT,
                )
            self._delete(job, active)
            if not active and not terminating:
                conditions.append(_condition("Failed", *failure_reason, now))
            self._write(job, status, conditions, [], terminating, succeeded, failed)
            return 0.2 if (active or terminating) else None
        done = (
            succeeded >= int(completions)
            if completions is not None
            else (succeeded > 0 and not active)
        )
        if done:
            if not _cond_true(status, "SuccessCriteriaMet"):
                conditions.append(
                    _condition(
                        "SuccessCriteriaMet",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                        now,
                    )
                )
            self._delete(job, active)
            if not active and not terminating:
                conditions.append(
                    _condition(
                        "Complete",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                        now,
                    )
                )
                status["completionTime"] = now
                record_event(self.store, job, "Completed", "Job completed", component=COMPONENT)
            self._write(job, status, conditions, [], terminating, succeeded, failed)
            return 0.2 if (active or terminating) else None
        if completions is not None:
            want = min(parallelism, int(completions) - succeeded)
        else:
            want = parallelism if succeeded == 0 else 0
        if new_failures:
            delay = min(
                BACKOFF_CAP, self.backoff_base * 2 ** max(0, len(tr.failed) + tr.base_failed - 1)
            )
            tr.not_before = time.monotonic() + delay
        missing = want - len(active)
        if missing > 0:
            wait = tr.not_before - time.monotonic()
            if wait > 0:
                again = wait if again is None else min(again, wait)
            else:
                template = spec.get("template") or {}
                for _ in range(missing):
                    pod = self.store.create("pods", pod_from_template(job, template, f"{key[1]}-"))
                    active.append(pod)
                    record_event(
                        self.store,
                        job,
                        "SuccessfulCreate",
                        f"Created pod: {pod['metadata']['name']}",
                        component=COMPONENT,
                    )
        elif missing < 0:
            self._delete(job, active[missing:])
            active = active[:missing]
        self._write(job, status, conditions, active, terminating, succeeded, failed)
        return again

    def _delete(self, job: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        for p in pods:
            if p["metadata"].get("deletionTimestamp"):
                continue
            self.store.delete("pods", p["metadata"]["namespace"], p["metadata"]["name"])
            record_event(
                self.store,
                job,
                "SuccessfulDelete",
                f"Deleted pod: {p['metadata']['name']}",
                component=COMPONENT,
            )

    def _write(
        self,
        job: dict[str, Any],
        status: dict[str, Any],
        conditions: list[dict[str, Any]],
        active: list[dict[str, Any]],
        terminating: list[dict[str, Any]],
        succeeded: int,
        failed: int,
    ) -> None:
        new: dict[str, Any] = {}
        if conditions:
            new["conditions"] = conditions
        for k in ("startTime", "completionTime"):
            if status.get(k):
                new[k] = status[k]
        if active:
            new["active"] = len(active)
        if succeeded:
            new["succeeded"] = succeeded
        if failed:
            new["failed"] = failed
        new["terminating"] = len(terminating)
        new["ready"] = sum(1 for p in active if pod_ready(p))
        new["uncountedTerminatedPods"] = {}
        meta = job["metadata"]

        def write(o: dict[str, Any]) -> None:
            o["status"] = new

        self.store.mutate("jobs", meta["namespace"], meta["name"], write)
