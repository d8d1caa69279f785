"""Turning a target string (``pod/x``, ``deployment/y``, a bare name) into snapshot objects.

Kept apart from the actions so every action names its target, and fails to find it, the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.model import ClusterSnapshot, PodInfo, RolloutInfo

POD_KINDS = ("pod", "pods", "po")
DEPLOYMENT_KINDS = ("deployment", "deployments", "deploy")


class TargetError(ValueError):
    """The target is missing or names nothing in the snapshot (one sentence)."""


@dataclass(frozen=True)
class Target:
    kind: str  # pod | deployment
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def parse_target(
    snapshot: ClusterSnapshot, target: str | None, default_kind: str = "pod"
) -> Target:
    """Read ``kind/name`` or a bare name (a pod if one has that name, else a deployment)."""
    if target is None or not target.strip():
        raise TargetError(
            "No target given: name a pod (pod/NAME) or a deployment (deployment/NAME)."
        )
    text = target.strip()
    if "/" in text:
        kind, _, name = text.partition("/")
        kind = kind.lower()
        if not name or "/" in name:
            raise TargetError(f"The target {target!r} is not KIND/NAME.")
        if kind in POD_KINDS:
            return Target("pod", name)
        if kind in DEPLOYMENT_KINDS:
            return Target("deployment", name)
        raise TargetError(
            f"The target kind {kind!r} is not supported: use pod/NAME or deployment/NAME."
        )
    if snapshot.pod(text) is not None:
        return Target("pod", text)
    if any(r.name == text for r in snapshot.rollouts):
        return Target("deployment", text)
    return Target(default_kind, text)


def find_pod(snapshot: ClusterSnapshot, name: str) -> PodInfo:
    pod = snapshot.pod(name)
    if pod is None:
        raise TargetError(f"Pod {name!r} is not in namespace {snapshot.namespace!r}.")
    return pod


def target_pod(snapshot: ClusterSnapshot, target: str | None, action: str) -> PodInfo:
    """The pod a one-pod action (``action`` names it in the error) is aimed at.

    A deployment target is refused rather than widened to its pods, because these actions touch
    one pod's cache files and must not quietly pick one.
    """
    t = parse_target(snapshot, target)
    if t.kind != "pod":
        raise TargetError(f"{action} works on a pod, not on {t}.")
    return find_pod(snapshot, t.name)


def find_rollout(snapshot: ClusterSnapshot, name: str) -> RolloutInfo | None:
    return next((r for r in snapshot.rollouts if r.name == name), None)


def release_pods(snapshot: ClusterSnapshot, release: str) -> tuple[PodInfo, ...]:
    """The live pods of one deployment (pods on their way out are left aside)."""
    return tuple(p for p in snapshot.pods if p.release == release and not p.deleting)


def pods_sharing_cache(snapshot: ClusterSnapshot, pod: PodInfo) -> tuple[PodInfo, ...]:
    """Every pod that sees the same cache files as ``pod``: same PVC, or the pod alone."""
    if pod.cache_kind == "pvc" and pod.cache_claim:
        return tuple(
            p
            for p in snapshot.pods
            if p.cache_claim == pod.cache_claim and p.cache_kind == "pvc" and not p.deleting
        )
    return (pod,)


def cache_container(pod: PodInfo, wanted: str | None = None) -> str | None:
    """The container to exec in: the one asked for, else the first running non-init one."""
    if wanted:
        return wanted
    running = [c for c in pod.containers if not c.init and c.state == "running"]
    if running:
        return running[0].name
    regular = [c for c in pod.containers if not c.init]
    return regular[0].name if regular else None


def owner_name(pod: PodInfo) -> str:
    """The object to change for what a pod runs with, as a sentence names it: its Deployment
    (``deployment/D``), else its owner as such."""
    return f"deployment/{pod.release}" if pod.release else f"the owner of pod {pod.name}"


def deployment_of(pod: PodInfo) -> str | None:
    """The Deployment whose template a pod runs, when its ReplicaSet says so: the object a
    command to run by hand changes."""
    return pod.release if pod.release and (pod.owner or "").startswith("ReplicaSet/") else None
