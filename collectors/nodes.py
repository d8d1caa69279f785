"""Whether the nodes our pods run on still answer: a node whose kubelet stopped posting its
status (power, network) takes its pods' downloads with it, while the API keeps showing them
as they last were. Read per node, only for nodes that host our pods; a role that may not
read nodes (they are cluster-scoped) gets a view without this.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from collectors import kube
from collectors.model import NodeLost
from collectors.units import format_duration

if TYPE_CHECKING:
    from collectors.cluster import Cluster

UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


@dataclass(frozen=True)
class NodeHealth:
    name: str
    ready: str  # the Ready condition's status: True | False | Unknown
    reason: str = ""
    message: str = ""
    since: float | None = None  # when Ready last changed
    unreachable: bool = False  # the node controller tainted it node.kubernetes.io/unreachable

    @property
    def lost(self) -> bool:
        """The kubelet no longer reports: what the API shows of its pods is old news."""
        return self.ready == "Unknown" or self.unreachable


def node_health(obj: Mapping[str, Any]) -> NodeHealth:
    conditions = kube.dig(obj, "status", "conditions")
    ready: Mapping[str, Any] = next(
        (c for c in conditions or () if isinstance(c, Mapping) and c.get("type") == "Ready"), {}
    )
    taints = kube.dig(obj, "spec", "taints") or ()
    return NodeHealth(
        name=kube.name_of(obj),
        ready=str(ready.get("status") or "Unknown"),
        reason=str(ready.get("reason") or ""),
        message=str(ready.get("message") or ""),
        since=kube.timestamp(ready.get("lastTransitionTime")),
        unreachable=any(
            isinstance(t, Mapping) and t.get("key") == UNREACHABLE_TAINT for t in taints
        ),
    )


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
