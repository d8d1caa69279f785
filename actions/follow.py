"""Following what an action set in motion: replacement pods, rollouts and Jobs, until done.

Each follower says what to look at; ``_poll`` looks once per ``ctx.poll``, reports a short
line when something changes, gives up at ``ctx.timeout`` and stops at once on cancel: the
cluster carries on by itself either way, and the message says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actions.context import ActionContext, Cancelled
from actions.progresslines import last_event
from actions.words import unstopped

LOG_EVERY = 2.0  # seconds between log tails of a pod being followed


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Status:
    """Where a followed thing stands while it is not done yet."""

    line: str  # said when it changes
    details: Mapping[str, Any] = field(default_factory=dict)  # kept if following stops here


def _poll(
    ctx: ActionContext,
    look: Callable[[], Outcome | _Status],
    late: Callable[[str], str],
    goes_on: str,
    details: Mapping[str, Any] | None = None,
) -> Outcome:
    """Call ``look`` every ``ctx.poll`` until it returns an outcome, saying each new status line.

    At ``ctx.timeout`` the outcome is ``late(line)``; a cancel stops at once ("Cancelled while
    following; ``goes_on``."). Both keep the last status's details (``details`` before the
    first), since the cluster carries on by itself either way.
    """
    deadline = ctx.deadline()
    last = _Status("", details or {})
    try:
        while True:
            ctx.check()
            seen = look()
            if isinstance(seen, Outcome):
                return seen
            if seen.line != last.line:
                ctx.say(seen.line)
            last = seen
            if time.monotonic() > deadline:
                return Outcome(False, late(seen.line), seen.details)
            ctx.wait()
    except Cancelled:
        return Outcome(
            False, f"Cancelled while following; {goes_on}.", {"cancelled": True, **last.details}
        )


def pod_ready(pod: Mapping[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def pod_state(pod: Mapping[str, Any]) -> str:
    """A few words on where a pod stands: phase, or its first waiting/terminated container."""
    status = pod.get("status") or {}
    for c in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = c.get("state") or {}
        for key in ("waiting", "terminated"):
            if state.get(key):
                reason = state[key].get("reason") or key
                if key == "terminated" and reason == "Completed":
                    continue
                return f"{c.get('name')}: {reason}"
    if pod_ready(pod):
        return "Ready"
    return str(status.get("phase") or "Pending")


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def controller_uid(pod: Mapping[str, Any]) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _selector(pod: Mapping[str, Any]) -> str | None:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    keep = {k: v for k, v in labels.items() if k != "pod-template-hash"}
    return ",".join(f"{k}={v}" for k, v in sorted(keep.items())) or None


class _LogWatch:
    """Tail a followed pod's log now and then for the downloader's last progress line."""

    def __init__(self, ctx: ActionContext, namespace: str) -> None:
        self.ctx = ctx
        self.namespace = namespace
        self._last: dict[str, float] = {}

    def line(self, pod: Mapping[str, Any], container: str | None = None) -> str | None:
        name = _name(pod)
        now = time.monotonic()
        if now - self._last.get(name, 0.0) < LOG_EVERY:
            return None
        self._last[name] = now
        if container is None:
            container = _busy_container(pod)
        try:
            text = self.ctx.kube.log_tail(self.namespace, name, container, lines=20)
        except Exception:  # a log that cannot be read yet is no reason to stop following
            return None
        event = last_event(text)
        return event.summary() if event else None


def _busy_container(pod: Mapping[str, Any]) -> str | None:
    """The init container still running, else the first container."""
    status = pod.get("status") or {}
    for c in status.get("initContainerStatuses") or ():
        if (c.get("state") or {}).get("running"):
            return str(c.get("name"))
    containers = (pod.get("spec") or {}).get("containers") or ()
    return str(containers[0].get("name")) if containers else None


def pods_before(
    ctx: ActionContext, namespace: str, old_pods: Iterable[Mapping[str, Any] | None]
) -> set[str]:
    """UIDs of every pod alongside ``old_pods`` (same labels), listed before they are deleted.

    A replacement is a pod that did not exist then: a sibling replica that was already Ready
    is not one.
    """
    uids: set[str] = set()
    for selector in {_selector(p) for p in old_pods if p}:
        uids.update(_uid(p) for p in ctx.kube.list_pods(namespace, selector))
    return uids


def follow_replacements(
    ctx: ActionContext,
    namespace: str,
    old_pods: Iterable[Mapping[str, Any]],
    count: int | None = None,
    existing: Iterable[str] = (),
) -> Outcome:
    """Wait until every deleted pod has a Ready replacement from the same controller.

    ``existing``: UIDs of the pods there before the deletion (``pods_before``), never taken
    for a replacement.
    """
    olds = [p for p in old_pods if p]
    if not olds:
        return Outcome(True, "The pod is gone; no controller information to follow a replacement.")
    old_uids = {_uid(p) for p in olds} | set(existing)
    wanted: dict[str, int] = {}
    selectors: dict[str, str | None] = {}
    for p in olds:
        owner = controller_uid(p) or ""
        wanted[owner] = wanted.get(owner, 0) + 1
        selectors[owner] = _selector(p)
    if count is not None and len(wanted) == 1:
        wanted = {k: count for k in wanted}
    logs = _LogWatch(ctx, namespace)

    def look() -> Outcome | _Status:
        ready: list[str] = []
        pending: list[Mapping[str, Any]] = []
        for owner, n in wanted.items():
            pods = ctx.kube.list_pods(namespace, selectors[owner])
            fresh = [
                p
                for p in pods
                if _uid(p) not in old_uids
                and (controller_uid(p) or "") == owner
                and not (p.get("metadata") or {}).get("deletionTimestamp")
            ]
            ok = [p for p in fresh if pod_ready(p)]
            ready.extend(_name(p) for p in ok[:n])
            if len(ok) < n:
                pending.extend(p for p in fresh if not pod_ready(p))
        names = sorted(ready)
        details = {"ready_pods": names}
        if not pending and len(ready) >= sum(wanted.values()):
            return Outcome(True, "Replacement pod(s) Ready: " + ", ".join(names) + ".", details)
        parts = []
        for p in pending[:3]:
            progress = logs.line(p)
            parts.append(f"{_name(p)} {pod_state(p)}" + (f", {progress}" if progress else ""))
        line = "waiting for replacement: " + ("; ".join(parts) if parts else "not created yet")
        return _Status(line, details)

    return _poll(
        ctx,
        look,
        late=lambda line: (
            f"No Ready replacement within {ctx.timeout:.0f} s ({line}); the cluster keeps "
            "trying on its own."
        ),
        goes_on="the replacement pods go on by themselves",
        details={"ready_pods": []},
    )


def follow_rollout(ctx: ActionContext, namespace: str, name: str, generation: int) -> Outcome:
    """Wait as ``kubectl rollout status`` does: every replica updated, ready and available."""

    def look() -> Outcome | _Status:
        dep = ctx.kube.deployment(namespace, name)
        if dep is None:
            return Outcome(False, f"Deployment {name} disappeared while its rollout was followed.")
        spec = dep.get("spec") or {}
        status = dep.get("status") or {}
        replicas = spec.get("replicas")
        want = int(replicas) if replicas is not None else 1
        observed = int(status.get("observedGeneration") or 0)
        updated = int(status.get("updatedReplicas") or 0)
        ready = int(status.get("readyReplicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        total = int(status.get("replicas") or 0)
        details = {"deployment": name, "ready": ready, "replicas": want}
        if (
            observed >= generation
            and updated >= want
            and total <= want
            and ready >= want
            and available >= want
        ):
            return Outcome(
                True, f"Deployment {name} rolled out: {ready}/{want} new pods Ready.", details
            )
        line = f"rollout of {name}: {updated}/{want} updated, {ready}/{want} ready"
        if total > want:
            line += f", {total - want} old pod(s) terminating"
        return _Status(line, details)

    return _poll(
        ctx,
        look,
        late=lambda line: (
            f"The rollout of {name} did not finish within {ctx.timeout:.0f} s ({line})."
        ),
        goes_on=f"the rollout of {name} goes on by itself",
    )


def job_condition(job: Mapping[str, Any]) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed"):
            return str(c.get("type"))
    return None


def follow_job(ctx: ActionContext, namespace: str, name: str) -> Outcome:
    """Wait for a Job to complete, reporting its pod's download progress from the log."""
    last_progress: str | None = None
    logs = _LogWatch(ctx, namespace)
    details = {"job": name}

    def look() -> Outcome | _Status:
        nonlocal last_progress
        job = ctx.kube.job(namespace, name)
        if job is None:
            return Outcome(False, f"Job {name} disappeared while it was followed.")
        pods = job_pods(ctx, namespace, job)
        current = sorted(
            pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp"))
        )
        if current:
            last_progress = logs.line(current[-1]) or last_progress
        condition = job_condition(job)
        finished = {**details, "pods": [_name(p) for p in current]}
        if condition == "Complete":
            return Outcome(
                True,
                f"Job {name} completed" + (f" ({last_progress})." if last_progress else "."),
                finished,
            )
        if condition == "Failed":
            tail = _final_log(ctx, namespace, current)
            return Outcome(
                False, f"Job {name} failed" + (f": {unstopped(tail)}." if tail else "."), finished
            )
        status = job.get("status") or {}
        state = pod_state(current[-1]) if current else "no pod yet"
        line = (
            f"job {name}: {status.get('active') or 0} active, "
            f"{status.get('failed') or 0} failed; {last_progress or state}"
        )
        return _Status(line, details)

    return _poll(
        ctx,
        look,
        late=lambda line: (
            f"Job {name} did not finish within {ctx.timeout:.0f} s ({line}); it keeps running."
        ),
        goes_on=f"Job {name} keeps running",
        details=details,
    )


def job_pods(ctx: ActionContext, namespace: str, job: Mapping[str, Any]) -> list[dict[str, Any]]:
    uid = _uid(job)
    pods = ctx.kube.list_pods(namespace, f"job-name={_name(job)}")
    if not pods:
        pods = ctx.kube.list_pods(namespace)
    return [p for p in pods if controller_uid(p) == uid]


def _final_log(ctx: ActionContext, namespace: str, pods: list[dict[str, Any]]) -> str | None:
    if not pods:
        return None
    try:
        text = ctx.kube.log_tail(namespace, _name(pods[-1]), None, lines=50)
    except Exception:
        return None
    event = last_event(text)
    return event.summary() if event else None
