"""The CronJob controller: creates a Job at each scheduled minute, tracks active Jobs and
lastScheduleTime/lastSuccessfulTime, honours suspend, concurrencyPolicy and
startingDeadlineSeconds, and trims finished Jobs to the history limits.

Job names are `<cronjob>-<minutes since the epoch>` as upstream names them; `run_now` is the
test hook that starts one at once (like `kubectl create job --from=cronjob/...`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from simcluster import errors
from simcluster.apiserver.tables import parse_time
from simcluster.controllers.base import Controller, Key, controlled_by, owner_keys, owner_ref
from simcluster.controllers.cron import CronError, parse_schedule
from simcluster.events import record_event
from simcluster.store import WatchEvent, deep_copy, random_suffix

COMPONENT = "cronjob-controller"
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def _fmt(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _job_state(job: dict[str, Any]) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed"):
            return str(c["type"])
    return None


class CronJobController(Controller):
    name = "cronjob"
    plural = "cronjobs"
    resync = 1.0

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "cronjobs":
            return super().keys_for(plural, ev)
        if plural == "jobs":
            return owner_keys(ev, "CronJob")
        return ()

    def _zone(self, cj: dict[str, Any]) -> timezone | ZoneInfo:
        tz = (cj.get("spec") or {}).get("timeZone")
        if not tz:
            return timezone.utc
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            record_event(
                self.store,
                cj,
                "UnknownTimeZone",
                f"invalid timeZone: {tz!r}",
                type="Warning",
                component=COMPONENT,
            )
            return timezone.utc

    def reconcile(self, key: Key) -> float | None:
        cj = self.store.peek("cronjobs", key[0], key[1])
        if cj is None or cj["metadata"].get("deletionTimestamp"):
            return None
        spec = cj.get("spec") or {}
        jobs = [
            j
            for j in self.store.list("jobs", key[0], copy=False)[0]
            if controlled_by(j, cj["metadata"]["uid"])
        ]
        active = [
            j for j in jobs if _job_state(j) is None and not j["metadata"].get("deletionTimestamp")
        ]
        status = cj.get("status") or {}
        last_success = status.get("lastSuccessfulTime")
        for j in jobs:
            state = _job_state(j)
            if state == "Complete":
                done = (j.get("status") or {}).get("completionTime")
                if done and (last_success is None or done > last_success):
                    last_success = done
                    record_event(
                        self.store,
                        cj,
                        "SawCompletedJob",
                        f"Saw completed job: {j['metadata']['name']}, condition: Complete",
                        component=COMPONENT,
                    )
        self._trim(cj, jobs)
        last_schedule = status.get("lastScheduleTime")
        if not spec.get("suspend"):
            created = self._maybe_schedule(cj, active)
            if created is not None:
                active.append(created[0])
                last_schedule = created[1]
        self._write(cj, active, last_schedule, last_success)
        return None

    def _maybe_schedule(
        self, cj: dict[str, Any], active: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], str] | None:
        spec = cj["spec"]
        try:
            schedule = parse_schedule(spec.get("schedule", ""))
        except CronError:
            return None
        zone = self._zone(cj)
        now = datetime.now(timezone.utc).astimezone(zone)
        status = cj.get("status") or {}
        since = parse_time(status.get("lastScheduleTime")) or parse_time(
            cj["metadata"].get("creationTimestamp")
        )
        if since is None:
            return None
        since = since.astimezone(zone)
        deadline = spec.get("startingDeadlineSeconds")
        # Missed runs older than the starting deadline (or a day) are skipped, as upstream
        # gives up on them.
        window = timedelta(seconds=int(deadline)) if deadline is not None else timedelta(days=1)
        after = max(since, now - window)
        due = schedule.last_at_or_before(now, after)
        if due is None:
            return None
        policy = spec.get("concurrencyPolicy", "Allow")
        if active and policy == "Forbid":
            record_event(
                self.store,
                cj,
                "JobAlreadyActive",
                (
                    "Not starting job because prior execution is running and "
                    "concurrency policy is Forbid"
                ),
                component=COMPONENT,
            )
            return None
        if active and policy == "Replace":
            for j in active:
                self._delete_job(cj, j)
            active.clear()
        name = f"{cj['metadata']['name']}-{int(due.timestamp()) // 60}"
        job = self._create_job(cj, name, {SCHEDULED_ANNOTATION: _fmt(due)})
        return job, _fmt(due)

    def _create_job(
        self, cj: dict[str, Any], name: str, annotations: dict[str, str]
    ) -> dict[str, Any]:
        jt = deep_copy((cj.get("spec") or {}).get("jobTemplate") or {})
        meta = jt.get("metadata") or {}
        job = {
            "metadata": {
                "name": name,
                "namespace": cj["metadata"]["namespace"],
                "labels": dict(meta.get("labels") or {}),
                "annotations": {**(meta.get("annotations") or {}), **annotations},
                "ownerReferences": [owner_ref(cj)],
            },
            "spec": jt.get("spec") or {},
        }
        try:
            created = self.store.create("jobs", job)
        except errors.ApiError as exc:
            if exc.code != 409:
                raise
            return self.store.get("jobs", cj["metadata"]["namespace"], name)
        record_event(self.store, cj, "SuccessfulCreate", f"Created job {name}", component=COMPONENT)
        return created

    def run_now(self, namespace: str, name: str) -> dict[str, Any]:
        """Start the CronJob's Job now, as `kubectl create job --from=cronjob/NAME` does."""
        cj = self.store.get("cronjobs", namespace, name)
        job = self._create_job(
            cj, f"{name}-manual-{random_suffix()}", {"cronjob.kubernetes.io/instantiate": "manual"}
        )
        self.enqueue((namespace, name))
        return job

    def _trim(self, cj: dict[str, Any], jobs: list[dict[str, Any]]) -> None:
        spec = cj.get("spec") or {}
        for state, limit in (
            ("Complete", spec.get("successfulJobsHistoryLimit", 3)),
            ("Failed", spec.get("failedJobsHistoryLimit", 1)),
        ):
            done = sorted(
                (
                    j
                    for j in jobs
                    if _job_state(j) == state and not j["metadata"].get("deletionTimestamp")
                ),
                key=lambda j: j["metadata"].get("creationTimestamp", ""),
            )
            for j in done[: max(0, len(done) - int(limit))]:
                self._delete_job(cj, j)

    def _delete_job(self, cj: dict[str, Any], job: dict[str, Any]) -> None:
        """Delete one of the CronJob's Jobs (its pods follow) and say so on the CronJob."""
        meta = job["metadata"]
        self.store.delete("jobs", meta["namespace"], meta["name"], propagation="Background")
        record_event(
            self.store, cj, "SuccessfulDelete", f"Deleted job {meta['name']}", component=COMPONENT
        )

    def _write(
        self,
        cj: dict[str, Any],
        active: list[dict[str, Any]],
        last_schedule: str | None,
        last_success: str | None,
    ) -> None:
        refs = [
            {
                "kind": "Job",
                "namespace": j["metadata"]["namespace"],
                "name": j["metadata"]["name"],
                "uid": j["metadata"]["uid"],
                "apiVersion": "batch/v1",
                "resourceVersion": j["metadata"]["resourceVersion"],
            }
            for j in sorted(active, key=lambda j: j["metadata"]["name"])
        ]
        status: dict[str, Any] = {}
        if refs:
            status["active"] = refs
        if last_schedule:
            status["lastScheduleTime"] = last_schedule
        if last_success:
            status["lastSuccessfulTime"] = last_success

        def write(o: dict[str, Any]) -> None:
            o["status"] = status

        self.store.mutate("cronjobs", cj["metadata"]["namespace"], cj["metadata"]["name"], write)
