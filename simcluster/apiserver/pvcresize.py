"""The PersistentVolumeClaimResize admission plugin: a claim may only grow when the
StorageClass that provisioned it has `allowVolumeExpansion: true`.

It runs after validation (so a shrink or a Pending claim's new request is a 422 first) and
refuses with 403 what kube-apiserver refuses: `persistentvolumeclaims "NAME" is forbidden:
only dynamically provisioned pvc can be resized and the storageclass that provisions the
pvc must support resize`. That covers a claim without a class (`storageClassName: ""`, a
statically bound volume), one whose class is gone, and one whose class does not allow it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simcluster import errors
from simcluster.expansion import requested
from simcluster.storageclasses import find

if TYPE_CHECKING:
    from simcluster.store import Store

BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
NOT_EXPANDABLE = (
    "only dynamically provisioned pvc can be resized and the storageclass that provisions "
    "the pvc must support resize"
)


def claim_class(pvc: dict[str, Any]) -> str:
    """The claim's class as the API helper reads it: the beta annotation first."""
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    if BETA_CLASS_ANNOTATION in annotations:
        return str(annotations[BETA_CLASS_ANNOTATION])
    return str((pvc.get("spec") or {}).get("storageClassName") or "")


def _may_grow(store: Store, new: dict[str, Any], old: dict[str, Any]) -> bool:
    name = claim_class(new)
    if not name or name != claim_class(old):
        return False
    sc = find(store, name)
    return bool(sc is not None and sc.get("allowVolumeExpansion"))


def admit_pvc_resize(store: Store, plural: str, new: dict[str, Any], old: dict[str, Any]) -> None:
    """Refuse a bigger request the claim's StorageClass does not allow (403 Forbidden)."""
    if plural != "persistentvolumeclaims":
        return
    new_size, old_size = requested(new), requested(old)
    if new_size is None or old_size is None or new_size <= old_size:
        return
    if not _may_grow(store, new, old):
        name = str(new["metadata"].get("name", ""))
        raise errors.ApiError(
            403,
            "Forbidden",
            f'persistentvolumeclaims "{name}" is forbidden: {NOT_EXPANDABLE}',
            {"name": name, "kind": "persistentvolumeclaims"},
        )
