"""What ``kubectl get pods`` says in its STATUS column, worked out from the pod as kubectl's
server-side printer does (``printPod`` in kubernetes' ``pkg/printers/internalversion``).

On-call engineers read pods in kubectl's words: ``CrashLoopBackOff``, ``Init:0/1``,
``ImagePullBackOff``, ``Terminating``, ``Evicted``. The phase alone (``Running``, ``Pending``)
hides exactly those. Pure: a pod object (plain dict) in, one word out.
"""

from __future__ import annotations

from typing import Any

from collectors import kube

NODE_LOST = "NodeLost"  # the node controller's status.reason for a pod on an unreachable node
_TERMINAL = ("Failed", "Succeeded")


def kubectl_status(pod: kube.Obj) -> str:
    """The STATUS column of ``kubectl get pods`` for this pod."""
    spec, status = kube.spec(pod), kube.status(pod)
    phase = _text(status.get("phase"))
    reason = _text(status.get("reason")) or phase
    if (kube.condition(pod, "PodScheduled") or {}).get("reason") == "SchedulingGated":
        reason = "SchedulingGated"
    init_specs = {str(c.get("name")): c for c in _mappings(spec.get("initContainers"))}
    initializing = False
    for i, cs in enumerate(_mappings(status.get("initContainerStatuses"))):
        state = _mapping(cs, "state") or {}
        terminated, waiting = _mapping(state, "terminated"), _mapping(state, "waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        sidecar = kube.dig(init_specs.get(str(cs.get("name"))), "restartPolicy") == "Always"
        if sidecar and cs.get("started"):
            continue  # a sidecar that started runs beside the others: it is not initialising
        if terminated is not None:
            reason = "Init:" + (_text(terminated.get("reason")) or _exit(terminated))
        elif waiting is not None and _text(waiting.get("reason")) not in ("", "PodInitializing"):
            reason = "Init:" + _text(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing or _condition_true(pod, "Initialized"):
        has_running = False
        for cs in reversed(_mappings(status.get("containerStatuses"))):
            state = _mapping(cs, "state") or {}
            terminated, waiting = _mapping(state, "terminated"), _mapping(state, "waiting")
            if waiting is not None and _text(waiting.get("reason")):
                reason = _text(waiting.get("reason"))
            elif terminated is not None:
                reason = _text(terminated.get("reason")) or _exit(terminated)
            elif cs.get("ready") and _mapping(state, "running") is not None:
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(pod, "Ready") else "NotReady"
    deleting = kube.meta(pod).get("deletionTimestamp")
    if deleting and _text(status.get("reason")) == NODE_LOST:
        reason = "Unknown"
    elif deleting and phase not in _TERMINAL:
        reason = "Terminating"
    return reason


def _exit(terminated: kube.Obj) -> str:
    """A terminated state without a reason: by its signal, else its exit code."""
    signal = terminated.get("signal")
    if isinstance(signal, int) and signal:
        return f"Signal:{signal}"
    return f"ExitCode:{terminated.get('exitCode', 0)}"


def _condition_true(pod: kube.Obj, kind: str) -> bool:
    return (kube.condition(pod, kind) or {}).get("status") == "True"


def _mappings(value: Any) -> list[dict[str, Any]]:
    return [v for v in kube.items(value) if isinstance(v, dict)]


def _mapping(obj: kube.Obj, key: str) -> kube.Obj | None:
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
