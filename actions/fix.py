"""Fix a stalled download with one key: read the evidence, decide, and show the decision.

The evidence is read by ``actions.evidence``: the bundled downloader's JSON events by type and
error code, other tools' lines by precise patterns. The rules, in order (``diagnose``):

1. checksum mismatch / corrupt model      -> delete the model and restart its users (purge)
   ... of a file downloaded in the same   -> the source or MODEL_CHECKSUM is wrong: refused when
   run (not found in the cache)              nothing bad was left to delete; else the purge,
                                             warning that a new download will most likely fail
                                             the same way, and what to check first
2. no space left (disk_full, cache_full,  -> evict unused versions, least recently used first,
   ENOSPC, exit 6/7)                         until the download fits; never a file any pod on
                                             the volume uses; else point at the PVC's size
3. a partial that cannot be resumed       -> delete the partial (.part + state), then restart
   (validator changed, 416, Range ignored)
4. waiting on a lock whose holder is gone -> nothing to do: the kernel released the lock when
                                             the holder died, and the waiter proceeds
5. the server refuses the URL             -> nothing a restart can fix (it would be refused
   (http_refused, 401/403/404/410, or an     again): say so, and what to change (the URL,
   untrusted TLS certificate)                its credentials, or the CA the pod must trust)
6. stalled, or failed after retries       -> restart the pod: the partial is kept and resumed
7. anything else                          -> nothing to fix (refused, with the pod's state)

Before them: a pod that cannot start (``blocked``: an image that cannot be pulled, a missing
Secret, a volume attached to another node, no node for it), that was evicted, or whose
container is OOMKilled (most often loading the model: the model is not what fails) is no
download to fix, and no restart helps it: the fix is refused with the cause and what to change.
A pod whose node stopped answering (``node-lost``), or answers but says NotReady
(``node-not-ready``: nothing new starts there, and its pods are evicted), is replaced on a
node that takes pods -- unless there is none; one on a NotReady node that is Ready still
serves and is not restarted.

The evidence is the current attempt's. A container that restarted and is trying again (no
failure yet, not done) is judged by its last run instead -- a crash loop caught downloading
again -- and the evidence says so: "container X restarted 2 times; the last run failed: …".
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from actions import evidence, purge, registry
from actions.advice import Advice, model_size
from actions.common import (
    ExecHost,
    NoExecHost,
    delete_pod_call,
    exec_host,
    is_helper_create,
    refused,
)
from actions.confine import removal_steps
from actions.context import ActionContext
from actions.eviction_advice import evicted_why, eviction_advice
from actions.grow_advice import Growth, claim_growth
from actions.hostpod import with_host
from actions.listing import listing_steps, read_listing
from actions.memory_advice import memory_advice
from actions.node_advice import (
    already_replaced,
    force_delete_command,
    force_delete_when,
    gone_soon,
    node_lost_warnings,
    node_not_ready_warnings,
    nowhere_else,
    still_serving,
)
from actions.options import ActionOptions, CacheEntry, CacheFacts, PodFacts
from actions.paths import COMPANION_SUFFIXES, ModelLocation, PathRefused, model_location
from actions.plan import NOTHING_TO_FIX, ActionPlan, ActionResult, ApiCall, ExecStep, Step
from actions.probe_advice import startup_probe_advice
from actions.readiness_advice import readiness_advice, readiness_why
from actions.restart import plan_restart
from actions.start_advice import claim_warnings, start_advice
from actions.targets import TargetError, pods_sharing_cache, target_pod
from actions.words import lower_first, sentence, unstopped
from collectors.model import ClusterSnapshot, DownloadPhase, ModelState, PodInfo
from collectors.probes import killed_by_probe, probe_kill_note
from collectors.room import NEEDED, QUANTITY, needed_and_free, too_small
from collectors.state import oom_note
from collectors.units import format_bytes, format_written, parse_size

CORRUPT = "corrupt"
SOURCE_MISMATCH = "source-mismatch"
DISK_FULL = "disk-full"
UNRESUMABLE = "partial-unresumable"
LOCK_RELEASED = "lock-released"
LOCK_HELD = "lock-held"
URL_REFUSED = "url-refused"
STALLED = "stalled-resumable"
FAILED = "failed-retry"
NOTHING = "nothing"
CANNOT_START = "cannot-start"
EVICTED = "evicted"
OUT_OF_MEMORY = "out-of-memory"
PROBE_KILLS = "probe-kills-start"
NODE_LOST = "node-lost"
NODE_NOT_READY = "node-not-ready"
NOT_READY = "readiness-fails"
# Not a diagnosis: the first of the two steps of a disk-full fix on a volume no running pod
# sees -- look at what the cache holds through a helper pod, then plan the eviction from it.
LOOK = "disk-full-look"


# What each fix is about, as the dialog's title (a refused fix included).
TOPICS = {
    CORRUPT: "Fix the corrupt model",
    SOURCE_MISMATCH: "Fix the download that fails its checksum",
    DISK_FULL: "Fix the download that ran out of space",
    UNRESUMABLE: "Fix the download that cannot resume",
    LOCK_RELEASED: "Fix the download waiting on a lock",
    LOCK_HELD: "Fix the download waiting on a lock",
    URL_REFUSED: "Fix the refused model URL",
    STALLED: "Fix the stalled download",
    FAILED: "Fix the failed download",
    CANNOT_START: "Fix the pod that cannot start",
    EVICTED: "Fix the evicted pod",
    OUT_OF_MEMORY: "Fix the pod that runs out of memory",
    PROBE_KILLS: "Fix the pod its probe kills before the model is ready",
    NODE_LOST: "Fix the pod whose node stopped answering",
    NODE_NOT_READY: "Fix the pod on a NotReady node",
    NOT_READY: "Fix the pod that fails its readiness probe",
}


# Each decision in words, shown in the dialog (the id stays in plan.decision, the audit and JSON).
DIAGNOSES = {
    CORRUPT: "the model is corrupt; it must be deleted and downloaded again",
    SOURCE_MISMATCH: (
        "the model just downloaded from MODEL_URL does not match MODEL_CHECKSUM; downloading "
        "it again will most likely fail the same way"
    ),
    DISK_FULL: "the download ran out of space",
    UNRESUMABLE: "the partial download cannot be resumed; it must start again",
    LOCK_RELEASED: "the download lock was released; the waiting pod goes on by itself",
    LOCK_HELD: "another pod holds the download lock and is still there",
    URL_REFUSED: "the model server refuses the URL; a restart would be refused again",
    STALLED: "the download stalled; it can resume",
    FAILED: "the download failed; a restart tries again",
    NOTHING: "nothing is wrong with the download",
    NOT_READY: (
        "the model is loaded and fine; the pod fails its readiness probe, which is not a "
        "model-cache problem"
    ),
    CANNOT_START: "the pod cannot start; no restart or download fixes that",
    EVICTED: "the kubelet evicted the pod; its ReplicaSet replaces it",
    OUT_OF_MEMORY: "a container is killed for memory; the model is not what fails",
    PROBE_KILLS: (
        "a probe kills the container before the model is ready; a restart meets the same probe"
    ),
    NODE_LOST: "the pod's node stopped answering; its replacement runs on another node",
    NODE_NOT_READY: (
        "the pod's node is NotReady; nothing new is scheduled there and its pods are evicted; "
        "its replacement runs on a Ready node"
    ),
}


MISMATCH_BEFORE_RESTART = purge.MISMATCH_BEFORE_RESTART


def topic(kind: str, pod: str) -> str:
    return TOPICS.get(kind, f"Fix pod {pod}")


@dataclass(frozen=True)
class Diagnosis:
    kind: str
    why: str  # the evidence, in a sentence
    previous_run: bool = False  # the evidence is the run's before the container's last restart
    download: evidence.Download | None = None  # SOURCE_MISMATCH: the download that mismatched

    @property
    def stated(self) -> str:
        """The evidence as the plan's first sentence: ``Evidence: …``, one full stop."""
        return f"Evidence: {unstopped(self.why)}."

    @property
    def fetched(self) -> evidence.Download:
        """The download that mismatched, or an empty one when the log said nothing of it."""
        return self.download or evidence.Download()


def _found(kind: str, finding: evidence.Finding, why: str | None = None) -> Diagnosis:
    """A diagnosis from one finding: its quote, or ``why`` made of it, and which run said it."""
    said = finding.quote if why is None else why
    run = finding.previous_run
    return Diagnosis(kind, f"{run}: {said}" if run else said, bool(run))


def diagnose(
    snapshot: ClusterSnapshot, pod: PodInfo, log: str | Sequence[evidence.ContainerLog] = ""
) -> Diagnosis:
    """Apply the rules to the snapshot's evidence and, when given, the pod's recent log: a text
    (the current run's), or each container's runs apart, so that a crash loop caught while it
    downloads again is judged by its last run's failure (see ``evidence.pod_findings``)."""
    if pod.blocker is not None and pod.model_state in (ModelState.BLOCKED, ModelState.PENDING):
        # An unbound claim's own warning says why (a StorageClass that does not exist).
        said = (unstopped(pod.blocker.cause), *claim_warnings(snapshot, pod))
        return Diagnosis(CANNOT_START, "; ".join(said))
    if pod.node_lost is not None and not pod.ready:
        return Diagnosis(NODE_LOST, pod.node_lost.said)
    if pod.node_not_ready is not None:
        return Diagnosis(NODE_NOT_READY, pod.node_not_ready.said)
    oom = pod.killed_for_memory
    if oom is not None and not pod.ready:
        return Diagnosis(OUT_OF_MEMORY, oom_note(oom, pod.progress))
    probe_kill = killed_by_probe(pod)
    if probe_kill is not None:
        return Diagnosis(PROBE_KILLS, probe_kill_note(probe_kill))
    if pod.probe_deadline is not None:
        return Diagnosis(PROBE_KILLS, pod.probe_deadline.said)
    if pod.evicted:
        return Diagnosis(EVICTED, evicted_why(pod))
    if pod.unready_because is not None and pod.model_state is ModelState.READY:
        return Diagnosis(NOT_READY, readiness_why(pod))
    found = evidence.pod_findings(snapshot, pod, log)
    phase = pod.progress.phase if pod.progress else None
    first = (pod.evidence[0] if pod.evidence else "") or (
        pod.progress.message if pod.progress else ""
    )
    corrupt = evidence.first(found, evidence.CHECKSUM)
    if pod.model_state == ModelState.CORRUPT or corrupt:
        fetched = evidence.downloaded(found)
        if corrupt and fetched:
            return dataclasses.replace(_found(SOURCE_MISMATCH, corrupt), download=fetched)
        if corrupt:
            return _found(CORRUPT, corrupt)
        return Diagnosis(CORRUPT, first or "the model does not match MODEL_CHECKSUM")
    full = evidence.first(found, evidence.NO_SPACE)
    if full:
        return _found(DISK_FULL, full)
    unresumable = evidence.first(found, evidence.UNRESUMABLE)
    if unresumable:
        return _found(UNRESUMABLE, unresumable)
    if pod.model_state == ModelState.WAITING or phase == DownloadPhase.WAITING:
        return _waiting(snapshot, evidence.first(found, evidence.WAITING))
    refusal = evidence.first(found, evidence.REFUSED)
    if refusal:
        return _found(URL_REFUSED, refusal, _refusal(refusal.quote))
    if pod.model_state == ModelState.STALLED or phase == DownloadPhase.STALLED:
        done = pod.progress.bytes_done if pod.progress else None
        # An emptyDir goes with its pod: only a volume that outlives the pod keeps the partial.
        after = (
            "; the cache is an emptyDir, which goes with the pod: the new pod downloads from zero"
            if pod.cache_kind == "emptyDir"
            else "; the partial is kept and resumed by a new pod"
        )
        return Diagnosis(
            STALLED, "no new bytes" + (f" since {format_bytes(done)}" if done else "") + after
        )
    failed = evidence.first(found, evidence.FAILED)
    if failed and failed.previous_run:
        # The snapshot's words are the current attempt's, which has not failed (yet).
        return _found(FAILED, failed)
    if pod.model_state == ModelState.FAILED or failed:
        return Diagnosis(FAILED, first or (failed.quote if failed else "the download failed"))
    return Diagnosis(NOTHING, _as_it_is(pod))


def _as_it_is(pod: PodInfo) -> str:
    """Where a pod with nothing to fix stands: its model's state (a loaded model in a pod not
    Ready yet is said as such, not as a ready pod)."""
    if pod.model_state is ModelState.READY and not pod.ready:
        return f"the model of pod {pod.name} is loaded; the pod is not Ready yet"
    return f"pod {pod.name} is {pod.model_state.value}"


def _refusal(quote: str) -> str:
    """What to change about a refused URL: the server's answer, or our trust in its TLS."""
    if evidence.distrusts_certificate(quote):
        return (
            f"the downloader does not trust the model server's TLS certificate ({quote}); a "
            "restart would fail the same way: give the pod the CA bundle that signs it "
            "(SSL_CERT_FILE), or fix MODEL_URL"
        )
    return (
        f"the model server refuses the URL ({quote}); a restart would be refused again: fix "
        "MODEL_URL or its credentials (a presigned URL expires: sign a new one)"
    )


def _waiting(snapshot: ClusterSnapshot, wait: evidence.Finding | None) -> Diagnosis:
    holder = wait.holder if wait else None
    if holder and snapshot.pod(holder) is None:
        return Diagnosis(
            LOCK_RELEASED,
            f"the lock holder {holder} no longer exists; the kernel released its lock when "
            "it died, so the waiter takes the lock and proceeds by itself",
        )
    if holder:
        return Diagnosis(
            LOCK_HELD, f"waiting for {holder}, which is still there and holds the lock"
        )
    return Diagnosis(
        LOCK_RELEASED,
        "waiting on the download lock; if its holder died, the kernel released the lock and "
        "the waiter proceeds by itself",
    )


def plan_fix(
    snapshot: ClusterSnapshot,
    target: str | None,
    options: ActionOptions,
    facts: PodFacts | None = None,
    cache: CacheFacts | None = None,
    log: str | Sequence[evidence.ContainerLog] = "",
    diagnosis: Diagnosis | None = None,
    expands: bool | None = None,
    ready_nodes: tuple[str, ...] | None = None,
) -> ActionPlan:
    """The fix for ``target``, from the snapshot's evidence plus its recent ``log`` if read
    (or from ``diagnosis`` when the caller already knows it); ``expands``: whether the cache
    claim's StorageClass allows volume expansion, when read; ``ready_nodes``: the nodes that
    take new pods, when read (a pod replaced elsewhere needs one)."""
    ns = snapshot.namespace
    try:
        pod = target_pod(snapshot, target, "Fix")
    except TargetError as exc:
        return refused(registry.FIX, target or "no target", ns, str(exc))
    d = diagnosis or diagnose(snapshot, pod, log)
    if d.kind == CORRUPT:
        plan = _as_fix(purge.plan_purge(snapshot, pod.name, options, facts), d)
        if d.previous_run:  # a log did report the mismatch: the run's before the restart
            warnings = (
                MISMATCH_BEFORE_RESTART if w == purge.NOT_KNOWN_CORRUPT else w
                for w in plan.warnings
            )
            plan = dataclasses.replace(plan, warnings=tuple(warnings))
        return plan
    if d.kind == SOURCE_MISMATCH:
        return _plan_source_mismatch(snapshot, pod, options, facts, d)
    if d.kind == DISK_FULL:
        return plan_eviction(snapshot, pod, options, d, facts, cache, expands)
    if d.kind == UNRESUMABLE:
        return _plan_drop_partial(snapshot, pod, options, d, facts)
    if d.kind in (STALLED, FAILED):
        plan = plan_restart(snapshot, pod.name, dataclasses.replace(options, rollout=False))
        return _as_fix(plan, d)
    if d.kind in (NODE_LOST, NODE_NOT_READY):
        return _plan_elsewhere(snapshot, pod, options, d, ready_nodes)
    advice = None
    if d.kind in (CANNOT_START, EVICTED, OUT_OF_MEMORY):
        advice = _unblock(snapshot, pod, d, facts)
    elif d.kind == PROBE_KILLS:
        advice = startup_probe_advice(snapshot, pod, log)
    elif d.kind == NOT_READY:
        advice = readiness_advice(snapshot.namespace, pod)
    if advice is not None:
        plan = _refused_fix(snapshot, pod, d, advice.said)
        return dataclasses.replace(plan, commands=advice.commands)
    plan = _refused_fix(snapshot, pod, d)
    if d.kind == LOCK_RELEASED:
        # Informational: a plan with no steps, nothing to confirm or change.
        return dataclasses.replace(
            plan,
            refused=None,
            decision=d.kind,
            destructive=False,
            title=f"Pod {pod.name} waits on a released lock",
        )
    if d.kind == NOTHING:
        return dataclasses.replace(plan, refused_as=NOTHING_TO_FIX)
    return plan


def _plan_elsewhere(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    options: ActionOptions,
    d: Diagnosis,
    ready_nodes: tuple[str, ...] | None,
) -> ActionPlan:
    """Delete a pod on a lost or NotReady node so that its ReplicaSet runs one on a node that
    takes pods (a restart), unless no other node does. On a lost node a pod already being
    deleted is replaced already, and only a person may force it out; on a NotReady node one
    being deleted is on its way, and one that is Ready still serves: not restarted."""
    lost = d.kind == NODE_LOST
    force = (force_delete_command(snapshot.namespace, pod.name),) if lost else ()
    if pod.deleting:
        reason = already_replaced(pod) if lost else gone_soon(pod)
        return dataclasses.replace(_refused_fix(snapshot, pod, d, reason), commands=force)
    if not lost and pod.ready:
        return _refused_fix(snapshot, pod, d, still_serving(pod))
    nowhere = nowhere_else(pod, ready_nodes)
    if nowhere is not None:
        plan = _refused_fix(snapshot, pod, d, f"{sentence(nowhere)} Fix a node, or add one.")
        return dataclasses.replace(plan, warnings=(nowhere,), commands=force)
    plan = _as_fix(plan_restart(snapshot, pod.name, dataclasses.replace(options, rollout=False)), d)
    vol = snapshot.claim_of(pod)
    rwo = vol is not None and "ReadWriteOnce" in vol.access_modes
    said = node_lost_warnings(pod, rwo) if lost else node_not_ready_warnings(pod, rwo)
    when = force_delete_when(pod) if lost else ""
    return dataclasses.replace(
        plan, warnings=(*said, *plan.warnings), commands=force, commands_when=when
    )


def _unblock(
    snapshot: ClusterSnapshot, pod: PodInfo, d: Diagnosis, facts: PodFacts | None
) -> Advice:
    """What to change for a pod that cannot start, was evicted or is killed for memory:
    nothing this tool can do safely by itself (a restart meets the same cause). The evidence,
    shown with it, says the cause in the API's words; this says what to do about it, and gives
    the command where it knows enough to write one."""
    killed = pod.killed_for_memory
    if d.kind == OUT_OF_MEMORY and killed is not None:
        return memory_advice(snapshot.namespace, pod, killed, model_size(snapshot, pod))
    if d.kind == EVICTED:
        return eviction_advice(snapshot, pod)
    if pod.blocker is None:
        return Advice(sentence(d.why))
    return start_advice(snapshot, pod, pod.blocker, facts)


def _refused_fix(
    snapshot: ClusterSnapshot, pod: PodInfo, d: Diagnosis, reason: str = ""
) -> ActionPlan:
    """A fix that must not run: its evidence is the reason, unless ``reason`` says more."""
    why = sentence(d.why)
    summary = d.stated if reason else why
    plan = refused(registry.FIX, f"pod/{pod.name}", snapshot.namespace, reason or why, summary)
    return dataclasses.replace(
        plan, title=topic(d.kind, pod.name), diagnosis=DIAGNOSES.get(d.kind, ""), decision=d.kind
    )


def _plan_source_mismatch(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    options: ActionOptions,
    facts: PodFacts | None,
    d: Diagnosis,
) -> ActionPlan:
    """A file downloaded in the same run failed validation: the source, or MODEL_CHECKSUM, is
    wrong, and a new download will most likely fail the same way. Purging only gets a bad file
    out of the way (a server that validates after downloading leaves it in place); when the
    downloader placed nothing, there is nothing to purge and the fix is refused."""
    fetched = d.fetched
    again = _new_download(pod, fetched)
    what = _what_was_downloaded(fetched, d.previous_run)
    check = _check_first(pod, fetched)
    bad_file_seen = pod.verification is not None and not pod.verification.ok
    if not fetched.kept and not bad_file_seen:
        said = (
            f"{sentence(d.why)} {sentence(what)} The downloader discarded it and "
            f"placed nothing, so there is nothing to delete, and {again} would most likely fail "
            f"the same way: nothing a restart can fix. {check}"
        )
        return _refused_fix(snapshot, pod, d, said)
    purging = purge.plan_purge(snapshot, pod.name, options, facts)
    if purging.refused:
        return _as_fix(purging, d)
    left = "The server left the bad download in place" if fetched.kept else "Verify found it"
    stays = (
        f"{left}: only deleting it gets it out of the way, best once MODEL_CHECKSUM or the "
        "source is fixed. "
    )
    plan = _as_fix(dataclasses.replace(purging, summary=stays + purging.summary), d)
    # A log did report the mismatch: purge's "not known to be corrupt" does not apply.
    unreported = MISMATCH_BEFORE_RESTART if d.previous_run else None
    kept = (unreported if w == purge.NOT_KNOWN_CORRUPT else w for w in plan.warnings)
    again_fails = _fails_again(what, again)
    return dataclasses.replace(plan, warnings=(again_fails, check, *filter(None, kept)))


def purge_warnings(
    snapshot: ClusterSnapshot, pod: PodInfo, log: Sequence[evidence.ContainerLog]
) -> tuple[str, ...]:
    """What a purge asked for by hand (``d``) must say when the pod's file failed its checksum
    right after its run downloaded it: the same as the fix's warnings (which may refuse)."""
    d = diagnose(snapshot, pod, log)
    if d.kind != SOURCE_MISMATCH:
        return ()
    what = _what_was_downloaded(d.fetched, d.previous_run)
    return (_fails_again(what, _new_download(pod, d.fetched)), _check_first(pod, d.fetched))


def _new_download(pod: PodInfo, fetched: evidence.Download) -> str:
    size = fetched.size or (pod.progress.bytes_total if pod.progress else None)
    return "a new download" + (f" of {format_bytes(size)}" if size else "")


def _fails_again(what: str, again: str) -> str:
    return (
        f"{what}: deleting it makes every pod that loads it start {again}, which will most "
        "likely fail the same way"
    )


def _what_was_downloaded(fetched: evidence.Download, previous_run: bool) -> str:
    """Which run downloaded the file that failed validation (and the one before it, too)."""
    if fetched.twice:
        return (
            "the file was downloaded in this run and in the one before, and failed validation "
            f"twice, the same sha256 {fetched.actual}: the source serves the same wrong bytes "
            "each time"
        )
    run = "the last run" if previous_run else "this run"
    text = f"the file was downloaded in {run} and failed validation"
    earlier = fetched.before.actual if fetched.before else None
    if earlier and fetched.actual:
        text += (
            f"; the run before downloaded it too and got another sha256 ({earlier}): the bytes "
            "change between downloads, so look at the transfer too"
        )
    elif fetched.before:
        text += "; the run before downloaded it too, and it failed then as well"
    return text


def _check_first(pod: PodInfo, fetched: evidence.Download) -> str:
    """What to compare before anything is downloaded again."""
    expected = f"sha256:{fetched.expected}" if fetched.expected else pod.model.checksum
    url = pod.model.url
    text = (
        "Check first that MODEL_CHECKSUM"
        + (f" ({expected})" if expected else "")
        + " is the sha256 of the file at MODEL_URL"
        + (f" ({url})" if url else "")
    )
    if fetched.actual and not fetched.twice:
        text += f"; the download had sha256 {fetched.actual}"
    return text + (
        ". If the file is the right one, fix the checksum in the values; else replace the "
        "copy on the server."
    )


def _as_fix(plan: ActionPlan, d: Diagnosis) -> ActionPlan:
    summary = f"{d.stated} {plan.summary}" if plan.summary else d.stated
    perms = tuple(
        dict.fromkeys(plan.permissions + registry.spec(registry.FIX).permissions(plan.namespace))
    )
    return dataclasses.replace(
        plan,
        action=registry.FIX,
        decision=d.kind,
        diagnosis=DIAGNOSES.get(d.kind, ""),
        summary=summary,
        permissions=perms,
        title=f"{topic(d.kind, plan.target)}: {lower_first(plan.title)}",
    )


def _plan_drop_partial(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    options: ActionOptions,
    d: Diagnosis,
    facts: PodFacts | None,
) -> ActionPlan:
    ns = snapshot.namespace
    where = f"pod/{pod.name}"
    try:
        location = model_location(pod.model)
        host = exec_host(snapshot, pod, options, facts)
    except (PathRefused, NoExecHost) as exc:
        return refused(registry.FIX, where, ns, str(exc))
    partial = tuple(location.file + s for s in COMPANION_SUFFIXES[:2])
    return _removal_fix(
        snapshot,
        pod,
        options,
        d,
        host,
        location.cache_dir,
        partial,
        title=f"drop the partial download of pod {pod.name}",
        summary=f"The partial {partial[0]} cannot be resumed: delete it and its state.",
        restart="start the download again from zero",
    )


def _removal_fix(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    options: ActionOptions,
    d: Diagnosis,
    host: ExecHost,
    root: str,
    paths: tuple[str, ...],
    *,
    title: str,
    summary: str,
    restart: str,
    warnings: tuple[str, ...] = (),
) -> ActionPlan:
    """A fix that removes ``paths`` below the cache ``root`` in the exec host, then deletes
    the pod (``restart`` says why) so that its ReplicaSet starts a new one -- unless nothing
    would bring it back: then the pod is kept, and a warning says so."""
    ns = snapshot.namespace
    steps: list[Step] = [
        *host.setup,
        *removal_steps(host.pod, ns, host.container, root, paths),
        *host.teardown,
    ]
    if pod.owner and pod.owner.startswith("ReplicaSet/"):
        summary += " Then restart the pod."
        steps.append(delete_pod_call(ns, pod.name, restart))
        if options.follow:
            steps.append(ApiCall("list", "pods", ns, note="follow the new pod until Ready"))
    else:
        owner = f"owned by {pod.owner}" if pod.owner else "not managed by any controller"
        warnings += (f"pod {pod.name} is {owner}: it is not deleted (nothing would bring it back)",)
    return ActionPlan(
        action=registry.FIX,
        title=f"{topic(d.kind, pod.name)}: {title}",
        target=f"pod/{pod.name}",
        namespace=ns,
        steps=tuple(steps),
        decision=d.kind,
        diagnosis=DIAGNOSES.get(d.kind, ""),
        summary=f"{d.stated} {summary}" + (f" ({host.note})" if host.note else ""),
        destructive=True,
        irreversible=True,
        warnings=warnings,
        permissions=registry.spec(registry.FIX).permissions(ns) + host.permissions,
        affected_pods=(pod.name,),
    )


def protected_paths(snapshot: ClusterSnapshot, pod: PodInfo, root: str) -> set[str]:
    """Files (relative to the cache root) any pod on the same volume uses or downloads."""
    keep: set[str] = set()
    for other in pods_sharing_cache(snapshot, pod):
        try:
            loc = model_location(other.model)
        except PathRefused:
            continue
        for path in loc.targets():
            rel = posixpath.relpath(path, root)
            if not rel.startswith(".."):
                keep.add(rel)
    return keep


def choose_evictions(
    entries: tuple[CacheEntry, ...], keep: set[str], need: int | None
) -> tuple[tuple[CacheEntry, ...], int]:
    """Least recently used unprotected entries until ``need`` bytes are freed (all if unknown)."""
    candidates = sorted(
        (e for e in entries if safe_relative(e.path) and _norm(e.path) not in keep),
        key=lambda e: (e.last_used, e.path),
    )
    chosen: list[CacheEntry] = []
    freed = 0
    for entry in candidates:
        if need is not None and freed >= need:
            break
        chosen.append(entry)
        freed += entry.size
    return tuple(chosen), freed


def volume_too_small(snapshot: ClusterSnapshot, pod: PodInfo, why: str) -> tuple[int, int] | None:
    """(what the model needs, what the volume holds in all) when the model can never fit.

    Then evicting cannot help, and there is nothing to read in the cache: the volume must grow.
    The need is the download's total when known, else what the downloader said it still needs
    (a lower bound: the partial on the volume comes on top).
    """
    vol = snapshot.claim_of(pod)
    return too_small(vol, pod, why) if vol is not None else None


def plan_eviction(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    options: ActionOptions,
    d: Diagnosis,
    facts: PodFacts | None,
    cache: CacheFacts | None,
    expands: bool | None = None,
) -> ActionPlan:
    """Evict unused models, least recently used first, so that the download fits; refused,
    with how to grow the claim (``expands``: its StorageClass allows it), when it cannot."""
    ns = snapshot.namespace
    where = f"pod/{pod.name}"
    claim = f"PVC {pod.cache_claim}" if pod.cache_claim else f"volume {pod.cache_volume}"

    growth = _growth(snapshot, pod, d.why, expands)

    def no(reason: str) -> ActionPlan:
        if growth is not None:
            reason = f"{reason} {growth.note}"
        return dataclasses.replace(
            refused(registry.FIX, where, ns, reason),
            decision=DISK_FULL,
            diagnosis=DIAGNOSES[DISK_FULL],
            title=topic(DISK_FULL, pod.name),
            commands=(growth.command,) if growth and growth.command else (),
        )

    small = volume_too_small(snapshot, pod, d.why)
    if small:
        model, capacity = small
        return no(
            f"The {claim} is too small for the model: the model needs {format_bytes(model)}, "
            f"the volume holds {format_bytes(capacity)} in all, so evicting cannot help. "
            f"Grow {claim} to at least {format_bytes(model)}, plus what other models on it use."
        )
    grow = _grow_hint(snapshot, pod, d.why)
    try:
        location = model_location(pod.model)
        host = exec_host(snapshot, pod, options, facts)
    except (PathRefused, NoExecHost) as exc:
        return no(f"The volume is full ({unstopped(d.why)}); {exc} {grow}")
    if cache is None and host.helper:
        # Only a helper pod can see the files, and planning starts none: look first.
        return _plan_look(snapshot, pod, d, host, location.root, claim, grow)
    if cache is None or not cache.entries:
        if cache is None:
            why = (
                "what the cache holds is not known (no running pod sees the volume, and "
                "planning starts no pod to look)"
            )
        elif cache.source.startswith("none"):
            why = "no cache manifest lists what is stored"
        else:
            why = "the cache manifest lists no model"
        return no(
            f"The volume is full ({unstopped(d.why)}) and {why}, so nothing can be evicted "
            f"safely. {grow}"
        )
    keep = protected_paths(snapshot, pod, cache.root)
    total = pod.progress.bytes_total if pod.progress else None
    done = (pod.progress.bytes_done or 0) if pod.progress else 0
    need: int | None
    if total is not None and cache.available_bytes is not None:
        need = max(1, total - done - cache.available_bytes)
    else:
        need = missing_room(d.why)
    chosen, freed = choose_evictions(cache.entries, keep, need)
    if not chosen:
        return no(
            f"The {claim} is full ({unstopped(d.why)}) and every cached model is used by a pod "
            "on it: "
            f"nothing can be evicted. {grow}"
        )
    files = tuple(posixpath.join(cache.root, _norm(e.path)) for e in chosen)
    targets = tuple(f + s for f in files for s in ("", *COMPANION_SUFFIXES[:2]))
    warnings = []
    if need is None:
        warnings.append("the download's size is unknown: every unused model is proposed")
    elif freed < need:
        warnings.append(
            f"evicting frees {format_bytes(freed)} of the {format_bytes(need)} needed. {grow}"
        )
    listing = "; ".join(
        f"{_norm(e.path)} ({format_bytes(e.size)}"
        + (f", version {e.version}" if e.version else "")
        + ")"
        for e in chosen
    )
    kept = ", ".join(sorted(k for k in keep if not k.endswith(COMPANION_SUFFIXES))) or "none"
    return _removal_fix(
        snapshot,
        pod,
        options,
        d,
        host,
        cache.root,
        targets,
        title=f"evict unused models from the cache of pod {pod.name}",
        summary=(
            f"Evict least recently used, unused: {listing} — frees {format_bytes(freed)}; "
            f"kept because a pod uses them: {kept}. Cache root {cache.root} ({cache.source})."
        ),
        restart="retry the download now",
        warnings=tuple(warnings),
    )


def _plan_look(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    d: Diagnosis,
    host: ExecHost,
    root: str,
    claim: str,
    grow: str,
) -> ActionPlan:
    """Step 1 of 2: a helper pod on the claim lists the cache as planning would in a running
    pod, and is deleted; confirming it changes no file. Step 2 is planned from what it saw."""
    ns = snapshot.namespace
    return ActionPlan(
        action=registry.FIX,
        title=f"{topic(DISK_FULL, pod.name)}: look at what the cache holds (step 1 of 2)",
        target=f"pod/{pod.name}",
        namespace=ns,
        steps=(*host.setup, *listing_steps(host.pod, ns, host.container, root), *host.teardown),
        decision=LOOK,
        diagnosis=DIAGNOSES[DISK_FULL],
        evidence=d.why,
        summary=(
            f"{d.stated} No running pod sees the {claim}, so what its cache holds is "
            "not known, and planning starts no pod to look. This step only looks: a helper "
            f"pod mounts the claim at the same path, reads the cache manifest and the free "
            f"space of {root}, and is deleted again; no file is changed. Then the eviction "
            "(least recently used first, never a model a pod uses) is planned from what it "
            f"saw and shown for a second confirmation. {grow}"
        ),
        destructive=False,
        looks_only=True,
        permissions=registry.spec(registry.FIX).permissions(ns) + host.permissions,
    )


def _look(plan: ActionPlan, ctx: ActionContext) -> ActionResult:
    """Bring the helper up, list the cache, take the helper down (also on failure or cancel)."""
    host = ExecHost.of_plan(plan)
    cat, df = (s for s in plan.steps if isinstance(s, ExecStep))
    claim = _claim_of(plan)
    details: dict[str, object] = {
        "decision": LOOK,
        "helper_pod": host.pod,
        "claim": claim,
        "evidence": plan.evidence,
    }
    if ctx.dry_run:
        create = next(s for s in host.setup if s.verb == "create")
        ctx.kube.call(create, dry_run=True)
        return ActionResult(
            plan,
            True,
            f"Dry run: the API server accepted creating helper pod {host.pod}; nothing was "
            "looked at, so no eviction is planned.",
            dry_run=True,
            details=details,
        )

    def work() -> CacheFacts:
        ctx.check()
        ctx.say(f"listing the cache in helper pod {host.pod}")
        return read_listing(
            ctx.kube,
            (cat, df),
            df.argv[-1],
            timeout=ctx.exec_timeout,
            cancel=ctx.cancel,
            where=f"seen by helper pod {host.pod} on claim {claim}",
        )

    seen = with_host(ctx, host, work)
    details["cache_seen"] = seen.record()
    free = (
        f"{format_bytes(seen.available_bytes)} free"
        if seen.available_bytes is not None
        else "free space unknown"
    )
    listed = (
        f"{len(seen.entries)} model(s) in its manifest"
        if seen.source.startswith("manifest")
        else "no cache manifest"
    )
    return ActionResult(
        plan,
        True,
        f"Looked at the cache on claim {claim} through helper pod {host.pod}, deleted again: "
        f"{listed}, {free}. What to evict follows, for a second confirmation.",
        details=details,
        replan=True,
    )


def _claim_of(plan: ActionPlan) -> str:
    """The claim the plan's helper pod mounts."""
    for step in plan.steps:
        if is_helper_create(step):
            assert isinstance(step, ApiCall)
            for volume in ((step.body or {}).get("spec") or {}).get("volumes") or ():
                claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    return str(claim)
    return ""


def _growth(
    snapshot: ClusterSnapshot, pod: PodInfo, why: str, expands: bool | None
) -> Growth | None:
    """How to grow the pod's claim so that its download fits; None for a volume that is no
    claim, and under a cache cap (MODEL_CACHE_MAX_SIZE is the limit there, not the volume)."""
    vol = snapshot.claim_of(pod)
    if vol is None or _OVER_CAP.search(why):
        return None
    total = pod.progress.bytes_total if pod.progress else None
    return claim_growth(snapshot.namespace, vol, missing_space(why), total, expands)


def _grow_hint(snapshot: ClusterSnapshot, pod: PodInfo, why: str = "") -> str:
    """Where to get room instead, and how much, from the progress or the downloader's words."""
    short = _shortfall(why)
    if not pod.cache_claim:
        return "Give the cache volume more room" + (f" ({short})." if short else ".")
    vol = snapshot.claim_of(pod)
    size = vol.requested_bytes if vol else None
    total = pod.progress.bytes_total if pod.progress else None
    text = f"Or grow PVC {pod.cache_claim}"
    if size:
        text += f" (requests {format_written(size)})"
    if short:
        text += f" {short}"
    elif total:
        text += f" to hold at least the model's {format_bytes(total)} plus what pods use"
    return text + "."


_OVER_CAP = re.compile(
    rf"\({QUANTITY}\) does not fit under the cache cap {QUANTITY}(?: \(|: ){QUANTITY} in use"
)
_SHOWN = re.compile(r"(\d+)(?:\.(\d+))? ?([KMGTPE]?i?B)")
FS_SLACK = 1 << 20  # room for the file system's own blocks beyond the file's bytes


def missing_room(why: str) -> int | None:
    """Bytes to free before the download fits, from the downloader's words ('4.0 MiB more
    needed, 2.0 MiB free'; '(4.0 MiB) does not fit under the cache cap 14.0 MiB (12.0 MiB in
    use)'), at the top of what its rounded figures can mean, plus FS_SLACK. None when the
    words say neither: then every unused model is proposed."""
    short = missing_space(why)
    if short is not None:
        return short
    m = _OVER_CAP.search(why)
    try:
        if m:
            size, cap, used = m.groups()
            return max(1, _at_most(used) + _at_most(size) - _at_least(cap) + FS_SLACK)
    except ValueError:
        pass
    return None


def missing_space(why: str) -> int | None:
    """Bytes the file system lacks, from the downloader's ENOSPC words ('4.0 MiB more needed,
    2.0 MiB free'), at the top of what they can mean, plus FS_SLACK."""
    m = NEEDED.search(why)
    try:
        return max(1, _at_most(m.group(1)) - _at_least(m.group(2)) + FS_SLACK) if m else None
    except ValueError:
        return None


def _half_step(shown: str) -> int:
    """Half the last shown digit of a quantity, in bytes: '4.0 MiB' is 3.95-4.05 MiB."""
    m = _SHOWN.fullmatch(shown.strip())
    if not m:
        raise ValueError(f"not a shown quantity: {shown!r}")
    return parse_size(f"1 {m.group(3)}") // (2 * 10 ** len(m.group(2) or ""))


def _at_most(shown: str) -> int:
    return parse_size(shown) + _half_step(shown)


def _at_least(shown: str) -> int:
    return max(0, parse_size(shown) - _half_step(shown))


def _shortfall(why: str) -> str:
    """How much more room, from the downloader's '4.0 MiB more needed, 2.0 MiB free'."""
    m = NEEDED.search(why)
    found = needed_and_free(why)
    if not m or found is None:
        return ""
    needed, free = found
    if needed <= free:
        return ""
    return (
        f"by at least {format_bytes(needed - free)} (the download needs "
        f"{m.group(1)} more, {m.group(2)} are free)"
    )


def safe_relative(path: str) -> bool:
    """A manifest path that stays below the cache root (anything else is never evicted)."""
    norm = posixpath.normpath(path)
    return (
        bool(path)
        and not path.startswith("/")
        and not norm.startswith("..")
        and (norm != "." and not any(c in path for c in "\x00\n\r|"))
    )


def _norm(path: str) -> str:
    return posixpath.normpath(path).lstrip("/")


def execute(plan: ActionPlan, ctx: ActionContext) -> ActionResult:
    """Every fix branch is delete-files-then-restart, or a restart, or nothing at all -- or
    the look that comes before an eviction on a volume no running pod sees."""
    if plan.decision == LOOK:
        return _look(plan, ctx)
    if not plan.steps:
        return ActionResult(
            plan,
            True,
            plan.summary or "Nothing to do.",
            dry_run=ctx.dry_run,
            details={"decision": plan.decision},
        )
    result = purge.execute(plan, ctx)
    details = dict(result.details)
    details["decision"] = plan.decision
    return dataclasses.replace(result, details=details)


def location_for(pod: PodInfo) -> ModelLocation | None:
    try:
        return model_location(pod.model)
    except PathRefused:
        return None
