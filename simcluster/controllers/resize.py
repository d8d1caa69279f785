"""The expand controller and the external-resizer: a bound claim whose request outgrows its
volume gets the volume grown, as kube-controller-manager and a CSI driver's resizer sidecar
(EBS's, which expands online) do it.

1. The expand controller sees the request above the claim's capacity and, the volume being a
   CSI one, leaves it to the driver's resizer: Warning `ExternalExpanding` `waiting for an
   external controller to expand this PVC` (Normal `CSI migration enabled for
   kubernetes.io/aws-ebs; waiting for external resizer to expand the pvc` for an in-tree
   provisioner's volume).
2. The resizer marks the claim `Resizing` (ControllerResizeInProgress) and records `Resizing`
   `External resizer is resizing volume pvc-…`.
3. `step` seconds later (the backend modifying the volume; minutes on EBS) the volume's
   `spec.capacity` is the new size. A block volume's file system must then grow on the node:
   `FileSystemResizePending` (NodeResizePending) and `FileSystemResizeRequired`; the kubelet
   of a node where a pod mounts it finishes (`simcluster.kubelet.expand`). A file store
   (EFS-like) needs no node step: the claim gets its capacity at once, with
   `VolumeResizeSuccessful` `Resize volume succeeded`.

Which claims may grow is the API server's business (`simcluster.apiserver.pvcresize`).
"""

from __future__ import annotations

import time
from typing import Any

from simcluster import expansion
from simcluster.controllers.base import Controller, Key
from simcluster.events import record_event
from simcluster.storageclasses import MIGRATED

STEP = 0.3  # seconds the simulated storage backend takes to grow a volume


def needs_node_expansion(driver: str) -> bool:
    """A block volume's file system is grown by the node; a file store (EFS) has none to grow."""
    return "efs" not in driver.lower()


class VolumeResizer(Controller):
    name = "volume-resizer"
    plural = "persistentvolumeclaims"
    step = STEP

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self._done_at: dict[Key, float] = {}  # when the backend finishes a claim's volume

    def reconcile(self, key: Key) -> float | None:
        pvc = self.store.peek("persistentvolumeclaims", key[0], key[1])
        if pvc is None or pvc["metadata"].get("deletionTimestamp"):
            self._done_at.pop(key, None)
            return None
        if (pvc.get("status") or {}).get("phase") != "Bound":
            return None
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        pv = self.store.peek("persistentvolumes", None, pv_name) if pv_name else None
        want, have = expansion.requested(pvc), expansion.pv_capacity(pv) if pv else None
        if pv is None or want is None or have is None:
            return None
        if expansion.resize_state(pvc) == expansion.CONTROLLER_IN_PROGRESS:
            left = self._done_at.setdefault(key, time.monotonic() + self.step) - time.monotonic()
            if left > 0:
                return left
            self._done_at.pop(key, None)
            self._grow(pvc, pv)
            return None
        if want <= have:
            return None
        self._start(pvc, pv)
        self._done_at[key] = time.monotonic() + self.step
        return self.step

    @staticmethod
    def _driver(pv: dict[str, Any]) -> str:
        return str(((pv.get("spec") or {}).get("csi") or {}).get("driver") or "")

    def _start(self, pvc: dict[str, Any], pv: dict[str, Any]) -> None:
        provisioner = (pv["metadata"].get("annotations") or {}).get(
            "pv.kubernetes.io/provisioned-by", ""
        )
        if provisioner in MIGRATED:
            message = expansion.EXTERNAL_EXPANDING_MIGRATED.format(plugin=provisioner)
            kind = "Normal"
        else:
            message, kind = expansion.EXTERNAL_EXPANDING_CSI, "Warning"
        record_event(
            self.store,
            pvc,
            expansion.EXTERNAL_EXPANDING,
            message,
            type=kind,
            component=expansion.EXPAND_COMPONENT,
        )
        size = str(pvc["spec"]["resources"]["requests"]["storage"])
        meta = pvc["metadata"]
        pvc = self.store.mutate(
            "persistentvolumeclaims",
            meta["namespace"],
            meta["name"],
            lambda o: expansion.mark_controller_resize(o, size),
        )
        record_event(
            self.store,
            pvc,
            "Resizing",
            expansion.RESIZING_MESSAGE.format(pv=pv["metadata"]["name"]),
            component=expansion.RESIZER_COMPONENT.format(driver=self._driver(pv)),
        )

    def _grow(self, pvc: dict[str, Any], pv: dict[str, Any]) -> None:
        """The backend is done: the volume has the requested size."""
        size = str(pvc["spec"]["resources"]["requests"]["storage"])
        self.store.mutate(
            "persistentvolumes",
            None,
            pv["metadata"]["name"],
            lambda o: o["spec"].setdefault("capacity", {}).__setitem__("storage", size),
        )
        meta = pvc["metadata"]
        component = expansion.RESIZER_COMPONENT.format(driver=self._driver(pv))
        if needs_node_expansion(self._driver(pv)):
            pvc = self.store.mutate(
                "persistentvolumeclaims",
                meta["namespace"],
                meta["name"],
                expansion.mark_node_pending,
            )
            reason, message = expansion.FS_RESIZE_REQUIRED, expansion.FS_RESIZE_REQUIRED_MESSAGE
        else:
            pvc = self.store.mutate(
                "persistentvolumeclaims",
                meta["namespace"],
                meta["name"],
                lambda o: expansion.mark_finished(o, size),
            )
            reason = expansion.VOLUME_RESIZE_SUCCESSFUL
            message = expansion.VOLUME_RESIZE_SUCCESSFUL_MESSAGE
        record_event(self.store, pvc, reason, message, component=component)
