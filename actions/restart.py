"""Restart: delete one pod (its controller recreates it) or rollout-restart a Deployment.

A rollout restart is the same patch ``kubectl rollout restart`` sends: the
``kubectl.kubernetes.io/restartedAt`` annotation on the pod template. Both follow the new pods
until they are Ready.
"""

from __future__ import annotations

from actions import registry
from actions.common import delete_pod_call, refused, rfc3339
from actions.context import ActionContext
from actions.follow import follow_replacements, follow_rollout, pods_before
from actions.options import ActionOptions
from actions.plan import ActionPlan, ActionResult, ApiCall
from actions.targets import TargetError, find_pod, find_rollout, parse_target, release_pods
from collectors.model import ClusterSnapshot
from collectors.units import format_bytes

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def plan_restart(
    snapshot: ClusterSnapshot, target: str | None, options: ActionOptions
) -> ActionPlan:
    """Restart a pod, or with ``options.rollout`` (or a deployment target) the whole Deployment."""
    ns = snapshot.namespace
    try:
        t = parse_target(snapshot, target)
    except TargetError as exc:
        return refused(registry.RESTART_POD, target or "no target", ns, str(exc))
    if t.kind == "deployment" or options.rollout:
        name = t.name
        if t.kind == "pod":
            pod = snapshot.pod(t.name)
            if pod is None or not pod.release:
                return refused(
                    registry.ROLLOUT_RESTART,
                    str(t),
                    ns,
                    f"Pod {t.name} belongs to no Deployment that could be restarted.",
                )
            name = pod.release
        return plan_rollout_restart(snapshot, name, options)
    try:
        pod = find_pod(snapshot, t.name)
    except TargetError as exc:
        return refused(registry.RESTART_POD, str(t), ns, str(exc))
    spec = registry.spec(registry.RESTART_POD)
    if not pod.owner or not pod.owner.startswith("ReplicaSet/"):
        why = f"owned by {pod.owner}" if pod.owner else "not managed by any controller"
        return refused(
            registry.RESTART_POD,
            str(t),
            ns,
            f"Pod {pod.name} is {why}: deleting it would not bring a replacement back.",
        )
    warnings = []
    if pod.cache_kind == "emptyDir":
        size = pod.progress.bytes_total if pod.progress else None
        warnings.append(
            "the cache is an emptyDir: the replacement downloads the model again from zero"
            + (f" ({format_bytes(size)})" if size else "")
        )
    if pod.deleting:
        warnings.append(f"pod {pod.name} is already being deleted")
    steps: list[ApiCall] = [delete_pod_call(ns, pod.name, "its ReplicaSet creates a replacement")]
    if options.follow:
        steps.append(
            ApiCall("list", "pods", ns, note=f"follow the replacement of {pod.name} until Ready")
        )
    return ActionPlan(
        action=registry.RESTART_POD,
        title=f"Restart pod {pod.name}",
        target=f"pod/{pod.name}",
        namespace=ns,
        steps=tuple(steps),
        summary=(
            f"Delete pod {pod.name} of {pod.release or pod.owner}; its controller recreates it."
        ),
        destructive=spec.destructive,
        warnings=tuple(warnings),
        permissions=spec.permissions(ns),
        affected_pods=(pod.name,),
    )


def plan_rollout_restart(
    snapshot: ClusterSnapshot, deployment: str, options: ActionOptions
) -> ActionPlan:
    ns = snapshot.namespace
    spec = registry.spec(registry.ROLLOUT_RESTART)
    rollout = find_rollout(snapshot, deployment)
    if rollout is None:
        return refused(
            registry.ROLLOUT_RESTART,
            f"deployment/{deployment}",
            ns,
            f"Deployment {deployment!r} is not in namespace {ns!r}.",
        )
    stamp = rfc3339(snapshot.taken_at)
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    steps = [
        ApiCall(
            "patch",
            "deployments",
            ns,
            deployment,
            group="apps",
            body=body,
            note="as kubectl rollout restart does",
        ),
    ]
    if options.follow:
        steps.append(
            ApiCall(
                "get",
                "deployments",
                ns,
                deployment,
                group="apps",
                note="follow the rollout until every new pod is Ready",
            )
        )
    pods = tuple(p.name for p in release_pods(snapshot, deployment))
    warnings = []
    if any(p.cache_kind == "emptyDir" for p in release_pods(snapshot, deployment)):
        warnings.append("the pods cache on emptyDir: every new pod downloads the model again")
    return ActionPlan(
        action=registry.ROLLOUT_RESTART,
        title=f"Rollout restart deployment {deployment}",
        target=f"deployment/{deployment}",
        namespace=ns,
        steps=tuple(steps),
        summary=(
            f"Replace the {rollout.desired} pod(s) of {deployment} one by one "
            f"({RESTARTED_AT}={stamp})."
        ),
        destructive=spec.destructive,
        warnings=tuple(warnings),
        permissions=spec.permissions(ns),
        affected_pods=pods,
    )


def execute(plan: ActionPlan, ctx: ActionContext) -> ActionResult:
    """Run a restart plan: the delete (or patch), then follow to Ready."""
    if plan.action == registry.ROLLOUT_RESTART:
        return _execute_rollout(plan, ctx)
    delete = plan.steps[0]
    assert isinstance(delete, ApiCall) and delete.name
    before = ctx.kube.pod_object(plan.namespace, delete.name)
    following = any(isinstance(s, ApiCall) and s.verb == "list" for s in plan.steps)
    existing = set()
    if following and not ctx.dry_run:
        existing = pods_before(ctx, plan.namespace, [before])
    ctx.kube.call(delete, dry_run=ctx.dry_run)
    if ctx.dry_run:
        return ActionResult(
            plan,
            True,
            f"Dry run: the API server accepted deleting pod {delete.name}.",
            dry_run=True,
        )
    if not following:
        return ActionResult(plan, True, f"Deleted pod {delete.name}.")
    outcome = follow_replacements(
        ctx, plan.namespace, [before] if before else [], count=1, existing=existing
    )
    return ActionResult(plan, outcome.ok, outcome.message, details=outcome.details)


def _execute_rollout(plan: ActionPlan, ctx: ActionContext) -> ActionResult:
    patch = plan.steps[0]
    assert isinstance(patch, ApiCall) and patch.name
    obj = ctx.kube.call(patch, dry_run=ctx.dry_run, field_manager="kubectl-rollout")
    if ctx.dry_run:
        return ActionResult(
            plan,
            True,
            f"Dry run: the API server accepted the restart of {patch.name}.",
            dry_run=True,
        )
    if len(plan.steps) < 2:
        return ActionResult(plan, True, f"Restart of deployment {patch.name} started.")
    generation = int((obj.get("metadata") or {}).get("generation") or 0)
    outcome = follow_rollout(ctx, plan.namespace, patch.name, generation)
    return ActionResult(plan, outcome.ok, outcome.message, details=outcome.details)
