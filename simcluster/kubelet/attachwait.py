"""The kubelet's side of attaching: a block volume is mounted only once it is attached here.

A claim bound to a volume whose driver needs attaching (EBS-like, see
`simcluster.storageclasses`) is not mounted until the attach/detach controller lists it in
this Node's `status.volumesAttached`, as the real volume manager's
VerifyControllerAttachedVolume step waits. Meanwhile the pod stays Pending, its containers
waiting in `ContainerCreating` (`PodInitializing` for init containers), with no sandbox
(`PodReadyToStartContainers=False`) and no event from the kubelet: since 1.28 the kubelet
stays quiet when its 2m3s attach-and-mount wait runs out. With `mount_timeout_event` on
(see `KubeletSettings`) it records what kubelets up to 1.27 did at each timeout:
`FailedMount` "Unable to attach or mount volumes: unmounted volumes=[models], unattached
volumes=[models], failed to process volumes=[]: timed out waiting for the condition".
A Secret or ConfigMap volume whose SetUp keeps failing times out the same way.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from simcluster.controllers.attach import attached_to, unique_volume_name
from simcluster.kubelet.registry import agents

if TYPE_CHECKING:
    from simcluster.kubelet.pod import PodWorker

POLL = 0.3  # podAttachAndMountRetryInterval


class AttachWait:
    """One pod's wait for its volumes to be attached to its node."""

    def __init__(self, worker: PodWorker) -> None:
        self.worker = worker
        self.unattached: set[str] = set()
        self._since = time.monotonic()

    def ready(self, vol: dict[str, Any]) -> bool:
        """True when the pod volume needs no attaching or is attached to this node."""
        name = str(vol.get("name", ""))
        volume = self._attachable(vol)
        if volume is None or attached_to(self._node(), volume):
            self.unattached.discard(name)
            return True
        self.unattached.add(name)
        return False

    def _attachable(self, vol: dict[str, Any]) -> str | None:
        src = vol.get("persistentVolumeClaim")
        if not isinstance(src, dict):
            return None
        store = self.worker.store
        pvc = store.peek("persistentvolumeclaims", self.worker.namespace, src.get("claimName", ""))
        pv_name = ((pvc or {}).get("spec") or {}).get("volumeName")
        pv = store.peek("persistentvolumes", None, pv_name) if pv_name else None
        return unique_volume_name(pv) if pv is not None else None

    def _node(self) -> dict[str, Any] | None:
        return self.worker.store.peek("nodes", None, self.worker.kubelet.node_name)

    def tick(self, failing: Collection[str] = ()) -> None:
        """Called after each pass over the volumes: the (pre-1.28) timeout event, if due.

        `failing` are the volumes whose SetUp failed this pass (a missing Secret): they time
        out the same way. Their event, as those kubelets recorded it, lists every volume of
        the pod as unattached (they compared volume names that never matched).
        """
        settings = agents(self.worker.kubelet.cluster).settings
        now = time.monotonic()
        if not self.unattached and not failing:
            self._since = now
            return
        if now - self._since < settings.mount_timeout:
            return
        self._since = now
        if not settings.mount_timeout_event:
            return
        expected = [str(v.get("name", "")) for v in self.worker.spec.get("volumes") or []]
        unmounted = sorted(n for n in expected if n not in self.worker.volumes)
        unattached = sorted(set(self.unattached) | (set(expected) if failing else set()))
        self.worker._event(
            "FailedMount",
            f"Unable to attach or mount volumes: unmounted volumes=[{' '.join(unmounted)}], "
            f"unattached volumes=[{' '.join(unattached)}], failed to process volumes=[]: "
            "timed out waiting for the condition",
            type="Warning",
        )
