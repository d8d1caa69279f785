"""What to change for a pod that cannot start (``blocked``, or pending with a cause): nothing this
tool runs helps, as a restart meets the same cause; the advice says what does, and gives the
command where the cause names enough to write one: the rollout to undo, the Secret to create,
the replica count, the StorageClass to look for."""

from __future__ import annotations

import re

from actions.advice import Advice, kubectl
from actions.options import PodFacts
from actions.secret_advice import config_advice
from actions.targets import deployment_of, find_rollout, owner_name
from actions.words import unstopped, upper_first
from collectors.blockers import MULTI_ATTACH, UNBOUND_CLAIMS
from collectors.model import ClusterSnapshot, EventInfo, PodInfo, StartBlocker, VolumeInfo

_NO_CLASS = re.compile(r'storageclass\.storage\.k8s\.io "([^"]+)" not found')
LIST_CLASSES = "kubectl get storageclass"  # cluster-scoped: no namespace


def start_advice(
    snapshot: ClusterSnapshot, pod: PodInfo, blocker: StartBlocker, facts: PodFacts | None
) -> Advice:
    """What to change so that ``pod`` starts; the pod spec's ``facts`` name the keys a missing
    Secret must hold. A cause that may pass by itself is said to (unless it names a StorageClass
    that does not exist: that one waits for a person)."""
    unbound = blocker.kind == "schedule" and UNBOUND_CLAIMS in blocker.cause
    absent = _absent_class(snapshot, pod) if unbound else None
    settled = blocker.settled or absent is not None
    first = (
        ""
        if settled
        else "This may still pass by itself (a volume being provisioned, a node being added); "
        "if it does not: "
    )
    if blocker.kind == "image":
        advice = _image(snapshot, pod)
    elif blocker.kind == "config":
        advice = config_advice(snapshot.namespace, pod, blocker.cause, facts)
    elif blocker.kind == "volume" and MULTI_ATTACH in blocker.cause:
        advice = _multi_attach(snapshot.namespace, pod)
    elif unbound:
        advice = _unbound(snapshot, pod, absent)
    elif blocker.kind == "schedule":
        advice = Advice("no node fits it: free or add nodes, or relax its requests or affinity.")
    else:
        advice = Advice(
            "the kubelet retries the mount by itself; check the volume's driver and server."
        )
    return Advice(upper_first(first + advice.said), advice.commands)


def claim_warnings(snapshot: ClusterSnapshot, pod: PodInfo) -> tuple[str, ...]:
    """Each Pending claim of the pod's latest Warning, ``claim X: Reason: message``: why it is
    not bound, in the provisioner's words."""
    said = []
    for claim in _pending_claims(snapshot, pod):
        latest = _latest_warning(snapshot, claim)
        if latest is not None:
            said.append(f"claim {claim.name}: {latest.reason}: {unstopped(latest.message)}")
    return tuple(said)


def _image(snapshot: ClusterSnapshot, pod: PodInfo) -> Advice:
    owner = owner_name(pod)
    said = (
        f"fix the image reference in {owner} (or its imagePullSecrets when the registry refused "
        "access). The kubelet retries the pull by itself."
    )
    deployment = deployment_of(pod)
    rollout = find_rollout(snapshot, deployment) if deployment is not None else None
    revision = rollout.revision if rollout is not None else None
    if deployment is None or not revision or not revision.isdigit() or int(revision) < 2:
        return Advice(said + f" If a rollout brought it, `kubectl rollout undo {owner}` goes back.")
    said += (
        f" {owner} is at revision {revision}: if its last rollout brought this image, the "
        "command below goes back to the revision before."
    )
    return Advice(
        said, (kubectl(snapshot.namespace, "rollout", "undo", f"deployment/{deployment}"),)
    )


def _multi_attach(namespace: str, pod: PodInfo) -> Advice:
    owner = owner_name(pod)
    said = (
        "the cache volume is ReadWriteOnce, attached to one node at a time: a pod on another "
        "node waits for as long as the holder runs. Use a ReadWriteMany volume (EFS) for a "
        f"shared cache, keep {owner}'s pods on one node, or scale it to one replica"
    )
    deployment = deployment_of(pod)
    if deployment is None:
        return Advice(said + ".")
    command = kubectl(namespace, "scale", f"deployment/{deployment}", "--replicas=1")
    return Advice(said + " (the command below).", (command,))


def _unbound(snapshot: ClusterSnapshot, pod: PodInfo, absent: str | None) -> Advice:
    """A claim not bound to a volume: its latest Warning (in the evidence) says why; a
    StorageClass that does not exist (``absent``) is named, with what to change, as a claim's
    class cannot be changed in place."""
    claims = _pending_claims(snapshot, pod)
    commands = [kubectl(snapshot.namespace, "describe", "pvc", c.name) for c in claims]
    if absent is None:
        said = (
            "its claim is not bound to a volume: see the claim's events (the StorageClass it "
            "names, the provisioner)"
        )
        return Advice(said + "; once it binds, the pod is scheduled.", tuple(commands))
    said = (
        f"its claim asks for StorageClass {absent}, which does not exist (the first command "
        "below lists those that do). A claim's storageClassName cannot be changed: create "
        f"StorageClass {absent}, or name an existing class in the chart's values and create the "
        "claim again (a Pending claim holds no data); once it binds, the pod is scheduled."
    )
    return Advice(said, (LIST_CLASSES, *commands))


def _absent_class(snapshot: ClusterSnapshot, pod: PodInfo) -> str | None:
    """The StorageClass a Pending claim of the pod asks for that does not exist, as the
    provisioner's warning names it."""
    found = (_NO_CLASS.search(w) for w in claim_warnings(snapshot, pod))
    return next((m.group(1) for m in found if m is not None), None)


def _pending_claims(snapshot: ClusterSnapshot, pod: PodInfo) -> list[VolumeInfo]:
    return [
        v
        for v in snapshot.volumes
        if v.kind == "pvc"
        and v.phase == "Pending"
        and (pod.name in v.pods or v.name == pod.cache_claim)
    ]


def _latest_warning(snapshot: ClusterSnapshot, claim: VolumeInfo) -> EventInfo | None:
    about = (
        e
        for e in snapshot.events
        if e.object_kind == "PersistentVolumeClaim" and e.object_name == claim.name
    )
    warnings = [e for e in about if e.type == "Warning"]
    return max(warnings, key=lambda e: e.last_seen, default=None)
