"""When each node's kubelet was last heard from: the simulator's stand-in for the Lease a
real kubelet renews in `kube-node-lease` every 10 s (the simulator serves no Leases).

Kubelets `beat`; the node lifecycle controller reads `silence` to decide when a node has
gone quiet for longer than its grace period. Times are monotonic seconds.
"""

from __future__ import annotations

import time


class NodeHeartbeats:
    """The last heartbeat of each node, by name."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def beat(self, node: str) -> None:
        self._last[node] = time.monotonic()

    def silence(self, node: str) -> float:
        """Seconds since the node's kubelet last beat; 0 for one never heard of (the real
        controller starts its clock when it first sees a node)."""
        last = self._last.get(node)
        if last is None:
            self._last[node] = time.monotonic()
            return 0.0
        return time.monotonic() - last

    def forget(self, node: str) -> None:
        self._last.pop(node, None)
