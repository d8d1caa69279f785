"""Pre-warm Jobs and CronJobs: state, last run, and the download progress of their pods."""

from __future__ import annotations

from collections.abc import Sequence

from collectors import kube
from collectors.model import DownloadProgress, JobInfo, PodInfo


def _latest_progress(pods: Sequence[PodInfo]) -> DownloadProgress | None:
    """The progress of the newest pod that has one (a running one first)."""
    ordered = sorted(pods, key=lambda p: (p.phase != "Running", -p.created_at))
    return next((p.progress for p in ordered if p.progress is not None), None)


def job_state(job: kube.Obj) -> str:
    for kind in ("Complete", "Failed"):
        cond = kube.condition(job, kind)
        if cond and cond.get("status") == "True":
            return kind
    if kube.spec(job).get("suspend"):
        return "Suspended"
    return "Running"


def job_info(job: kube.Obj, pods: Sequence[PodInfo]) -> JobInfo:
    st = kube.status(job)
    state = job_state(job)
    progress = _latest_progress(pods)
    return JobInfo(
        name=kube.name_of(job),
        kind="Job",
        state=state,
        active=int(st.get("active") or 0),
        succeeded=int(st.get("succeeded") or 0),
        failed=int(st.get("failed") or 0),
        last_run=kube.timestamp(st.get("startTime")),
        # Complete: its pod exited 0, perhaps before the stream read the log's last lines.
        progress=progress.finished() if progress and state == "Complete" else progress,
        pods=tuple(sorted(p.name for p in pods)),
    )


def cronjob_info(cronjob: kube.Obj, jobs: Sequence[JobInfo]) -> JobInfo:
    spec, st = kube.spec(cronjob), kube.status(cronjob)
    running = [j for j in jobs if j.state == "Running"]
    progress = next((j.progress for j in running if j.progress), None)
    if progress is None:
        progress = next(
            (j.progress for j in sorted(jobs, key=lambda j: -(j.last_run or 0)) if j.progress), None
        )
    return JobInfo(
        name=kube.name_of(cronjob),
        kind="CronJob",
        state="Suspended" if spec.get("suspend") else "Scheduled",
        active=len(kube.items(st.get("active"))),
        succeeded=sum(1 for j in jobs if j.state == "Complete"),
        failed=sum(1 for j in jobs if j.state == "Failed"),
        schedule=spec.get("schedule") if isinstance(spec.get("schedule"), str) else None,
        last_run=kube.timestamp(st.get("lastScheduleTime")),
        progress=progress,
        pods=tuple(sorted(p for j in jobs for p in j.pods)),
    )
