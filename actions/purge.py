"""Delete a corrupt model: exactly the model file and its state files, then restart its users.

The plan names the path, the volume and every pod that uses the file. In the pod, the paths are
resolved and checked (``actions.confine``) before ``rm -f`` runs; an empty, root, escaping or
non-regular path is refused. The pods that use the file are then deleted so their controllers
start new ones, which download the model again.
"""

from __future__ import annotations

from actions import evidence, registry
from actions.baked import cannot_purge
from actions.common import ExecHost, NoExecHost, delete_pod_call, exec_host, is_helper_call, refused
from actions.confine import Checked, check_in_pod, removal_steps
from actions.context import ActionContext, ActionFailed
from actions.follow import follow_replacements, pods_before
from actions.hostpod import with_host
from actions.options import ActionOptions, PodFacts
from actions.paths import ModelLocation, PathRefused, model_location, resolve_user_path
from actions.plan import ActionPlan, ActionResult, ApiCall, ExecStep, Step
from actions.targets import TargetError, owner_name, pods_sharing_cache, target_pod
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.probes import killed_by_probe
from collectors.state import CARRIED_NOTE


def plan_purge(
    snapshot: ClusterSnapshot,
    target: str | None,
    options: ActionOptions,
    facts: PodFacts | None = None,
) -> ActionPlan:
    ns = snapshot.namespace
    try:
        pod = target_pod(snapshot, target, "Delete the model")
    except TargetError as exc:
        return refused(registry.PURGE, target or "no target", ns, str(exc))
    where = f"pod/{pod.name}"
    try:
        location = model_location(pod.model)
        if options.path is not None:
            location = resolve_user_path(location, options.path)
    except PathRefused as exc:
        return refused(registry.PURGE, where, ns, str(exc))
    if pod.cache_kind == "image":
        said = cannot_purge(location.cache_dir, pod.name, owner_name(pod))
        return refused(registry.PURGE, where, ns, said)
    verdict = model_verdict(snapshot, pod)
    if verdict == VERIFIED:
        return refused(
            registry.PURGE,
            where,
            ns,
            f"The model {location.file} of pod {pod.name} matches its checksum (verified): it "
            "is not corrupt, so there is nothing to delete.",
        )
    doubt = _WARNING.get(verdict)  # a warning when the model is not known to be corrupt now
    users = model_users(snapshot, pod, location)
    if pod.cache_kind == "emptyDir" and not _running(pod):
        return _plan_emptydir(snapshot, pod, location, options, doubt)
    try:
        host = exec_host(snapshot, pod, options, facts)
    except NoExecHost as exc:
        return refused(registry.PURGE, where, ns, str(exc))
    return _assemble(snapshot, pod, location, host, users, options, doubt)


CORRUPT = "corrupt"
VERIFIED = "verified"
UNKNOWN = "unknown"
NOT_KNOWN_CORRUPT = (
    "the model is not known to be corrupt: nothing has verified it and no log reports a "
    "checksum mismatch (press v to verify it first)"
)
REPORTED_BEFORE = "reported before the last restart"
# Instead of "not known to be corrupt" when the container's last run saw the mismatch.
MISMATCH_BEFORE_RESTART = (
    "the checksum mismatch was reported by the run before the last restart; the file may have "
    "changed since (press v to verify it first)"
)
_WARNING = {UNKNOWN: NOT_KNOWN_CORRUPT, REPORTED_BEFORE: MISMATCH_BEFORE_RESTART}


def model_verdict(snapshot: ClusterSnapshot, pod: PodInfo) -> str:
    """What is known of the pod's model: corrupt (a failed verify, a mismatch in its state or
    evidence), reported before the last restart (a crash loop's state kept from its last run),
    verified (its last verify matched), or unknown.

    A model that was just verified as matching must never be offered for deletion: on a shared
    volume that takes every serving pod down for nothing.
    """
    if pod.verification is not None:
        return VERIFIED if pod.verification.ok else CORRUPT
    if pod.model_state == ModelState.CORRUPT:
        return REPORTED_BEFORE if CARRIED_NOTE in pod.evidence else CORRUPT
    if evidence.first(evidence.pod_findings(snapshot, pod), evidence.CHECKSUM):
        return CORRUPT
    return UNKNOWN


def purge_steps(
    host: ExecHost, namespace: str, location: ModelLocation
) -> tuple[ExecStep, ExecStep, ExecStep]:
    """realpath, stat and rm of the model file, its partial and the partial's state, in the
    exec host (``ModelLocation.removable``: the lock file stays)."""
    targets = location.removable()
    return removal_steps(host.pod, namespace, host.container, location.cache_dir, targets)


def model_users(
    snapshot: ClusterSnapshot, pod: PodInfo, location: ModelLocation
) -> tuple[PodInfo, ...]:
    """The pods that see the same cache and would load this very file."""
    users = []
    for other in pods_sharing_cache(snapshot, pod):
        try:
            theirs = model_location(other.model).file
        except PathRefused:
            continue
        if other.name == pod.name or theirs == location.file:
            users.append(other)
    return tuple(users)


def _assemble(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    location: ModelLocation,
    host: ExecHost,
    users: tuple[PodInfo, ...],
    options: ActionOptions,
    doubt: str | None,
) -> ActionPlan:
    ns = snapshot.namespace
    busy = [u.name for u in users if u.model_state in _BUSY]
    steps: list[Step] = [*host.setup, *purge_steps(host, ns, location), *host.teardown]
    restart = [u for u in users if u.owner and u.owner.startswith("ReplicaSet/")]
    steps += [delete_pod_call(ns, u.name, "so it downloads the model again") for u in restart]
    if restart and options.follow:
        steps.append(ApiCall("list", "pods", ns, note="follow the new pods until Ready"))
    volume = (
        f"claim {pod.cache_claim}" if pod.cache_claim else f"{pod.cache_kind} {pod.cache_volume}"
    )
    warnings = [doubt] if doubt else []
    killed = [u.name for u in users if u.killed_for_memory is not None]
    if killed:
        warnings.append(
            "killed for memory (OOMKilled), not by a bad model: "
            + ", ".join(killed)
            + "; deleting the model only makes them download it again (see f)"
        )
    probed = [u.name for u in users if killed_by_probe(u) or u.probe_deadline is not None]
    if probed:
        warnings.append(
            "killed by their liveness or startup probe before the model is ready, not by a bad "
            "model: " + ", ".join(probed) + "; a new download takes longer still (see f)"
        )
    if busy:
        warnings.append(
            "downloading or verifying it now, their work starts over: " + ", ".join(busy)
        )
    serving = [u.name for u in restart if u.ready]
    if serving:
        warnings.append("pods serving now will restart: " + ", ".join(serving))
    skipped = [u.name for u in users if u not in restart]
    if skipped:
        warnings.append("not restarted (no ReplicaSet owns them): " + ", ".join(skipped))
    spec = registry.spec(registry.PURGE)
    return ActionPlan(
        action=registry.PURGE,
        title=f"Delete the model {location.file} of pod {pod.name}",
        target=f"pod/{pod.name}",
        namespace=ns,
        steps=tuple(steps),
        summary=(
            f"Remove {location.file} and its .part and .part.json on {volume} "
            f"(volume {pod.cache_volume}), then restart {len(restart)} pod(s) that use it."
            + (f" ({host.note})" if host.note else "")
        ),
        destructive=True,
        irreversible=True,
        warnings=tuple(warnings),
        permissions=spec.permissions(ns) + host.permissions,
        affected_pods=tuple(u.name for u in users),
    )


def _plan_emptydir(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    location: ModelLocation,
    options: ActionOptions,
    doubt: str | None,
) -> ActionPlan:
    """A stopped pod's emptyDir goes with the pod: deleting the pod is the purge."""
    ns = snapshot.namespace
    if not pod.owner or not pod.owner.startswith("ReplicaSet/"):
        return refused(
            registry.PURGE,
            f"pod/{pod.name}",
            ns,
            f"Pod {pod.name} is not running and no ReplicaSet would replace it.",
        )
    steps: list[Step] = [delete_pod_call(ns, pod.name, "its emptyDir cache is removed with it")]
    warnings = (doubt,) if doubt else ()
    if options.follow:
        steps.append(ApiCall("list", "pods", ns, note="follow the new pod until Ready"))
    spec = registry.spec(registry.PURGE)
    return ActionPlan(
        action=registry.PURGE,
        title=f"Delete the model {location.file} of pod {pod.name}",
        target=f"pod/{pod.name}",
        namespace=ns,
        steps=tuple(steps),
        summary=(
            f"Pod {pod.name} is not running and caches on emptyDir {pod.cache_volume}: deleting "
            "the pod removes the model with it; the new pod downloads it again."
        ),
        destructive=True,
        irreversible=True,
        warnings=warnings,
        permissions=spec.permissions(ns),
        affected_pods=(pod.name,),
    )


_BUSY = (ModelState.DOWNLOADING, ModelState.WAITING, ModelState.VERIFYING, ModelState.STALLED)


def _running(pod: PodInfo) -> bool:
    return pod.phase == "Running" and any(
        c.state == "running" for c in pod.containers if not c.init
    )


def execute(plan: ActionPlan, ctx: ActionContext) -> ActionResult:
    execs = [s for s in plan.steps if isinstance(s, ExecStep)]
    deletes = [
        s
        for s in plan.steps
        if isinstance(s, ApiCall) and s.verb == "delete" and not is_helper_call(plan, s)
    ]
    follow = any(isinstance(s, ApiCall) and s.verb == "list" for s in plan.steps)
    details: dict[str, object] = {}
    would_delete: list[str] = []
    if execs:
        resolve, kinds, rm = execs[0], execs[1], execs[2]
        targets = rm.argv[2:]
        cache_dir = resolve.argv[2]
        host = ExecHost.of_plan(plan)
        if ctx.dry_run and host.helper:
            details["checked"] = False
            ctx.say("dry run: no helper pod is started, so the paths are not checked in the pod")
        else:
            checked = with_host(
                ctx, host, lambda: _check_and_remove(ctx, resolve, kinds, rm, cache_dir, targets)
            )
            would_delete = list(checked.existing)
            details.update(
                deleted=list(checked.existing) if not ctx.dry_run else [],
                would_delete=list(checked.existing),
                missing=list(checked.missing),
            )
            if checked.note:
                details["note"] = checked.note
            if not checked.existing:
                return ActionResult(
                    plan,
                    False,
                    f"Nothing to delete: no file at {targets[0]} or its state files; no pod "
                    "was restarted.",
                    dry_run=ctx.dry_run,
                    details=details,
                )
    olds = [ctx.kube.pod_object(plan.namespace, str(d.name)) for d in deletes]
    following = follow and bool(deletes) and not ctx.dry_run
    existing = pods_before(ctx, plan.namespace, olds) if following else set()
    for d in deletes:
        ctx.kube.call(d, dry_run=ctx.dry_run)
    removed = ", ".join(would_delete)
    if ctx.dry_run:
        return ActionResult(
            plan,
            True,
            "Dry run: "
            + (f"would delete {removed}; " if removed else "")
            + f"the API server accepted deleting {len(deletes)} pod(s).",
            dry_run=True,
            details=details,
        )
    message = (f"Deleted {removed}. " if removed else "") + f"Restarted {len(deletes)} pod(s)."
    if not follow or not deletes:
        return ActionResult(plan, True, message, details=details)
    outcome = follow_replacements(ctx, plan.namespace, [o for o in olds if o], existing=existing)
    details.update(outcome.details)
    return ActionResult(plan, outcome.ok, f"{message} {outcome.message}", details=details)


def _check_and_remove(
    ctx: ActionContext,
    resolve: ExecStep,
    kinds: ExecStep,
    rm: ExecStep,
    cache_dir: str,
    targets: tuple[str, ...],
) -> Checked:
    checked = check_in_pod(ctx, resolve, kinds, cache_dir, targets)
    if ctx.dry_run or not checked.existing:
        return checked
    out = ctx.kube.exec(rm, timeout=ctx.exec_timeout, cancel=ctx.cancel)
    if out.exit_code != 0:
        raise ActionFailed(
            f"rm in pod {rm.pod} failed (exit {out.exit_code}): "
            f"{out.stderr.strip()[:200] or 'no message'}."
        )
    return checked
