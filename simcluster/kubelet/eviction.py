"""The kubelet's eviction manager, for the one signal a pod brings on itself: an emptyDir
that outgrows its `sizeLimit`.

Every `eviction_interval` seconds (see `KubeletSettings`; a real kubelet looks every 10 s)
each running pod's emptyDir volumes are measured as stats/summary measures them (their own
disk usage, as du counts it). One over its limit gets the pod evicted the way
`emptyDirLimitEviction` does it:

1. a Warning `Evicted` event on the pod: `Usage of EmptyDir volume "models" exceeds the limit
   "20Gi". ` (the limit as the API prints the quantity; the trailing space is the kubelet's);
2. the pod's status: `phase: Failed`, `reason: Evicted`, that `message` (no
   DisruptionTarget condition: this eviction passes none);
3. its containers are stopped (`Killing` events) and end `terminated` with exit code 143 and
   reason `Error`, so `kubectl get pods` shows `Error` (it shows `Evicted` only until then);
4. its emptyDirs are removed, as the kubelet tears down a finished pod's volumes.

The pod object stays (Failed pods stay until deleted or garbage-collected) and its
ReplicaSet, which counts only active pods, creates a replacement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from simcluster.errors import ApiError
from simcluster.kubelet.registry import agents
from simcluster.kubelet.usage import volume_stats_usage
from simcluster.quantity import QuantityError, canonical_quantity, quantity_bytes

if TYPE_CHECKING:
    from simcluster.kubelet.node import Kubelet
    from simcluster.kubelet.pod import PodWorker

log = logging.getLogger("simcluster.kubelet")

REASON = "Evicted"
EMPTYDIR_MESSAGE = 'Usage of EmptyDir volume "{name}" exceeds the limit "{limit}". '
EXIT_CODE = 143  # stopped with SIGTERM


def emptydir_limits(spec: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(volume name, sizeLimit as written, bytes) of each emptyDir with a positive limit."""
    out = []
    for vol in spec.get("volumes") or []:
        src = vol.get("emptyDir") if isinstance(vol, dict) else None
        limit = (src or {}).get("sizeLimit") if isinstance(src, dict) else None
        if limit is None:
            continue
        try:
            size = quantity_bytes(str(limit))
        except QuantityError:
            continue
        if size > 0:
            out.append((str(vol.get("name", "")), str(limit), size))
    return out


class EvictionManager:
    """Looks at one kubelet's pods now and then and evicts those over an emptyDir limit."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"eviction {self.kubelet.node_name}"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(agents(self.kubelet.cluster).settings.eviction_interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("eviction manager on %s failed", self.kubelet.node_name)

    async def check(self) -> None:
        """One pass: evict each pod with an emptyDir over its limit."""
        for worker in list(self.kubelet.pods.values()):
            if worker.finished or worker.terminating or worker.removed:
                continue
            for name, limit, size in emptydir_limits(worker.spec):
                vol = worker.volumes.get(name)
                if vol is None or vol.kind != "emptydir":
                    continue
                try:
                    usage = await asyncio.to_thread(
                        volume_stats_usage, vol.mount("/"), self.kubelet.root
                    )
                except OSError:
                    continue
                if usage.used > size and not (worker.finished or worker.terminating):
                    message = EMPTYDIR_MESSAGE.format(name=name, limit=canonical_quantity(limit))
                    await evict(worker, message)
                    break


async def evict(worker: PodWorker, message: str) -> None:
    """Evict the pod as the kubelet's eviction manager does (see the module docstring)."""
    worker._event(REASON, message, type="Warning")
    worker.phase = "Failed"
    worker.finished = True

    def fail(pod: dict[str, Any]) -> None:
        status = pod.setdefault("status", {})
        status.update({"phase": "Failed", "reason": REASON, "message": message})

    with contextlib.suppress(ApiError):
        worker.pod = worker.store.mutate("pods", worker.namespace, worker.name, fail)
    running = [run for run in worker.containers.values() if run.running]
    for run in running:
        worker._event("Killing", f"Stopping container {run.name}", field_path=worker._path(run))
    await worker.kill()
    worker.terminating = False  # a later delete of the pod must still remove it
    for run in running:
        worker._terminated(run, EXIT_CODE, "Error")
        run.done = True
    with contextlib.suppress(ApiError):
        worker._publish()
    await worker.kubelet.volumes.remove_pod(worker.uid)
