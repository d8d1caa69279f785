"""Pieces every action plan is built from: refusals, names, times, and where to exec.

Exec needs a running container that sees the cache. That is the target pod when it runs, else
a pod of the same release sharing the volume, else (for a PVC) a short-lived helper pod that
mounts the same claim at the same path — a crash-looping pod cannot be exec'd into, and that is
exactly when a corrupt model has to be verified and removed.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actions.options import MANAGED_BY, MANAGED_BY_LABEL, ActionOptions, PodFacts
from actions.plan import ActionPlan, ApiCall, ExecStep, Permission
from actions.registry import HELPER_POD, permission, spec
from actions.targets import cache_container, pods_sharing_cache
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.state import relapsing

ROLE_LABEL = "asr-cache-tui/role"
HELPER_LIFETIME = 1800  # seconds: a helper pod never outlives this, whatever happens to us


def refused(
    action_id: str, target: str, namespace: str, reason: str, summary: str = ""
) -> ActionPlan:
    """A plan that must not run, and why (shown instead of being offered and then failing)."""
    s = spec(action_id)
    return ActionPlan(
        action=action_id,
        title=s.title,
        target=target,
        namespace=namespace,
        summary=summary,
        destructive=s.destructive,
        refused=reason,
        permissions=s.permissions(namespace),
    )


def short_id(*parts: object) -> str:
    """Five hex digits that tell apart objects created by different requests."""
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()[:5]


def dns_label(text: str, limit: int = 63) -> str:
    """A DNS-1123 label made from ``text`` (lowercase, digits and '-'), at most ``limit`` long."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    label = re.sub(r"-{2,}", "-", label)
    return label[:limit].rstrip("-") or "x"


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass(frozen=True)
class ExecHost:
    """Where the exec steps run, and the API calls that bring a helper pod up and down."""

    pod: str
    container: str | None
    helper: bool = False
    setup: tuple[ApiCall, ...] = ()
    teardown: tuple[ApiCall, ...] = ()
    note: str = ""
    permissions: tuple[Permission, ...] = ()

    @staticmethod
    def of_plan(plan: ActionPlan) -> ExecHost:
        """Recover the exec host of a plan (the helper pod's calls are marked by a label)."""
        execs = [s for s in plan.steps if isinstance(s, ExecStep)]
        helper = _helper_create(plan)
        if helper is None:
            first = execs[0] if execs else None
            return ExecHost(first.pod if first else "", first.container if first else None)
        calls = [s for s in plan.steps if isinstance(s, ApiCall) and s.name == helper.name]
        return ExecHost(
            pod=str(helper.name),
            container="helper",
            helper=True,
            setup=tuple(c for c in calls if c.verb in ("create", "get")),
            teardown=tuple(c for c in calls if c.verb == "delete"),
        )


class NoExecHost(ValueError):
    """No container can see the cache (one sentence why)."""


def exec_host(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    options: ActionOptions,
    facts: PodFacts | None,
) -> ExecHost:
    """Pick a running container that sees ``pod``'s cache files at the same paths."""
    if _running(pod, options.container):
        return ExecHost(pod.name, cache_container(pod, options.container))
    for other in pods_sharing_cache(snapshot, pod):
        if (
            other.name != pod.name
            and other.release == pod.release
            and other.model.cache_dir == pod.model.cache_dir
            and _running(other, None)
        ):
            return ExecHost(
                other.name,
                cache_container(other),
                note=f"{pod.name} is not running; {other.name} shares its volume",
            )
    if pod.cache_kind != "pvc" or not pod.cache_claim:
        raise NoExecHost(
            f"Pod {pod.name} is not running and its cache is not a shared volume, so nothing "
            "can reach its files (deleting the pod discards an emptyDir cache)."
        )
    if facts is None or facts.volume is None or not facts.mounts:
        raise NoExecHost(
            f"Pod {pod.name} is not running and how it mounts claim {pod.cache_claim} is unknown."
        )
    return helper_host(snapshot, pod, options, facts)


def helper_host(
    snapshot: ClusterSnapshot,
    pod: PodInfo,
    options: ActionOptions,
    facts: PodFacts,
) -> ExecHost:
    """A helper pod on the same node, mounting the same claim at the same paths."""
    name = dns_label(f"asr-cache-helper-{short_id(pod.uid, snapshot.taken_at)}")
    ns = snapshot.namespace
    labels = {MANAGED_BY_LABEL: MANAGED_BY, ROLE_LABEL: "helper"}
    mounts = [
        {k: m[k] for k in ("name", "mountPath", "subPath", "subPathExpr") if k in m}
        for m in facts.mounts
    ]
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": HELPER_LIFETIME,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "helper",
                    "image": options.image,
                    "command": ["sleep", str(HELPER_LIFETIME)],
                    "volumeMounts": mounts,
                }
            ],
            "volumes": [dict(_plain(facts.volume or {}))],
        },
    }
    if facts.node:
        body["spec"]["nodeName"] = facts.node  # a ReadWriteOnce claim is only on that node
    return ExecHost(
        pod=name,
        container="helper",
        helper=True,
        setup=(
            ApiCall(
                "create", "pods", ns, name, body=body, note="a helper pod that mounts the cache"
            ),
            ApiCall("get", "pods", ns, name, note="wait until the helper runs"),
        ),
        teardown=(
            ApiCall(
                "delete",
                "pods",
                ns,
                name,
                body={"gracePeriodSeconds": 0},
                note="remove the helper pod",
            ),
        ),
        note=f"{pod.name} is not running; a helper pod mounts claim {pod.cache_claim}",
        permissions=(permission(HELPER_POD, ns),),
    )


def is_helper_create(step: object) -> bool:
    if not isinstance(step, ApiCall) or step.verb != "create" or step.resource != "pods":
        return False
    labels = ((step.body or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(ROLE_LABEL) == "helper"


def _helper_create(plan: ActionPlan) -> ApiCall | None:
    for step in plan.steps:
        if isinstance(step, ApiCall) and is_helper_create(step):
            return step
    return None


def is_helper_call(plan: ActionPlan, step: object) -> bool:
    """True for the helper pod's own create/get/delete calls in ``plan``."""
    helper = _helper_create(plan)
    return (
        helper is not None
        and isinstance(step, ApiCall)
        and step.name == helper.name
        and (step.resource == "pods")
    )


def _running(pod: PodInfo, container: str | None) -> bool:
    """A container an exec can rely on: running, and not a crash loop's brief run.

    A crash-looping container is caught "running" now and then, but gone again by the time a
    command reaches it; such a pod's files are reached through a sibling or a helper instead.
    """
    if pod.deleting or pod.phase != "Running":
        return False
    name = cache_container(pod, container)
    # Failed (a verdict a crash loop keeps between runs), or on its way again after a failure.
    crash_looping = pod.model_state in (ModelState.CORRUPT, ModelState.FAILED) or relapsing(pod)
    return any(
        c.name == name
        and c.state == "running"
        and not c.init
        and (c.ready or c.restarts == 0 or not crash_looping)
        for c in pod.containers
    )


def _plain(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return {k: v for k, v in obj.items()}


def delete_pod_call(namespace: str, name: str, note: str = "") -> ApiCall:
    """``kubectl delete pod``: background propagation, the controller makes a new one."""
    return ApiCall(
        "delete", "pods", namespace, name, body={"propagationPolicy": "Background"}, note=note
    )
