"""The volume binder: provisions a PersistentVolume for each pending claim and binds them,
and holds a claim in Terminating while a pod still uses it (kubernetes.io/pvc-protection).

Dynamic provisioning as a CSI driver does it: the PV is named `pvc-<claim uid>`, has the
claim's size, access modes and storage class, and is deleted with the claim when its
reclaim policy is Delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from simcluster.controllers.base import Controller, Key
from simcluster.events import record_event
from simcluster.store import WatchEvent

PROTECTION = "kubernetes.io/pvc-protection"
COMPONENT = "persistentvolume-controller"


def provisioner_for(storage_class: str) -> str:
    return "efs.csi.aws.com" if "efs" in storage_class else "simcluster.local/hostpath"


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

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "persistentvolumeclaims":
            if ev.type == "DELETED":
                self._release(ev.object)
                return ()
            return super().keys_for(plural, ev)
        if plural == "pods" and (
            ev.type == "DELETED"
            or (ev.object.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        ):
            ns = ev.object["metadata"].get("namespace", "")
            return [(ns, c) for c in claims_of(ev.object)]
        return ()

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
        self._bind(pvc)
        return None

    def _in_use(self, key: Key) -> bool:
        for pod in self.store.list("pods", key[0], copy=False)[0]:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            if key[1] in claims_of(pod):
                return True
        return False

    def _bind(self, pvc: dict[str, Any]) -> None:
        spec, meta = pvc.get("spec") or {}, pvc["metadata"]
        storage_class = spec.get("storageClassName") or "standard"
        size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        pv_name = spec.get("volumeName") or f"pvc-{meta['uid']}"
        provisioner = provisioner_for(storage_class)
        if self.store.peek("persistentvolumes", None, pv_name) is None:
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
                        "csi": {"driver": provisioner, "volumeHandle": pv_name},
                    },
                    "status": {"phase": "Bound"},
                },
            )
            record_event(
                self.store,
                pvc,
                "ProvisioningSucceeded",
                f"Successfully provisioned volume {pv_name}",
                component=f"{provisioner}_simcluster",
            )
        pv = self.store.peek("persistentvolumes", None, pv_name)
        capacity = ((pv or {}).get("spec") or {}).get("capacity", {}).get("storage", size)
        modes = ((pv or {}).get("spec") or {}).get("accessModes") or spec.get("accessModes") or []

        def bind(o: dict[str, Any]) -> None:
            o["spec"]["volumeName"] = pv_name
            o["spec"].setdefault("storageClassName", storage_class)
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
