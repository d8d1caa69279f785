"""Why a pod cannot start: what the API says keeps it from ever reaching the model.

A pod stuck before its first line of log — the scheduler cannot place it, its cache volume
cannot be attached or mounted, its image cannot be pulled, a Secret it reads is missing — shows
only ``Pending`` or ``ContainerCreating`` in most tools. The API has the reason: a container's
waiting reason and message, the PodScheduled condition, and the Warning events about the pod
and its claims. Pure; the state rules (``state.py``) turn a settled blocker into ``blocked``.

Some causes cannot pass by themselves and are settled at once (a pull back-off, a missing
Secret — for the environment or as a volume —, a ReadWriteOnce volume attached to another
node); the others (not scheduled yet, a
mount that fails) may be the first seconds of a normal start — a volume being provisioned —
and are settled only after ``grace`` seconds; a pod for which the cluster autoscaler is adding
a node (its ``TriggeredScaleUp`` event) is given the autoscaler's own time for that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from collectors.model import ContainerInfo, EventInfo, PodInfo, StartBlocker
from collectors.units import format_duration

IMAGE_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
CONFIG_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError"})
# Warning events about a pod whose volumes the kubelet cannot set up.
VOLUME_EVENTS = {"FailedAttachVolume": "attached", "FailedMount": "mounted"}
MULTI_ATTACH = "Multi-Attach error"
# The cluster autoscaler gives up on a node that is not ready after this long (its
# --max-node-provision-time default): until then an unscheduled pod is waiting for that node.
SCALE_UP_SECONDS = 15 * 60
UNBOUND_CLAIMS = "unbound immediate PersistentVolumeClaims"
_NODES_SAY = re.compile(r"^\d+/\d+ nodes are available: (.+?)(?:\. preemption:.*)?$")
# A Secret or ConfigMap volume whose object (or a key it names) does not exist: the kubelet's
# "MountVolume.SetUp failed for volume "hf-token" : secret "hf-token" not found".
_MISSING_SOURCE = re.compile(
    r'for volume "(?P<volume>[^"]+)" : (?P<what>(?:secret|configmap) "[^"]+" not found|'
    r"(?:configmap )?references non-existent (?:secret |config )?key: \S+)"
)


def _pull_failure(events: Sequence[EventInfo], image: str) -> str | None:
    """The registry's answer for ``image`` (the kubelet's ``Failed to pull image`` event): the
    container's own message only says it backs off."""
    pulled = f'Failed to pull image "{image}"'
    for ev in events:
        if ev.type == "Warning" and ev.reason == "Failed" and ev.message.startswith(pulled):
            return ev.message
    return None


def _container_blocker(c: ContainerInfo, events: Sequence[EventInfo]) -> StartBlocker | None:
    what = f"{'init container' if c.init else 'container'} {c.name}"
    if c.reason in IMAGE_REASONS:
        said = f": {c.message}" if c.message else ""
        answer = _pull_failure(events, c.image)
        return StartBlocker(
            kind="image",
            cause=f"{what}: image {c.image} cannot be pulled ({c.reason}{said})",
            gist=f"cannot pull {c.image}",
            settled=True,
            details=(answer,) if answer else (),
        )
    if c.reason in CONFIG_REASONS:
        said = c.message or "no message"
        return StartBlocker(
            kind="config",
            cause=f"{what} cannot be created ({c.reason}): {said}",
            gist=said,
            settled=True,
        )
    return None


def _scheduler_reasons(message: str) -> str:
    """``0/3 nodes are available: pod has unbound … . preemption: …`` -> the reasons alone."""
    said = _NODES_SAY.match(" ".join(message.split()))
    reasons = said.group(1).rstrip(".") if said else message
    return "its claim is not bound" if UNBOUND_CLAIMS in reasons else reasons


def _volume_gist(failure: EventInfo) -> str:
    if MULTI_ATTACH in failure.message:  # the holder's name is in the cause: rows are narrow
        return "volume attached to another node"
    return f"volume cannot be {VOLUME_EVENTS[failure.reason]}"


def _missing_source(warnings: Sequence[EventInfo]) -> StartBlocker | None:
    """A Secret or ConfigMap volume that cannot be set up because what it mounts does not
    exist: like a missing Secret for the environment, it does not pass until someone creates
    it (the kubelet then mounts it at its next try), so it is settled at once."""
    for ev in warnings:
        found = _MISSING_SOURCE.search(ev.message) if ev.reason == "FailedMount" else None
        if found is not None:
            return StartBlocker(
                kind="config",
                cause=f"volume {found['volume']} cannot be mounted: {found['what']}",
                gist=found["what"],
                settled=True,
            )
    return None


def _waiting_to_be_created(pod: PodInfo) -> bool:
    """Scheduled, nothing started: containers still being created (or not reported yet)."""
    if pod.phase != "Pending" or not pod.node:
        return False
    return all(c.state in ("waiting", "unknown") for c in pod.containers)


def start_blocker(
    pod: PodInfo,
    events: Sequence[EventInfo],
    claim_warnings: Sequence[EventInfo],
    now: float,
    grace: float,
) -> StartBlocker | None:
    """What keeps ``pod`` from starting, or None.

    ``events`` are the events about the pod since it was created, ``claim_warnings`` the
    Warning events about its PersistentVolumeClaims, newest first."""
    if pod.deleting or pod.phase not in ("Pending", "Running"):
        return None
    for c in pod.containers:
        if c.state == "waiting":
            found = _container_blocker(c, events)
            if found is not None:
                return found
    if pod.phase != "Pending":
        return None
    claims_say = tuple(f"{ev.object_name}: {ev.reason}: {ev.message}" for ev in claim_warnings)
    if pod.unscheduled is not None:
        since = pod.unscheduled_since or pod.created_at
        lasted = now - since
        scale_up = next((ev for ev in events if ev.reason == "TriggeredScaleUp"), None)
        adding = (f"a node is being added: {scale_up.message}",) if scale_up else ()
        return StartBlocker(
            kind="schedule",
            cause=f"not scheduled for {format_duration(lasted)}: {pod.unscheduled}",
            gist=f"unscheduled: {_scheduler_reasons(pod.unscheduled)}",
            since=since,
            settled=lasted >= (max(grace, SCALE_UP_SECONDS) if scale_up else grace),
            details=adding + claims_say,
        )
    if not _waiting_to_be_created(pod):
        return None
    warnings = [ev for ev in events if ev.type == "Warning"]
    missing = _missing_source(warnings)
    if missing is not None:
        return missing
    # The attach failure is the cause; the kubelet's mount time-out that follows only repeats it.
    failure = next((ev for ev in warnings if ev.reason == "FailedAttachVolume"), None) or next(
        (ev for ev in warnings if ev.reason == "FailedMount"), None
    )
    if failure is None:
        return None
    lasted = now - pod.created_at
    return StartBlocker(
        kind="volume",
        cause=f"volume cannot be {VOLUME_EVENTS[failure.reason]}: {failure.message}",
        gist=_volume_gist(failure),
        since=pod.created_at,
        settled=MULTI_ATTACH in failure.message or lasted >= grace,
        details=claims_say,
    )
