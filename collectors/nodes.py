"""Whether the nodes our pods run on still answer, and say they are Ready.

A node whose kubelet stopped posting its status (power, network) takes its pods' downloads
with it, while the API keeps showing them as they last were: lost. One whose kubelet answers
but says NotReady (its container runtime or network is broken) keeps its pods running, but
nothing new is scheduled there and the taint manager evicts its pods once their toleration
of the not-ready taint runs out. Read per node, only for nodes that host our pods; a role
that may not read nodes (they are cluster-scoped) gets a view without this.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from collectors import kube
from collectors.model import NodeLost, NodeNotReady
from collectors.units import format_duration

if TYPE_CHECKING:
    from collectors.cluster import Cluster

UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"


@dataclass(frozen=True)
class NodeHealth:
    name: str
    # The Ready condition's status: True | False | Unknown; "" while the node has none (its
    # kubelet has not reported yet: no news, not bad news).
    ready: str
    reason: str = ""
    message: str = ""
    since: float | None = None  # when Ready last changed
    unreachable: bool = False  # the node controller tainted it node.kubernetes.io/unreachable
    # When the node controller tainted it not-ready:NoExecute: the taint manager's clock.
    not_ready_tainted_at: float | None = None
    cordoned: bool = False  # spec.unschedulable

    @property
    def takes_pods(self) -> bool:
        """The scheduler may place a new pod here (as far as its health goes)."""
        return self.ready == "True" and not self.cordoned and not self.unreachable

    @property
    def lost(self) -> bool:
        """The kubelet no longer reports: what the API shows of its pods is old news."""
        return self.ready == "Unknown" or self.unreachable

    @property
    def not_ready(self) -> bool:
        """The kubelet answers and says NotReady: its pods run on, until they are evicted."""
        return self.ready == "False" and not self.lost


def node_health(obj: Mapping[str, Any]) -> NodeHealth:
    ready = kube.condition(obj, "Ready")
    taints = [t for t in kube.dig(obj, "spec", "taints") or () if isinstance(t, Mapping)]
    not_ready = next(
        (t for t in taints if t.get("key") == NOT_READY_TAINT and t.get("effect") == "NoExecute"),
        None,
    )
    cond = ready or {}
    return NodeHealth(
        name=kube.name_of(obj),
        ready="" if ready is None else str(cond.get("status") or "Unknown"),
        reason=str(cond.get("reason") or ""),
        message=str(cond.get("message") or ""),
        since=kube.timestamp(cond.get("lastTransitionTime")),
        unreachable=any(t.get("key") == UNREACHABLE_TAINT for t in taints),
        not_ready_tainted_at=kube.timestamp((not_ready or {}).get("timeAdded")),
        cordoned=bool(kube.dig(obj, "spec", "unschedulable")),
    )


def tolerated_for(pod: Mapping[str, Any], key: str, effect: str = "NoExecute") -> float | None:
    """How long the pod tolerates the node controller's taint ``key`` (it has no value), as
    the taint manager reads its tolerations: seconds (0: not at all), or None for ever. The
    shortest among the tolerations that match wins; one without seconds tolerates for ever."""
    tolerations = kube.dig(pod, "spec", "tolerations") or ()
    seconds = [
        t.get("tolerationSeconds")
        for t in tolerations
        if isinstance(t, Mapping) and _tolerates(t, key, effect)
    ]
    if not seconds:
        return 0.0
    limited = [float(s) for s in seconds if s is not None]
    return max(min(limited), 0.0) if limited else None


def _tolerates(toleration: Mapping[str, Any], key: str, effect: str) -> bool:
    """core/v1 Toleration.ToleratesTaint, for a taint with no value."""
    if toleration.get("effect") not in (None, "", effect):
        return False
    if toleration.get("key") not in (None, "", key):
        return False
    if (toleration.get("operator") or "Equal") == "Exists":
        return True
    return bool(toleration.get("key")) and not toleration.get("value")


def node_lost(node: NodeHealth, now: float) -> NodeLost:
    """What a pod's evidence says of its lost node: which, what the node controller said, and
    for how long."""
    said = node.message.rstrip(".") or node.reason or f"Ready is {node.ready}"
    for_how_long = f" for {format_duration(now - node.since)}" if node.since else ""
    sentence = (
        f"node {node.name} is unreachable{for_how_long} ({said}): what the API shows of this "
        "pod is its last report"
    )
    return NodeLost(node.name, node.since, sentence)


def node_not_ready(node: NodeHealth, tolerated: float | None, now: float) -> NodeNotReady:
    """What a pod's evidence says of its NotReady node: which, what its kubelet said, for how
    long, and when this pod is evicted (``tolerated``: its toleration, see ``tolerated_for``)."""
    why = node.message.rstrip(".") or node.reason or "Ready is False"
    for_how_long = f" for {format_duration(now - node.since)}" if node.since else ""
    left: float | None = None
    if tolerated is None:
        after = "this pod tolerates it: it stays until the node recovers"
    else:
        start = node.not_ready_tainted_at or node.since or now
        left = max(0.0, start + tolerated - now)
        after = (
            f"this pod is evicted in {format_duration(left)} unless the node recovers"
            if left > 0
            else "this pod's toleration has run out: it is being evicted"
        )
    sentence = f"node {node.name} is NotReady{for_how_long} ({why}): {after}"
    return NodeNotReady(node.name, node.since, why, left, sentence)


class NodeReader:
    """Reads the nodes our pods run on; gives up for good on a 403 (the view goes on)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.forbidden: str | None = None  # why nodes cannot be read, once known

    def read(self, names: Collection[str]) -> dict[str, NodeHealth]:
        out: dict[str, NodeHealth] = {}
        for name in sorted(names):
            if self.forbidden is not None:
                break
            try:
                data = self.cluster.get_json(self.cluster.core.read_node, name)
            except ApiException as exc:
                if exc.status == 403:
                    self.forbidden = self.cluster.describe_error(
                        exc, "get", "nodes", namespaced=False
                    )
                continue  # 404: gone (its pods go too); other errors: the next poll
            except Exception:  # noqa: S112 - unreachable API: the next poll asks again
                continue
            if isinstance(data, Mapping):
                out[name] = node_health(data)
        return out
