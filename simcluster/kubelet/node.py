"""The node agent: runs the pods the scheduler binds to its node.

It follows the store's pod changes through a listener (synchronous, on the store's loop, so
no change is missed between the initial list and the first event), starts a `PodWorker`
for each pod bound to its node, hands it newer versions (a deletionTimestamp starts a
graceful stop), and forgets it once the pod is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

from simcluster.controllers.nodelifecycle import UNKNOWN_MESSAGE
from simcluster.errors import ApiError
from simcluster.kubelet.eviction import EvictionManager
from simcluster.kubelet.expand import VolumeExpander
from simcluster.kubelet.logs import DEFAULT_MAX_BYTES
from simcluster.kubelet.pod import PodWorker
from simcluster.kubelet.pull import KUBELET_RETRY, ImagePuller
from simcluster.kubelet.registry import agents
from simcluster.store import DELETED, WatchEvent, now_rfc3339

log = logging.getLogger("simcluster.kubelet")

LEASE_RENEW_INTERVAL = 10.0  # a real kubelet renews its Lease every 10 s


class Kubelet:
    """One simulated node's kubelet. `await start()`, `await stop()`."""

    def __init__(self, cluster: Any, node_name: str, log_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.cluster = cluster
        self.node_name = node_name
        self.store = cluster.store
        self.log_bytes = log_bytes
        shared = agents(cluster)
        self.root = shared.root
        self.volumes = shared.volumes
        self.images = shared.images
        # How long a failed pod sync waits before the next (10 s on a real node); the image
        # pull back-off starts there too. SimCluster(kubelet_retry=...) shortens it for tests.
        self.retry = float(getattr(cluster, "kubelet_retry", KUBELET_RETRY))
        self.puller = ImagePuller(self.images, self.retry)
        self.pods: dict[str, PodWorker] = {}
        digest = hashlib.sha256(node_name.encode()).digest()
        self.host_ip = f"10.0.{digest[0]}.{digest[1] % 250 + 2}"
        self._ip_prefix = f"10.{digest[2] % 200 + 20}.{digest[3]}"
        self._next_ip = 2
        self._running = False
        # False while the machine is off (`power.py`): nothing it does reaches the API.
        self.powered = True
        # Why the container runtime's network is not ready, while it is not (`network.py`):
        # the node is NotReady and no pod sandbox or container starts here; None when it is.
        self.network_error: str | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._reaping: set[asyncio.Task[None]] = set()
        self.eviction = EvictionManager(self)
        self.expander = VolumeExpander(self)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        agents(self.cluster).kubelets[self.node_name] = self
        self._ensure_node("True")
        self._running = True
        pods, _ = self.store.list("pods", field_selector=f"spec.nodeName={self.node_name}")
        self.store.add_listener(self._on_change)
        for pod in pods:
            self._on_pod(pod)
        self.eviction.start()
        self.expander.start()
        self.start_heartbeat()

    async def stop(self) -> None:
        """Stop every pod's programs at once; unmount PVCs when this was the last kubelet."""
        if not self._running and self.powered:
            return
        was_powered = self.powered
        await self.halt()
        shared = agents(self.cluster)
        shared.kubelets.pop(self.node_name, None)
        if was_powered:
            with contextlib.suppress(ApiError):
                self._ensure_node("Unknown")
        if not shared.kubelets:
            await shared.volumes.close()

    async def halt(self) -> None:
        """Stop watching, heartbeats and every pod's programs (the pods' API objects stay)."""
        if not self._running:
            return
        self._running = False
        self.store.remove_listener(self._on_change)
        await self.stop_heartbeat()
        await self.eviction.stop()
        await self.expander.stop()
        workers = list(self.pods.values())
        await asyncio.gather(*(w.kill() for w in workers), return_exceptions=True)
        # Reaping a deleted pod is short (kill, remove its directories): let it finish rather
        # than cancel it halfway, which would leave its worker's tasks unawaited.
        await asyncio.gather(*self._reaping, return_exceptions=True)

    def resume(self) -> None:
        """Watch our pods again after `halt` (the caller has dealt with the old ones)."""
        self._running = True
        self.store.add_listener(self._on_change)
        self.eviction.start()
        self.expander.start()
        self.start_heartbeat()

    # -- heartbeats ---------------------------------------------------------------------------

    def start_heartbeat(self) -> None:
        """Renew our heartbeat (a real kubelet's Lease renewal) a few times per grace period."""
        beats = getattr(self.cluster, "heartbeats", None)
        if beats is None:  # a bare kubelet (tests) with no node lifecycle controller
            return
        grace = float(getattr(self.cluster, "node_monitor_grace", LEASE_RENEW_INTERVAL * 4))
        interval = min(LEASE_RENEW_INTERVAL, grace / 4)
        beats.beat(self.node_name)

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval)
                beats.beat(self.node_name)

        self._heartbeat = asyncio.get_running_loop().create_task(
            beat(), name=f"heartbeat {self.node_name}"
        )

    async def stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None

    def _ensure_node(self, ready: str) -> None:
        """Create our Node if nobody did and say whether it is Ready."""
        if self.store.peek("nodes", None, self.node_name) is None:
            self.store.create(
                "nodes",
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": self.node_name,
                        "labels": {"kubernetes.io/hostname": self.node_name},
                    },
                    "spec": {},
                    "status": {},
                },
            )
        host_ip = self.host_ip
        reason = "KubeletReady" if ready == "True" else "NodeStatusUnknown"
        message = "kubelet is posting ready status"
        if ready != "True":
            message = UNKNOWN_MESSAGE

        def apply(node: dict[str, Any]) -> None:
            status = node.setdefault("status", {})
            old = status.get("conditions") or []
            conds = [c for c in old if c.get("type") != "Ready"]
            prev = next((c for c in old if c.get("type") == "Ready"), None)
            if prev is not None and prev.get("status") == ready:
                conds.append(prev)
            else:
                now = now_rfc3339()
                conds.append(
                    {
                        "type": "Ready",
                        "status": ready,
                        "reason": reason,
                        "message": message,
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                    }
                )
            status["conditions"] = conds
            status.setdefault("addresses", [
                {"type": "InternalIP", "address": host_ip},
                {"type": "Hostname", "address": self.node_name},
            ])  # fmt: skip
            status.setdefault("nodeInfo", {"kubeletVersion": "v1.32.0", "kubeProxyVersion": ""})

        self.store.mutate("nodes", None, self.node_name, apply)

    # -- pods -----------------------------------------------------------------------------

    def _on_change(self, plural: str, event: WatchEvent) -> None:
        if plural != "pods" or not self._running:
            return
        pod = event.object
        if (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return
        if event.type == DELETED:
            worker = self.pods.pop(pod["metadata"]["uid"], None)
            if worker is not None:
                worker.removed = True
                task = asyncio.ensure_future(self._reap(worker))
                self._reaping.add(task)
                task.add_done_callback(self._reaping.discard)
            return
        self._on_pod(pod)

    def _on_pod(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        worker = self.pods.get(uid)
        if worker is None:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                return  # already finished before this kubelet started
            worker = PodWorker(self, pod, self._allocate_ip())
            self.pods[uid] = worker
            worker.start()
            if pod["metadata"].get("deletionTimestamp"):
                worker.update(pod)
            return
        worker.update(pod)

    async def _reap(self, worker: PodWorker) -> None:
        self.puller.forget(worker.uid)
        await worker.kill()
        await self.volumes.remove_pod(worker.uid)

    def _allocate_ip(self) -> str:
        ip = f"{self._ip_prefix}.{self._next_ip}"
        self._next_ip = self._next_ip + 1 if self._next_ip < 254 else 2
        return ip

    def find(self, namespace: str, name: str) -> PodWorker | None:
        for w in self.pods.values():
            if w.namespace == namespace and w.name == name:
                return w
        return None
