"""The kubelet's side of volume expansion: growing the file system of a claim its pods mount.

Once the resizer has grown a volume (the claim `FileSystemResizePending`, state
NodeResizePending; see `simcluster.expansion`), the kubelet of a node where a pod mounts it
grows the file system online, as the EBS CSI node plugin does: the claim goes
NodeResizeInProgress, the tmpfs behind it is remounted at the volume's new size (or, without
root, only the reported size changes), `df` and stats/summary report it, and the kubelet
records `FileSystemResizeSuccessful` `MountVolume.NodeExpandVolume succeeded for volume
"pvc-…" NODE` on the pod and on the claim, then gives the claim its new `status.capacity`
with no resize condition left. A claim no pod mounts stays pending until one does: the
volume is then set up at its new size and the same steps finish the expansion at mount.

A remount that fails is recorded as Warning `VolumeResizeFailed` `MountVolume.NodeExpandVolume
failed for volume "pvc-…" : …` and leaves the claim pending; this kubelet does not try that
size again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from simcluster import expansion
from simcluster.errors import ApiError
from simcluster.events import record_event
from simcluster.kubelet.volumes import ResizeError
from simcluster.quantity import QuantityError, quantity_bytes
from simcluster.store import DELETED, WatchEvent

if TYPE_CHECKING:
    from simcluster.kubelet.node import Kubelet
    from simcluster.kubelet.pod import PodVolume, PodWorker

log = logging.getLogger("simcluster.kubelet")

Key = tuple[str, str]  # (namespace, claim)


def volume_size(store: Any, pvc: dict[str, Any]) -> int:
    """The bytes a claim's volume has: its PersistentVolume's capacity (which grows when it
    is expanded), else what the claim requests; 0 when neither says."""
    name = (pvc.get("spec") or {}).get("volumeName")
    pv = store.peek("persistentvolumes", None, name) if name else None
    size = expansion.pv_capacity(pv) if pv is not None else None
    if size is None:
        size = expansion.requested(pvc)
    return size or 0


class VolumeExpander:
    """One kubelet's node expansion of the claims its pods mount."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        self.store = kubelet.store
        self._running = False
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self._failed: dict[Key, int] = {}  # a size that could not be reached here

    def start(self) -> None:
        self._running = True
        self.store.add_listener(self._on_change)

    async def stop(self) -> None:
        self._running = False
        self.store.remove_listener(self._on_change)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def mounted(self, worker: PodWorker, volume: PodVolume) -> None:
        """A pod set a volume up: a claim waiting for its file system to grow gets it now."""
        if volume.kind == "pvc":
            self._consider(worker.namespace, volume.claim)

    def _on_change(self, plural: str, ev: WatchEvent) -> None:
        if plural != "persistentvolumeclaims" or ev.type == DELETED or not self._running:
            return
        if expansion.resize_state(ev.object) == expansion.NODE_PENDING:
            meta = ev.object["metadata"]
            self._consider(meta.get("namespace", ""), meta["name"])

    def _consider(self, namespace: str, claim: str) -> None:
        """Start expanding the claim's file system if it waits for that and a pod here has
        it mounted (listeners run inside store writes: the work runs as a task)."""
        key = (namespace, claim)
        if not self._running or key in self._tasks or not self._mounters(namespace, claim):
            return
        pvc = self.store.peek("persistentvolumeclaims", namespace, claim)
        if pvc is None or expansion.resize_state(pvc) != expansion.NODE_PENDING:
            return
        task = asyncio.get_running_loop().create_task(
            self._expand(key), name=f"expand {namespace}/{claim}"
        )
        self._tasks[key] = task
        task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    def _mounters(self, namespace: str, claim: str) -> list[PodWorker]:
        return [
            w
            for w in list(self.kubelet.pods.values())
            if w.namespace == namespace
            and not w.removed
            and any(v.kind == "pvc" and v.claim == claim for v in w.volumes.values())
        ]

    async def _expand(self, key: Key) -> None:
        try:
            await self._grow(key)
        except ApiError as exc:  # the claim went away meanwhile, or a conflict: next change
            log.debug("expanding %s/%s: %s", key[0], key[1], exc.message)

    async def _grow(self, key: Key) -> None:
        namespace, claim = key
        pvc = self.store.peek("persistentvolumeclaims", namespace, claim)
        if pvc is None or expansion.resize_state(pvc) != expansion.NODE_PENDING:
            return
        pv_name = str((pvc.get("spec") or {}).get("volumeName") or "")
        pv = self.store.peek("persistentvolumes", None, pv_name) if pv_name else None
        text = ((pv or {}).get("spec") or {}).get("capacity", {}).get("storage")
        try:
            size = quantity_bytes(str(text)) if text is not None else 0
        except QuantityError:
            size = 0
        if not size or self._failed.get(key) == size:
            return
        # Marked before any await, so another node's kubelet sees the work taken.
        self.store.mutate(
            "persistentvolumeclaims", namespace, claim, expansion.mark_node_in_progress
        )
        try:
            await self.kubelet.volumes.grow(namespace, claim, size)
        except ResizeError as exc:
            self._failed[key] = size
            self._report_failure(key, pv_name, str(exc))
            return
        mounters = self._mounters(namespace, claim)
        for worker in mounters:
            worker.volume_resized(claim, size)
        message = expansion.FS_RESIZE_SUCCESSFUL_MESSAGE.format(
            pv=pv_name, node=self.kubelet.node_name
        )
        if mounters:
            mounters[0].event(expansion.FS_RESIZE_SUCCESSFUL, message)

        def finish(o: dict[str, Any]) -> None:
            # Unless the claim was grown again meanwhile: the resizer owns it once more.
            if expansion.resize_state(o) == expansion.NODE_IN_PROGRESS:
                expansion.mark_finished(o, str(text))

        pvc = self.store.mutate("persistentvolumeclaims", namespace, claim, finish)
        record_event(
            self.store,
            pvc,
            expansion.FS_RESIZE_SUCCESSFUL,
            message,
            component="kubelet",
            host=self.kubelet.node_name,
        )

    def _report_failure(self, key: Key, pv_name: str, why: str) -> None:
        log.warning("expanding the file system of %s/%s failed: %s", key[0], key[1], why)
        message = f'MountVolume.NodeExpandVolume failed for volume "{pv_name}" : {why}'
        for worker in self._mounters(*key)[:1]:
            worker.event("VolumeResizeFailed", message, type="Warning")
        with contextlib.suppress(ApiError):
            self.store.mutate("persistentvolumeclaims", key[0], key[1], expansion.mark_node_pending)
