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


def _ends_first(pod: PodInfo, eta: float) -> bool:
    """Its run ends before its download would: a probe kills it first, or its NotReady node's
    eviction comes first. Its ETA will never come."""
    deadline = pod.probe_deadline
    if deadline is not None and deadline.left < eta:
        return True
    stranded = pod.node_not_ready
    return stranded is not None and stranded.evicted_in is not None and stranded.evicted_in < eta


def downloads_eta(pods: list[PodInfo]) -> str | None:
    """When the last of these downloads should end (the question at 3 a.m.): said only when
    every one of them has an ETA, as one without would make "the last" a guess. A download
    whose pod is killed (a probe) or evicted (a NotReady node) before its ETA is left out: the
    row says so; and when none is left, nothing is said rather than an ETA that never comes."""
    etas: list[float | None] = []
    for p in pods:
        eta = p.progress.eta_seconds if p.progress and p.progress.in_flight else None
        if eta is not None and _ends_first(p, eta):
            continue
        etas.append(eta)
    known = [e for e in etas if e is not None]
    if not known or len(known) < len(etas):
        return None
    return f"download{'s' if len(known) != 1 else ''} ETA {format_eta(max(known))}"


def _terminal(pod: PodInfo) -> bool:
    """A pod whose phase is over (evicted, most often): it lingers until garbage-collected,
    takes no traffic and is no replica any more (its ReplicaSet has made another)."""
    return pod.phase in ("Failed", "Succeeded")


def health(snapshot: ClusterSnapshot | None) -> Health:
    """``bad`` when any pod needs attention, ``busy`` while models move, ``ok`` when all ready.

    "ready" counts the serving pods (the selector's, the Deployments'); pre-warm Job pods are
    told apart: they are never Ready when done (they complete), and one running before any
    ASR pod exists is no ASR pod. So are pods whose phase is over (evicted): no replica any
    more, counted apart. After ``N/M ready`` the parts come most urgent first (what is red,
    then what is under way): a narrow header cuts from the end.
    """
    if snapshot is None:
        return Health("unknown", "connecting…")
    # A pod being deleted is no longer counted (its replacement is); one stuck Terminating
    # because its node stopped answering is said apart: only a force delete ends it.
    ours = [p for p in snapshot.pods if _job_of(p) is None and not p.deleting]
    serving = [p for p in ours if not _terminal(p)]
    ended = [p for p in ours if _terminal(p)]
    ghosts = [p for p in snapshot.pods if p.deleting and p.node_lost is not None]
    active_job_pods = [
        p
        for p in snapshot.pods
        if _job_of(p) is not None and not p.deleting and p.phase in ("Pending", "Running")
    ]
    troubled_jobs = Counter(p.model_state for p in active_job_pods if p.model_state.needs_attention)
    running_jobs = {_job_of(p) for p in active_job_pods if not p.model_state.needs_attention}
    failed_jobs = sum(1 for j in snapshot.jobs if j.kind == "Job" and j.state == "Failed")
    if not ours and not active_job_pods and not failed_jobs and not ghosts:
        level = "stale" if snapshot.stale else "unknown"
        return Health(level, "no pods match")
    counts = Counter(p.model_state for p in serving)
    ready = sum(1 for p in serving if p.ready)
    urgent: list[str] = []  # red: something needs you
    calm: list[str] = []  # under way, or waiting its turn
    for state in ModelState:
        if state is not ModelState.READY and counts.get(state):
            (urgent if state.needs_attention else calm).append(f"{counts[state]} {state.value}")
    evicted = sum(1 for p in ended if p.evicted)
    if evicted:
        urgent.append(f"{evicted} evicted")
    if len(ended) > evicted:
        urgent.append(f"{len(ended) - evicted} ended ({'/'.join(_ended_reasons(ended))})")
    doomed = sum(1 for p in serving if p.probe_deadline is not None)
    if doomed:
        urgent.append(f"{doomed} to be killed by a probe")
    unready = sum(1 for p in serving if p.unready_because)
    if unready:
        urgent.append(f"{unready} failing readiness")
    # Its node answers but says NotReady: running on borrowed time (evicted unless it recovers).
    stranded = sum(1 for p in serving if p.node_not_ready is not None)
    if stranded:
        urgent.append(f"{stranded} on a NotReady node")
    for state, n in sorted(troubled_jobs.items(), key=lambda kv: kv[0].urgency):
        urgent.append(f"{_jobs(n)} {state.value}")
    if failed_jobs:
        urgent.append(f"{_jobs(failed_jobs)} failed")
    # A volume over its quota or nearly full: the next download will not fit.
    short = len(volume_problems(snapshot))
    if short:
        urgent.append(
            f"{short} volume{'s' if short != 1 else ''} {'need' if short != 1 else 'needs'} room"
        )
    stuck = sum(1 for r in snapshot.rollouts if r.problem)
    if stuck:
        urgent.append(f"{stuck} rollout{'s' if stuck != 1 else ''} stuck")
    if ghosts:  # only a force delete ends it; not red: its replacement serves
        calm.insert(0, f"{len(ghosts)} Terminating on a lost node")
    again = sum(1 for p in serving if relapsing(p))
    if again:
        calm.append(f"{again} ↻ after a failed run")
    if running_jobs:
        calm.append(f"{_jobs(len(running_jobs))} running")
    # Last: a narrow header loses it before any count.
    moving = [p for p in serving if p.model_state is ModelState.DOWNLOADING]
    moving += [p for p in active_job_pods if p.model_state is ModelState.DOWNLOADING]
    eta = downloads_eta(moving)
    if eta:
        calm.append(eta)
    if snapshot.stale:
        level = "stale"
    elif urgent:
        level = "bad"
    elif ready < len(serving) or running_jobs or ghosts:
        level = "busy"
    else:
        level = "ok"
    lead = (
        f"{ready}/{len(serving)} ready" if serving else ("none serving" if ended else "no ASR pods")
    )
    return Health(level, " · ".join([lead, *urgent, *calm]))


def _ended_reasons(pods: list[PodInfo]) -> list[str]:
    return sorted({p.status_reason or p.phase for p in pods if not p.evicted})
