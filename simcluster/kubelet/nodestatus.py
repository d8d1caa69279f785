"""What a kubelet posts about its own node: its four conditions, and the events a change of
its Ready condition brings, as v1.32's status setters write them.

One place for a node's first start, its reboot (`power.py`) and its container network going
and coming back (`network.py`): the conditions are healthy, except Ready, which is False with
the kubelet's reason while `kubelet.network_error` says why.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from simcluster.events import record_event
from simcluster.store import now_rfc3339

if TYPE_CHECKING:
    from simcluster.kubelet.node import Kubelet

# The conditions a healthy kubelet posts (type, status, reason, message).
HEALTHY = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
NOT_READY_REASON = "KubeletNotReady"


def conditions_wanted(not_ready: str | None) -> tuple[tuple[str, str, str, str], ...]:
    """The kubelet's conditions: healthy, or Ready False saying `not_ready` (its errors)."""
    if not_ready is None:
        return HEALTHY
    return (*HEALTHY[:-1], ("Ready", "False", NOT_READY_REASON, not_ready))


def post_node_status(kubelet: Kubelet, reboot: bool = False) -> dict[str, Any]:
    """Post the conditions (a transition time only where a status moved); a reboot also
    brings a new boot id. Returns the Node as stored."""
    now = now_rfc3339()
    wanted = conditions_wanted(kubelet.network_error)

    def apply(node: dict[str, Any]) -> None:
        status = node.setdefault("status", {})
        old = {c.get("type"): c for c in status.get("conditions") or []}
        conds = []
        for ctype, value, reason, message in wanted:
            prev = old.pop(ctype, None) or {}
            moved = prev.get("status") != value
            conds.append(
                {
                    "type": ctype,
                    "status": value,
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now if moved else prev.get("lastTransitionTime", now),
                    "reason": reason,
                    "message": message,
                }
            )
        status["conditions"] = conds + list(old.values())
        if reboot:
            status.setdefault("nodeInfo", {})["bootID"] = str(uuid.uuid4())

    node: dict[str, Any] = kubelet.store.mutate("nodes", None, kubelet.node_name, apply)
    return node


def record_ready_change(kubelet: Kubelet, ready: bool) -> None:
    """The kubelet's own event for its Ready condition's change ("Node NAME status is now:
    NodeReady" or "... NodeNotReady"), on the Node."""
    word = "NodeReady" if ready else "NodeNotReady"
    record_node_event(kubelet, word, f"Node {kubelet.node_name} status is now: {word}")


def record_node_event(kubelet: Kubelet, reason: str, message: str, type: str = "Normal") -> None:
    record_event(kubelet.store, node_ref(kubelet.node_name), reason, message, type,
                 host=kubelet.node_name)  # fmt: skip


def node_ref(name: str) -> dict[str, Any]:
    """How a kubelet names its Node in events: the node's name stands in for its uid."""
    return {"apiVersion": "v1", "kind": "Node", "name": name, "uid": name}
