"""Cluster health in one line: how many pods are ready and what needs attention."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.report import volume_problems
from collectors.state import relapsing
from tui.format import format_eta


@dataclass(frozen=True)
class Health:
    level: str  # ok | busy | bad | stale | unknown
    text: str


def _job_of(pod: PodInfo) -> str | None:
    """The Job a pod belongs to (a pre-warm Job's pod is in the view, not among the servers)."""
    owner = pod.owner or ""
    return owner[4:] if owner.startswith("Job/") else None


def _jobs(n: int) -> str:
    return f"{n} pre-warm job{'s' if n != 1 else ''}"


def downloads_eta(pods: list[PodInfo]) -> str | None:
    """When the last of these downloads should end (the question at 3 a.m.): said only when
    every one of them has an ETA, as one without would make "the last" a guess."""
    etas = [p.progress.eta_seconds if p.progress and p.progress.in_flight else None for p in pods]
    known = [e for e in etas if e is not None]
    if not known or len(known) < len(etas):
        return None
    return f"download{'s' if len(known) != 1 else ''} ETA {format_eta(max(known))}"


def health(snapshot: ClusterSnapshot | None) -> Health:
    """``bad`` when any pod needs attention, ``busy`` while models move, ``ok`` when all ready.

    "ready" counts the serving pods (the selector's, the Deployments'); pre-warm Job pods are
    told apart: they are never Ready when done (they complete), and one running before any
    ASR pod exists is no ASR pod.
    """
    if snapshot is None:
        return Health("unknown", "connecting…")
    # A pod being deleted is no longer counted (its replacement is); one stuck Terminating
    # because its node stopped answering is said apart: only a force delete ends it.
    serving = [p for p in snapshot.pods if _job_of(p) is None and not p.deleting]
    ghosts = [p for p in snapshot.pods if p.deleting and p.node_lost is not None]
    active_job_pods = [
        p
        for p in snapshot.pods
        if _job_of(p) is not None and not p.deleting and p.phase in ("Pending", "Running")
    ]
    troubled_jobs = Counter(p.model_state for p in active_job_pods if p.model_state.needs_attention)
    running_jobs = {_job_of(p) for p in active_job_pods if not p.model_state.needs_attention}
    failed_jobs = sum(1 for j in snapshot.jobs if j.kind == "Job" and j.state == "Failed")
    if not serving and not active_job_pods and not failed_jobs and not ghosts:
        level = "stale" if snapshot.stale else "unknown"
        return Health(level, "no pods match")
    counts = Counter(p.model_state for p in serving)
    ready = sum(1 for p in serving if p.ready)
    parts = [f"{ready}/{len(serving)} ready" if serving else "no ASR pods"]
    for state in ModelState:
        if state is not ModelState.READY and counts.get(state):
            parts.append(f"{counts[state]} {state.value}")
    again = sum(1 for p in serving if relapsing(p))
    if again:
        parts.append(f"{again} ↻ after a failed run")
    doomed = sum(1 for p in serving if p.probe_deadline is not None)
    if doomed:
        parts.append(f"{doomed} to be killed by a probe")
    unready = sum(1 for p in serving if p.unready_because)
    if unready:
        parts.append(f"{unready} failing readiness")
    # Its node answers but says NotReady: running on borrowed time (evicted unless it recovers).
    stranded = sum(1 for p in serving if p.node_not_ready is not None)
    if stranded:
        parts.append(f"{stranded} on a NotReady node")
    if ghosts:
        parts.append(f"{len(ghosts)} Terminating on a lost node")
    if running_jobs:
        parts.append(f"{_jobs(len(running_jobs))} running")
    for state, n in sorted(troubled_jobs.items(), key=lambda kv: kv[0].urgency):
        parts.append(f"{_jobs(n)} {state.value}")
    if failed_jobs:
        parts.append(f"{_jobs(failed_jobs)} failed")
    # A volume over its quota or nearly full: the next download will not fit.
    short = len(volume_problems(snapshot))
    if short:
        parts.append(
            f"{short} volume{'s' if short != 1 else ''} {'need' if short != 1 else 'needs'} room"
        )
    stuck = sum(1 for r in snapshot.rollouts if r.problem)
    if stuck:
        parts.append(f"{stuck} rollout{'s' if stuck != 1 else ''} stuck")
    # Last: a narrow header loses it before any count.
    moving = [p for p in serving if p.model_state is ModelState.DOWNLOADING]
    moving += [p for p in active_job_pods if p.model_state is ModelState.DOWNLOADING]
    eta = downloads_eta(moving)
    if eta:
        parts.append(eta)
    if snapshot.stale:
        level = "stale"
    elif any(s.needs_attention for s in counts) or (
        troubled_jobs or failed_jobs or short or stuck or doomed or unready or stranded
    ):
        level = "bad"
    elif ready < len(serving) or running_jobs or ghosts:
        level = "busy"
    else:
        level = "ok"
    return Health(level, " · ".join(parts))
