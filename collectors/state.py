"""The model-state rules: where a pod stands with its model, and the evidence for it.

A pure function of the pod (as the API reports it), what its log established, what the disk
showed, what keeps it from starting (``blockers.py``), and the time. The rules, first match
wins:

1. corrupt   a verify run found a mismatch; or (pod not Ready) the log's latest outcome is a
             checksum mismatch, or a downloader container exited 5.
2. ready     the pod's Ready condition is True; or the log says "Server ready" and a
             container runs.
   done      the pod Succeeded without a failure in its log: a pre-warm Job's pod whose
             download is done (it serves nothing, so it is not ready).
3. failed    its node stopped reporting (``nodes.py``: the download went with it); or a
             container was OOMKilled and is down (terminated, or in its back-off): its
             memory limit is too small, most often to load the model; or its liveness or
             startup probe killed it and it is down: the start took longer than the probe
             allows (``probes.py``; between two kills the run under way keeps its state, and
             ``probes.probe_deadline`` says when the probe will end it); the log's latest
             outcome is a failure (download failed, refused, no space, timeout...), a
             downloader container exited with a failure code, or the pod phase is Failed
             (evicted, say). A crash loop with such a log is failed too.
4. blocked   the pod cannot start: its image cannot be pulled, a Secret it reads is missing,
             its volume is attached to another node — or it has stayed unscheduled, or its
             volume unmounted, for ``stall_after`` seconds.
5. pending   not scheduled yet, or every container still waiting to be created/initialised
             and the log says nothing of a download (with the cause, when the API has one).
6. waiting   the log's latest word is that another pod holds the download lock.
7. verifying the downloader is hashing the file, or the model is downloaded and the server
             is loading it (not Ready yet).
8. stalled   the downloader itself reports a stall; or downloading and no new bytes for
             ``stall_after`` seconds (from the log's byte counts, else from the partial
             file's size on disk).
9. downloading the log says a download is under way (or being retried); no new bytes for a
             few progress intervals (``idle_after``), and it has no rate and no ETA.
10. unknown  anything else (e.g. running, not Ready, a log that says nothing) — with a
             crash loop named in the evidence; but a crash loop whose log is not read yet is
             failed (its last run's exit, "its log is being read").

A container that restarted after a run that failed (its log's latest outcome a failure, or an
OOM kill) is judged by that run until the run under way gets further (``LogFacts.got_further``:
bytes arrive, a lock is waited on, the model is found or downloaded — not past an OOM kill,
which comes after that —, the server is ready, or it fails in its own words): a crash loop
keeps its verdict from one restart to the next, said to be a run before's.

A pod on a node that answers but says NotReady keeps the state the rules give it (its
download may go on there): the node's words join its evidence, after the rule's own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from collectors.model import (
    ContainerInfo,
    DownloadPhase,
    DownloadProgress,
    ModelState,
    PodInfo,
    StartBlocker,
)
from collectors.parsers.base import CHECKSUM_MISMATCH
from collectors.probes import killed_by_probe, probe_kill_note
from collectors.progress import LogFacts
from collectors.units import format_bytes, format_duration

# The bundled downloader's exit codes (progress contract) and what they mean.
DOWNLOADER_EXIT_CODES = {
    3: "download failed after retries",
    4: "refused by the server",
    5: "checksum mismatch",
    6: "no space left on device",
    7: "cache size cap cannot be met",
    8: "overall timeout exceeded",
}
_PENDING_REASONS = {"ContainerCreating", "PodInitializing", "Pending"}
# Byte counts come about every second (the bundled downloader, curl's meter, aws, tqdm): no new
# bytes for five of those, and the download has stopped for now, whatever average rate the
# downloader still reports (it decays for a minute: "5.1 MiB/s ETA 30s", then "50.5 KiB/s ETA
# 52m"). A format whose counts come further apart (wget's dot lines, when slow) gets
# IDLE_INTERVALS of its own intervals, so a pause between two of its lines is no such stop.
IDLE_AFTER = 5.0
IDLE_INTERVALS = 3


def exit_note(container: str, code: int) -> str:
    """How a container's run ended, by the bundled downloader's exit code: a run's failure
    known from its code alone, without its own words."""
    return f"container {container} exited {code} ({DOWNLOADER_EXIT_CODES[code]})"


@dataclass(frozen=True)
class DiskFacts:
    """What ``stat`` of the partial file in the pod showed, over time."""

    path: str
    size: int | None  # None: no partial file found
    grew_at: float | None  # when the size last grew (first sight counts)
    checked_at: float
    error: str | None = None
    # Bytes/s it grew between the last two looks (0 when it did not): the rate a download
    # has when its log carries no byte counts (Lightning's own). None after one look.
    rate: float | None = None


@dataclass(frozen=True)
class Verdict:
    state: ModelState
    evidence: tuple[str, ...]
    progress: DownloadProgress | None


def crash_loop(pod: PodInfo) -> ContainerInfo | None:
    for c in pod.containers:
        if c.state == "waiting" and c.reason == "CrashLoopBackOff":
            return c
    return None


# States in which a container that failed before may fail again the same way.
ON_THE_WAY = frozenset(
    {ModelState.PENDING, ModelState.DOWNLOADING, ModelState.WAITING, ModelState.VERIFYING}
)


def relapsing(pod: PodInfo) -> bool:
    """The pod's run before the last restart failed and the new one is on its way: a crash loop
    caught between crashes, which a plain "downloading" would pass off as healthy."""
    return pod.restarts > 0 and pod.previous_run is not None and pod.model_state in ON_THE_WAY


def oom_note(c: ContainerInfo, progress: DownloadProgress | None) -> str:
    """Why an OOMKilled container died: its limit against the model it was loading."""
    runs = f", {c.restarts} restarts" if c.restarts else ""
    limit = (
        f"its memory limit is {format_bytes(c.memory_limit)}"
        if c.memory_limit
        else "it has no memory limit (the node ran out)"
    )
    model = (
        f"; the model is {format_bytes(progress.bytes_total)}"
        if progress is not None and progress.bytes_total
        else ""
    )
    return f"container {c.name} was OOMKilled (exit 137{runs}): {limit}{model}"


def _bytes_text(p: DownloadProgress | None) -> str:
    if p is None or p.bytes_done is None:
        return ""
    if p.bytes_total:
        return f" at {format_bytes(p.bytes_done)} of {format_bytes(p.bytes_total)}"
    return f" at {format_bytes(p.bytes_done)}"


def _with_log(evidence: list[str], log: LogFacts | None, limit: int = 3) -> tuple[str, ...]:
    """The rule's own evidence first, then the latest notable log lines (newest first)."""
    out = list(evidence)
    if log is not None:
        added = 0
        for line in reversed(log.evidence):
            if added >= limit:
                break
            if line not in out:
                out.append(line)
                added += 1
    return tuple(out)


def model_state(
    pod: PodInfo,
    log: LogFacts | None,
    disk: DiskFacts | None,
    now: float,
    stall_after: float,
    downloader_containers: frozenset[str] = frozenset(),
    blocker: StartBlocker | None = None,
) -> Verdict:
    """Decide ``pod``'s model state (see the module docstring for the rules)."""
    verdict = _by_the_rules(pod, log, disk, now, stall_after, downloader_containers, blocker)
    if pod.node_not_ready is None:
        return verdict
    evidence = list(verdict.evidence)
    evidence.insert(min(1, len(evidence)), pod.node_not_ready.said)
    return dataclasses.replace(verdict, evidence=tuple(evidence))


def _by_the_rules(
    pod: PodInfo,
    log: LogFacts | None,
    disk: DiskFacts | None,
    now: float,
    stall_after: float,
    downloader_containers: frozenset[str],
    blocker: StartBlocker | None,
) -> Verdict:
    is_job = (pod.owner or "").startswith("Job/")
    log, carried = _latest_word(log, disk) if not pod.ready or is_job else (log, False)
    progress = log.progress if log is not None else None
    looping = crash_loop(pod)
    loop_note = (
        [f"container {looping.name} in CrashLoopBackOff ({looping.restarts} restarts)"]
        if looping
        else []
    )
    # The failure is a run before's: said, for the evidence not to pass it off as this run's.
    before = [CARRIED_NOTE] if carried else []
    exits = [
        (c, c.exit_code)
        for c in pod.containers
        if c.name in downloader_containers
        and c.exit_code not in (None, 0)
        and (c.state == "terminated" or c.reason == "CrashLoopBackOff")
    ]

    # 1. corrupt
    if pod.verification is not None and not pod.verification.ok:
        v = pod.verification
        detail = v.message or f"expected {v.expected}, got {v.actual}"
        return Verdict(ModelState.CORRUPT, (f"verify: {v.path}: {detail}",), progress)
    if not pod.ready or is_job:
        if log is not None and log.failure_code == CHECKSUM_MISMATCH:
            return Verdict(
                ModelState.CORRUPT,
                _with_log([log.failure or "log: checksum mismatch", *before, *loop_note], log),
                progress,
            )
        for c, code in exits:
            if code == 5:
                return Verdict(
                    ModelState.CORRUPT,
                    _with_log([exit_note(c.name, code), *loop_note], log),
                    progress,
                )

    # 2. ready (a Job's pod is "Ready" merely while it runs: only Succeeded counts for it)
    if pod.ready and not is_job:
        return Verdict(ModelState.READY, _with_log(["pod is Ready"], log, 1), progress)
    running = any(c.state == "running" and not c.init for c in pod.containers)
    if log is not None and log.ready and running:
        return Verdict(ModelState.READY, _with_log([], log, 2), progress)
    if pod.phase == "Succeeded" and (log is None or log.failure_code is None):
        done = progress.finished() if progress else None  # exit 0, last lines maybe unread
        return Verdict(ModelState.DONE, _with_log(["pod Succeeded"], log, 2), done)

    # 3. failed
    if pod.node_lost is not None:
        said = pod.node_lost.said
        gone = progress.stopped(said) if progress is not None else None
        return Verdict(ModelState.FAILED, _with_log([said], log), gone)
    # Between two kills the run under way is judged by the last until it gets further than
    # loading the model, where the kill comes (finding the model in the cache is not that).
    further = log is not None and (log.got_further(done_counts=False) or _disk_grows(log, disk))
    oom = next(
        (c for c in pod.containers if c.oom_killed and (c.state != "running" or not further)),
        None,
    )
    if oom is not None:
        return Verdict(ModelState.FAILED, _with_log([oom_note(oom, progress)], log), progress)
    probe_kill = killed_by_probe(pod)
    if probe_kill is not None:
        why = probe_kill_note(probe_kill)
        over = progress.stopped(why) if progress is not None else None
        return Verdict(ModelState.FAILED, _with_log([why, *loop_note], log), over)
    if log is not None and log.failure_code is not None:
        return Verdict(
            ModelState.FAILED,
            _with_log([log.failure or "log: download failed", *before, *loop_note], log),
            progress,
        )
    for c, code in exits:
        if code in DOWNLOADER_EXIT_CODES:
            return Verdict(
                ModelState.FAILED,
                _with_log([exit_note(c.name, code), *loop_note], log),
                progress,
            )
    if pod.phase == "Failed":
        reason = pod.status_reason or next((c.reason for c in pod.containers if c.reason), None)
        said = f": {pod.status_message}" if pod.status_message else ""
        why = f"pod phase Failed ({reason or 'no reason'}){said}"
        over = progress.stopped(why) if progress is not None else None
        return Verdict(ModelState.FAILED, _with_log([why], log), over)

    # 4. blocked
    if blocker is not None and blocker.settled:
        blocked = _with_log([blocker.cause, *blocker.details, *loop_note], log)
        return Verdict(ModelState.BLOCKED, blocked, progress)

    # 5. pending
    log_silent = log is None or log.phase is None
    if blocker is not None and log_silent and not running:
        return Verdict(ModelState.PENDING, (blocker.cause, *blocker.details), progress)
    if not pod.node:
        return Verdict(ModelState.PENDING, ("not scheduled to a node yet",), progress)
    waiting = [c for c in pod.containers if c.state == "waiting"]
    if log_silent and not running and not any(c.state == "running" for c in pod.containers):
        if waiting and all((c.reason or "Pending") in _PENDING_REASONS for c in waiting):
            c = waiting[0]
            return Verdict(
                ModelState.PENDING, (f"container {c.name}: {c.reason or 'waiting'}",), progress
            )
        if pod.phase == "Pending" and not looping:
            return Verdict(ModelState.PENDING, ("pod phase Pending",), progress)

    if log is None or log.phase is None:
        # 10. unknown (nothing in the log about a download)
        ended = _ended_badly(pod)
        if ended is not None and (log is None or log.lines_seen == 0):
            # Its last run failed and the log that says how is not read yet (the first
            # moments of a dashboard opened on a crash loop): failed, not a mystery.
            return Verdict(ModelState.FAILED, (f"{ended}; its log is being read",), progress)
        if disk is not None and disk.size is not None:
            return _from_disk(pod, log, disk, now, stall_after, loop_note)
        if running and log is None and not loop_note:
            # A container that has just started, its log not read yet (the first seconds of
            # every pod): starting, not a mystery to alarm anyone with.
            return Verdict(
                ModelState.PENDING, ("container running; its log is being read",), progress
            )
        init_running = next((c for c in pod.containers if c.init and c.state == "running"), None)
        if loop_note:
            evidence = loop_note
        elif running:
            evidence = ["running, not Ready; the log says nothing about the model"]
        elif init_running is not None:
            evidence = [f"init container {init_running.name} running; its log says nothing yet"]
        else:
            evidence = [f"pod phase {pod.phase}"]
        return Verdict(ModelState.UNKNOWN, _with_log(evidence, log), progress)

    phase = log.phase
    # 6. waiting
    if phase is DownloadPhase.WAITING:
        return Verdict(
            ModelState.WAITING, _with_log([], log, 3) or ("log: waiting for the lock",), progress
        )
    # 7. verifying
    if phase is DownloadPhase.VERIFYING:
        return Verdict(ModelState.VERIFYING, _with_log([], log, 3), progress)
    if phase is DownloadPhase.DONE:
        return Verdict(
            ModelState.VERIFYING,
            _with_log(["model downloaded; the server is loading it (not Ready yet)"], log, 2),
            progress,
        )
    # 8. stalled (the downloader says so)
    if phase is DownloadPhase.STALLED:
        return Verdict(ModelState.STALLED, _with_log([], log, 3), progress)
    if phase is DownloadPhase.FAILED:  # failure without a code (should not happen)
        return Verdict(ModelState.FAILED, _with_log([], log, 3), progress)

    # 8/9. downloading, or stalled by our own clock
    if not log.has_bytes:
        if disk is not None and disk.size is not None:
            return _from_disk(pod, log, disk, now, stall_after, loop_note)
        note = "log: download under way; the log carries no byte counts"
        if disk is not None and disk.error:
            note += f" and the partial file cannot be read ({disk.error})"
        return Verdict(ModelState.DOWNLOADING, _with_log([note], log, 2), progress)
    since = log.last_change_at if log.last_change_at is not None else log.updated_at
    idle = now - since
    idle_note = f"no new bytes for {format_duration(idle)}{_bytes_text(progress)}"
    if idle >= stall_after:
        # The downloader's last rate and ETA promised bytes that stopped coming.
        stalled = (
            dataclasses.replace(progress.idle(idle), phase=DownloadPhase.STALLED)
            if progress
            else None
        )
        return Verdict(ModelState.STALLED, _with_log([idle_note], log, 2), stalled)
    if progress is not None and idle >= idle_after(log):
        return Verdict(ModelState.DOWNLOADING, _with_log([idle_note], log, 2), progress.idle(idle))
    return Verdict(ModelState.DOWNLOADING, _with_log([], log, 3), progress)


def idle_after(log: LogFacts) -> float:
    """How long without new bytes before a download shows no rate and no ETA."""
    gap = log.byte_interval
    return max(IDLE_AFTER, IDLE_INTERVALS * gap) if gap else IDLE_AFTER


CARRIED_NOTE = "said by a run before the last restart; no run since has got past that"


def _latest_word(log: LogFacts | None, disk: DiskFacts | None) -> tuple[LogFacts | None, bool]:
    """The log as the rules read it, and whether it is a run before's: while the run under way
    has not got further than the failure a run before it ended with, that failure is still
    the log's latest outcome (a crash loop keeps its verdict between two failures, instead of
    "unknown" for each new run's first seconds)."""
    if log is None or log.failed_before is None or log.got_further() or _disk_grows(log, disk):
        return log, False
    before = log.failed_before
    return (
        dataclasses.replace(
            log, failure_code=before.code, failure=before.said, progress=before.progress
        ),
        True,
    )


def _disk_grows(log: LogFacts, disk: DiskFacts | None) -> bool:
    """The partial file grows while the log carries no byte counts: a download under way."""
    return not log.has_bytes and disk is not None and bool(disk.rate)


def _ended_badly(pod: PodInfo) -> str | None:
    """How a container's last run failed, from its status alone: in its crash loop's back-off,
    or running again after a run that did not complete."""
    for c in pod.containers:
        if c.state == "waiting" and c.reason == "CrashLoopBackOff":
            code = f"exit code {c.exit_code}" if c.exit_code is not None else "its last run failed"
            why = f" ({c.last_reason})" if c.last_reason else ""
            return f"container {c.name} in CrashLoopBackOff ({c.restarts} restarts): {code}{why}"
        if c.state == "running" and c.restarts and c.last_reason not in (None, "Completed"):
            return (
                f"container {c.name} restarted ({c.restarts} restarts) after a run that ended "
                f"{c.last_reason}"
            )
    return None


def _from_disk(
    pod: PodInfo,
    log: LogFacts | None,
    disk: DiskFacts,
    now: float,
    stall_after: float,
    loop_note: list[str],
) -> Verdict:
    """Downloading or stalled judged by the partial file's growth (the log gives no bytes)."""
    size = disk.size or 0
    grew = disk.grew_at if disk.grew_at is not None else disk.checked_at
    idle = now - grew
    base = log.progress if log is not None else None
    total = base.bytes_total if base else None
    eta = (total - size) / disk.rate if total and disk.rate and total > size else None
    progress = DownloadProgress(
        phase=DownloadPhase.DOWNLOADING,
        source="disk",
        bytes_done=size,
        bytes_total=total,
        rate=disk.rate,
        eta_seconds=eta,
        file=disk.path.rsplit("/", 1)[-1],
        updated_at=disk.checked_at,
    )
    if idle >= stall_after:
        return Verdict(
            ModelState.STALLED,
            _with_log(
                [
                    f"disk: {disk.path} stuck at {format_bytes(size)} for {format_duration(idle)}",
                    *loop_note,
                ],
                log,
                2,
            ),
            dataclasses.replace(progress, phase=DownloadPhase.STALLED, eta_seconds=None),
        )
    return Verdict(
        ModelState.DOWNLOADING,
        _with_log([f"disk: {disk.path} growing ({format_bytes(size)})", *loop_note], log, 2),
        progress,
    )
