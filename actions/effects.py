"""Which cache volumes an action changes, so the dashboard measures them again as soon as it
finishes instead of showing the usage from before it until the next periodic poll."""

from __future__ import annotations

from actions import registry
from actions.plan import ActionPlan, ActionResult
from collectors.model import ClusterSnapshot, PodInfo


def volume_key(pod: PodInfo) -> str | None:
    """The pod's cache volume as ``ClusterSnapshot.volumes`` names it (claim, or pod/volume)."""
    if pod.cache_kind == "pvc" and pod.cache_claim:
        return pod.cache_claim
    if pod.cache_kind == "emptyDir" and pod.cache_volume:
        return f"{pod.name}/{pod.cache_volume}"
    return None


def cache_volumes(plan: ActionPlan, snapshot: ClusterSnapshot | None) -> tuple[str, ...]:
    """The volumes the plan may change: those of its target and affected pods (a Deployment
    target: its pods). Read when the plan is confirmed: by the time it has run, the pods it
    replaced are gone from the snapshot, while their volumes remain."""
    spec = registry.BY_ID.get(plan.action)
    if snapshot is None or spec is None or not spec.changes_cache:
        return ()
    kind, _, name = plan.target.partition("/")
    names = set(plan.affected_pods) | ({name} if kind == "pod" else set())
    pods = [
        p for p in snapshot.pods if p.name in names or (kind == "deployment" and p.release == name)
    ]
    return tuple(sorted({key for p in pods if (key := volume_key(p)) is not None}))


def may_have_changed(result: ActionResult) -> bool:
    """Whether running the plan may have changed its volumes: not for a dry run, a refusal or
    a forbidden action; a failed run may have done part of its work, so it counts."""
    details = result.details
    return not (result.dry_run or details.get("refused") or details.get("forbidden"))
