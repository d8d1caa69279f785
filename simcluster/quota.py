"""ResourceQuota: what a pod charges against a namespace's quota, and the admission check
that refuses a pod create with kube-apiserver's 403 when it would exceed one.

The charge follows the pod quota evaluator: `pods` counts one per pod that is not terminal
(Succeeded and Failed pods are free), `requests.*` (and the bare `cpu`/`memory` aliases) sum
the containers' requests and `limits.*` their limits, an init container counting when it
asks for more than the app containers together. A quota that limits cpu or memory makes
every container state that resource ("failed quota: ... must specify ...").

The admission check counts usage live from the store rather than from `status.used`: a
real API server adds each admitted pod to `status.used` in the same step, so the two agree,
and the check cannot race the quota controller that fills in `status`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simcluster.errors import ApiError
from simcluster.quantity import QuantityError, format_quantity, is_binary, parse_quantity

if TYPE_CHECKING:
    from simcluster.store import Store

# The quota resources a pod is charged for.
POD_RESOURCES = frozenset(
    {
        "pods",
        "count/pods",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    }
)
# A quota on one of these makes every container state it (the evaluator's validationSet).
MUST_SPECIFY = frozenset(
    {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
)
_COMPUTE = ("cpu", "memory", "ephemeral-storage")

# A charge: resource name -> (amount, printed in the binary format).
Usage = dict[str, tuple[Decimal, bool]]


def terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _amounts(values: Any) -> Usage:
    out: Usage = {}
    if not isinstance(values, dict):
        return out
    for name, text in values.items():
        try:
            out[str(name)] = (parse_quantity(str(text)), is_binary(str(text)))
        except QuantityError:
            continue
    return out


def _add(total: Usage, name: str, amount: tuple[Decimal, bool]) -> None:
    """Add as `resource.Quantity.Add` does: the sum keeps the first non-zero term's format."""
    old = total.get(name)
    if old is None or old[0] == 0:
        total[name] = amount
    else:
        total[name] = (old[0] + amount[0], old[1])


def _pod_totals(spec: dict[str, Any], kind: str) -> Usage:
    """The pod's requests or limits (`kind`): the app containers' sum (sidecars included),
    raised to any single init container's own value where that is larger."""
    total: Usage = {}
    for c in spec.get("containers") or []:
        for name, amount in _amounts((c.get("resources") or {}).get(kind)).items():
            _add(total, name, amount)
    for c in spec.get("initContainers") or []:
        values = _amounts((c.get("resources") or {}).get(kind))
        if c.get("restartPolicy") == "Always":
            for name, amount in values.items():
                _add(total, name, amount)
            continue
        for name, amount in values.items():
            if name not in total or amount[0] > total[name][0]:
                total[name] = amount
    return total


def pod_usage(pod: dict[str, Any]) -> Usage:
    """What the pod charges (`count/pods` always; nothing else once it is terminal)."""
    usage: Usage = {"count/pods": (Decimal(1), False)}
    if terminal(pod):
        return usage
    usage["pods"] = (Decimal(1), False)
    spec = pod.get("spec") or {}
    requests, limits = _pod_totals(spec, "requests"), _pod_totals(spec, "limits")
    for res in _COMPUTE:
        if res in requests:
            usage[res] = usage[f"requests.{res}"] = requests[res]
        if res in limits:
            usage[f"limits.{res}"] = limits[res]
    return usage


def namespace_usage(pods: list[dict[str, Any]]) -> Usage:
    """The sum of the pods' charges, in name order (the order decides the printed format)."""
    total: Usage = {}
    for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
        for name, amount in pod_usage(pod).items():
            _add(total, name, amount)
    return total


def show(amount: tuple[Decimal, bool] | None) -> str:
    if amount is None:
        return "0"
    return format_quantity(amount[0], amount[1]) or str(amount[0])


def hard_of(quota: dict[str, Any]) -> Usage:
    return _amounts((quota.get("spec") or {}).get("hard"))


def quota_status(quota: dict[str, Any], used: Usage) -> dict[str, Any]:
    """`status` as the quota controller writes it: hard mirrors spec.hard, used has every
    hard resource (0 when nothing uses it, as for the resources pods are not charged for)."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    return {
        "hard": dict(hard),
        "used": {name: show(used.get(name)) for name in sorted(hard)},
    }


def _missing(spec: dict[str, Any], required: set[str]) -> dict[str, set[str]]:
    """Resource -> names of the containers that do not state it."""
    missing: dict[str, set[str]] = {}
    for kind in ("containers", "initContainers"):
        for c in spec.get(kind) or []:
            resources = c.get("resources") or {}
            stated = set()
            for res in ("cpu", "memory"):
                if res in (resources.get("requests") or {}):
                    stated |= {res, f"requests.{res}"}
                if res in (resources.get("limits") or {}):
                    stated.add(f"limits.{res}")
            for res in required - stated:
                missing.setdefault(res, set()).add(str(c.get("name", "")))
    return missing


def _pretty(values: dict[str, str]) -> str:
    return ",".join(f"{k}={values[k]}" for k in sorted(values))


def check_pod(
    pod: dict[str, Any], quotas: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> str | None:
    """Why quota refuses creating `pod` beside `pods` (the namespace's), or None.

    The wording is the quota admission plugin's: first any quota whose cpu/memory the
    containers do not all state ("failed quota"), then the first quota the pod would take
    over its hard limit ("exceeded quota", each part listing every exceeded resource)."""
    spec = pod.get("spec") or {}
    matching = []
    for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
        hard = hard_of(quota)
        limited = set(hard) & POD_RESOURCES
        if not limited:
            continue
        missing = _missing(spec, limited & MUST_SPECIFY)
        if missing:
            parts = [f"{res} for: {','.join(sorted(missing[res]))}" for res in sorted(missing)]
            return f"failed quota: {quota['metadata']['name']}: must specify {'; '.join(parts)}"
        matching.append((quota, hard, limited))
    if not matching:
        return None
    requested = pod_usage(pod)
    used = namespace_usage(pods)
    for quota, hard, limited in matching:
        exceeded = sorted(
            name
            for name in limited
            if name in requested
            and requested[name][0] != 0
            and used.get(name, (Decimal(0), False))[0] + requested[name][0] > hard[name][0]
        )
        if exceeded:
            return (
                f"exceeded quota: {quota['metadata']['name']}, "
                f"requested: {_pretty({n: show(requested[n]) for n in exceeded})}, "
                f"used: {_pretty({n: show(used.get(n)) for n in exceeded})}, "
                f"limited: {_pretty({n: show(hard[n]) for n in exceeded})}"
            )
    return None


def forbidden(pod: dict[str, Any], why: str) -> ApiError:
    """The 403 `pods "NAME" is forbidden: WHY` (admission.NewForbidden's shape)."""
    name = str(pod["metadata"].get("name") or pod["metadata"].get("generateName") or "")
    return ApiError(
        403, "Forbidden", f'pods "{name}" is forbidden: {why}', {"name": name, "kind": "pods"}
    )


def admit_pod_create(store: Store, plural: str, obj: dict[str, Any]) -> None:
    """The ResourceQuota admission plugin (a store validator): refuse a pod create that a
    quota of its namespace forbids. Namespaces without quotas cost one small scan."""
    if plural != "pods":
        return
    ns = obj["metadata"].get("namespace")
    quotas = store.list("resourcequotas", ns, copy=False)[0]
    if not quotas:
        return
    pods = store.list("pods", ns, copy=False)[0]
    why = check_pod(obj, quotas, pods)
    if why is not None:
        raise forbidden(obj, why)
