"""The volume binder: provisions a PersistentVolume for each pending claim and binds them,
and holds a claim in Terminating while a scheduled pod still uses it
(kubernetes.io/pvc-protection).

Dynamic provisioning as a CSI driver does it: the PV is named `pvc-<claim uid>`, has the
claim's size, access modes and storage class, is served by the class's provisioner, and is
deleted with the claim when its reclaim policy is Delete.

A claim is only provisioned when its StorageClass exists (see `simcluster.storageclasses`).
Naming a class that does not exist leaves it Pending with the PV controller's Warning
`ProvisioningFailed` `storageclass.storage.k8s.io "NAME" not found`, recorded again at every
periodic sync (`retry`, the controller's 15 s `--pvclaimbinder-sync-period`) so its count
grows; a claim with `storageClassName: ""` gets `FailedBinding` instead. A class created
later is noticed at once (a real controller binds at its next sync, within 15 s). A claim
without a class gets the default class, as the DefaultStorageClass admission plugin (or, for
one created before there was a default, the controller) gives it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable
from typing import Any

from simcluster.controllers.base import Controller, Key
from simcluster.events import record_event
from simcluster.storageclasses import csi_driver, default_class, find
from simcluster.store import WatchEvent

PROTECTION = "kubernetes.io/pvc-protection"
COMPONENT = "persistentvolume-controller"
SYNC_PERIOD = 15.0  # kube-controller-manager --pvclaimbinder-sync-period


def volume_handle(driver: str, pv_name: str) -> str:
    """The id the driver gives a new volume (an EBS volume id for EBS, else the PV's name)."""
    if driver == "ebs.csi.aws.com":
        return "vol-" + hashlib.sha256(pv_name.encode()).hexdigest()[:17]
    return pv_name


def class_not_found(name: str) -> str:
    """The error the controller's StorageClass lister gives, as its event carries it."""
    return f'storageclass.storage.k8s.io "{name}" not found'


def claims_of(pod: dict[str, Any]) -> list[str]:
    return [
        v["persistentVolumeClaim"]["claimName"]
        for v in (pod.get("spec") or {}).get("volumes") or []
        if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)
    ]


class VolumeBinder(Controller):
    name = "volume-binder"
    plural = "persistentvolumeclaims"
    resync = 2.0
    retry = SYNC_PERIOD  # how often a claim that cannot be provisioned is tried again

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self._next_try: dict[Key, float] = {}  # a failing claim's next periodic sync

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "storageclasses" and ev.type != "DELETED":
            return self._unbound()
        if plural == "persistentvolumeclaims":
            if ev.type == "DELETED":
                self._release(ev.object)
                meta = ev.object["metadata"]
                self._next_try.pop((meta.get("namespace", ""), meta["name"]), None)
                return ()
            return super().keys_for(plural, ev)
        if plural == "pods" and (
            ev.type == "DELETED"
            or (ev.object.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        ):
            ns = ev.object["metadata"].get("namespace", "")
            return [(ns, c) for c in claims_of(ev.object)]
        return ()

    def _unbound(self) -> list[Key]:
        return [
            (c["metadata"].get("namespace", ""), c["metadata"]["name"])
            for c in self.store.list("persistentvolumeclaims", copy=False)[0]
            if (c.get("status") or {}).get("phase") != "Bound"
        ]

    def resync_keys(self) -> Iterable[Key]:
        """Claims being deleted (their pods may have gone); unbound ones retry on their own."""
        return [
            (c["metadata"].get("namespace", ""), c["metadata"]["name"])
            for c in self.store.list("persistentvolumeclaims", copy=False)[0]
            if c["metadata"].get("deletionTimestamp")
        ]

    def _release(self, pvc: dict[str, Any]) -> None:
        """A claim is gone: delete its volume (reclaim policy Delete) or mark it Released.

        Deferred with call_soon because listeners run inside the store write.
        """
        name = (pvc.get("spec") or {}).get("volumeName")
        if name:
            asyncio.get_running_loop().call_soon(self._reclaim, name)

    def _reclaim(self, name: str) -> None:
        pv = self.store.peek("persistentvolumes", None, name)
        if pv is None:
            return
        if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
            self.store.delete("persistentvolumes", None, name)
        else:
            self.store.mutate(
                "persistentvolumes",
                None,
                name,
                lambda o: o.__setitem__("status", {"phase": "Released"}),
            )

    def reconcile(self, key: Key) -> float | None:
        pvc = self.store.peek("persistentvolumeclaims", key[0], key[1])
        if pvc is None:
            return None
        meta = pvc["metadata"]
        if meta.get("deletionTimestamp"):
            if PROTECTION in (meta.get("finalizers") or []) and not self._in_use(key):
                self.store.mutate(
                    "persistentvolumeclaims",
                    key[0],
                    key[1],
                    lambda o: o["metadata"].__setitem__(
                        "finalizers",
                        [f for f in o["metadata"].get("finalizers") or [] if f != PROTECTION],
                    ),
                )
            return None
        if PROTECTION not in (meta.get("finalizers") or []):
            self.store.mutate(
                "persistentvolumeclaims",
                key[0],
                key[1],
                lambda o: o["metadata"].__setitem__(
                    "finalizers", [*(o["metadata"].get("finalizers") or []), PROTECTION]
                ),
            )
        if (pvc.get("status") or {}).get("phase") == "Bound":
            return None
        return self._bind(pvc)

    def _in_use(self, key: Key) -> bool:
        """A scheduled pod uses the claim (the pvc-protection controller ignores pods that no
        kubelet has seen: an unschedulable pod does not hold its claim)."""
        for pod in self.store.list("pods", key[0], copy=False)[0]:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            if (pod.get("spec") or {}).get("nodeName") and key[1] in claims_of(pod):
                return True
        return False

    def _resolve(self, pvc: dict[str, Any]) -> dict[str, Any] | None:
        """The claim's StorageClass (the default one for a claim without), if it exists."""
        name = (pvc.get("spec") or {}).get("storageClassName")
        if name is None:
            return default_class(self.store)
        return find(self.store, str(name))

    def _unprovisionable(self, pvc: dict[str, Any]) -> None:
        """Record why the claim cannot be provisioned, as the PV controller's sync does."""
        name = (pvc.get("spec") or {}).get("storageClassName")
        if not name:
            record_event(
                self.store,
                pvc,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
                component=COMPONENT,
            )
            return
        record_event(
            self.store,
            pvc,
            "ProvisioningFailed",
            class_not_found(str(name)),
            type="Warning",
            component=COMPONENT,
        )

    def _bind(self, pvc: dict[str, Any]) -> float | None:
        spec, meta = pvc.get("spec") or {}, pvc["metadata"]
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        pv_name = spec.get("volumeName") or f"pvc-{meta['uid']}"
        existing = self.store.peek("persistentvolumes", None, pv_name)
        if existing is not None and spec.get("volumeName"):
            # Bound by name to a volume that is there: no class needed.
            storage_class = str((existing.get("spec") or {}).get("storageClassName") or "")
            provisioner = (existing["metadata"].get("annotations") or {}).get(
                "pv.kubernetes.io/provisioned-by", ""
            )
        else:
            key = (meta["namespace"], meta["name"])
            now = time.monotonic()
            sc = self._resolve(pvc)
            if sc is None:
                due = self._next_try.get(key, 0.0)
                if now < due:
                    return due - now  # an update between two syncs: the next sync says it again
                self._unprovisionable(pvc)
                self._next_try[key] = now + self.retry
                return self.retry
            self._next_try.pop(key, None)
            storage_class = sc["metadata"]["name"]
            provisioner = str(sc.get("provisioner") or "")
        driver = csi_driver(provisioner)
        if existing is None:
            self.store.create(
                "persistentvolumes",
                {
                    "metadata": {
                        "name": pv_name,
                        "annotations": {"pv.kubernetes.io/provisioned-by": provisioner},
                    },
                    "spec": {
                        "capacity": {"storage": size},
                        "accessModes": list(spec.get("accessModes") or []),
                        "persistentVolumeReclaimPolicy": "Delete",
                        "storageClassName": storage_class,
                        "volumeMode": spec.get("volumeMode", "Filesystem"),
                        "claimRef": {
                            "kind": "PersistentVolumeClaim",
                            "namespace": meta["namespace"],
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "apiVersion": "v1",
                            "resourceVersion": meta["resourceVersion"],
                        },
                        "csi": {"driver": driver, "volumeHandle": volume_handle(driver, pv_name)},
                    },
                    "status": {"phase": "Bound"},
                },
            )
            record_event(
                self.store,
                pvc,
                "ProvisioningSucceeded",
                f"Successfully provisioned volume {pv_name}",
                component=f"{driver}_simcluster",
            )
        pv = self.store.peek("persistentvolumes", None, pv_name)
        capacity = ((pv or {}).get("spec") or {}).get("capacity", {}).get("storage", size)
        modes = ((pv or {}).get("spec") or {}).get("accessModes") or spec.get("accessModes") or []

        def bind(o: dict[str, Any]) -> None:
            o["spec"]["volumeName"] = pv_name
            if o["spec"].get("storageClassName") is None:
                o["spec"]["storageClassName"] = storage_class
            ann = o["metadata"].setdefault("annotations", {})
            ann.update(
                {
                    "pv.kubernetes.io/bind-completed": "yes",
                    "pv.kubernetes.io/bound-by-controller": "yes",
                    "volume.beta.kubernetes.io/storage-provisioner": provisioner,
                    "volume.kubernetes.io/storage-provisioner": provisioner,
                }
            )
            o["status"] = {
                "phase": "Bound",
                "accessModes": list(modes),
                "capacity": {"storage": capacity},
            }

        self.store.mutate("persistentvolumeclaims", meta["namespace"], meta["name"], bind)
        return None
