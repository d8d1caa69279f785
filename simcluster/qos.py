"""Container resources as Kubernetes reads them: a pod's defaulted requests and its QoS class.

The API server fills a pod container's missing requests from its limits (on Pods only, not on
the templates of Deployments and Jobs) and sets `status.qosClass`; the kubelet reports the
same class. Both use the rules here, which are `SetDefaults_Pod` and `ComputePodQOS`'s.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simcluster.quantity import QuantityError, parse_quantity

QOS_RESOURCES = ("cpu", "memory")  # the only resources that decide the QoS class


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for kind in ("containers", "initContainers")
        for c in spec.get(kind) or []
        if isinstance(c, dict)
    ]


def default_requests_from_limits(spec: dict[str, Any]) -> None:
    """A pod container with a limit but no request for a resource requests its limit."""
    for c in _containers(spec):
        resources = c.get("resources")
        if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
            continue
        requests = resources.get("requests")
        if not isinstance(requests, dict):
            requests = resources["requests"] = {}
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)


def _positive(values: Any) -> dict[str, Decimal]:
    """The cpu and memory quantities above zero (what counts towards the QoS class)."""
    out: dict[str, Decimal] = {}
    if not isinstance(values, dict):
        return out
    for name in QOS_RESOURCES:
        if name not in values:
            continue
        try:
            amount = parse_quantity(str(values[name]))
        except QuantityError:
            continue
        if amount > 0:
            out[name] = amount
    return out


def pod_qos(spec: dict[str, Any]) -> str:
    """`Guaranteed` when every container limits cpu and memory and requests just that,
    `BestEffort` when none requests or limits either, `Burstable` otherwise."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for c in _containers(spec):
        resources = c.get("resources") or {}
        for name, amount in _positive(resources.get("requests")).items():
            requests[name] = requests.get(name, Decimal(0)) + amount
        found = _positive(resources.get("limits"))
        for name, amount in found.items():
            limits[name] = limits.get(name, Decimal(0)) + amount
        if not set(QOS_RESOURCES) <= set(found):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"
