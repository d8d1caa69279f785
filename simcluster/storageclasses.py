"""StorageClasses: the ones every simulated cluster starts with, and what a class implies.

A real cluster knows which classes exist from its StorageClass objects, and so does the
simulator: a claim naming a class that has no object stays Pending (the PV controller's
`ProvisioningFailed`, `storageclass.storage.k8s.io "NAME" not found`). So that the scenarios
and tests written before classes were served keep working, each cluster is created with the
classes an EKS cluster running the Lightning ASR chart has:

| class | provisioner | why it is there |
| --- | --- | --- |
| `standard` (default) | `simcluster.local/hostpath` | a claim without a class, as kind's default |
| `gp2` | `kubernetes.io/aws-ebs` | EKS's own class (EBS, in-tree name, served by the CSI driver) |
| `gp3` | `ebs.csi.aws.com` | the class EBS users add; block storage, one node at a time |
| `models-aws-efs-sc` | `efs.csi.aws.com` | the class the chart creates for its shared model claim |

A scenario adds others with StorageClass objects (`apiVersion: storage.k8s.io/v1`), and may
delete these. Every built-in class binds at once (`volumeBindingMode: Immediate`), as the
simulator always did; EKS's own gp2/gp3 examples wait for the first consumer instead.
"""

from __future__ import annotations

from typing import Any

from simcluster.errors import ApiError

DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
HOSTPATH = "simcluster.local/hostpath"

# Provisioner names whose volumes are served by another (CSI) driver: in-tree names migrated.
MIGRATED = {
    "kubernetes.io/aws-ebs": "ebs.csi.aws.com",
    "kubernetes.io/gce-pd": "pd.csi.storage.gke.io",
}
# CSI drivers whose volumes are attached to a node by the attach/detach controller before the
# kubelet can mount them (CSIDriver attachRequired: true). EFS, NFS-like drivers and local
# host paths are mounted directly: no attach, and so no Multi-Attach error.
ATTACHABLE = frozenset({"ebs.csi.aws.com", "pd.csi.storage.gke.io", "disk.csi.azure.com"})


def _class(
    name: str,
    provisioner: str,
    parameters: dict[str, str],
    *,
    default: bool = False,
    expand: bool = False,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if default:
        meta["annotations"] = {DEFAULT_ANNOTATION: "true"}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": meta,
        "provisioner": provisioner,
        "parameters": parameters,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": expand,
    }


BUILTIN: tuple[dict[str, Any], ...] = (
    _class("standard", HOSTPATH, {}, default=True),
    _class("gp2", "kubernetes.io/aws-ebs", {"type": "gp2", "fsType": "ext4"}),
    _class("gp3", "ebs.csi.aws.com", {"type": "gp3", "fsType": "ext4"}, expand=True),
    _class(
        "models-aws-efs-sc",
        "efs.csi.aws.com",
        {
            "provisioningMode": "efs-ap",
            "fileSystemId": "fs-0123456789abcdef0",
            "directoryPerms": "700",
        },
        labels={"app.kubernetes.io/instance": "smallest-self-host"},
    ),
)


def install_builtin(store: Any) -> None:
    """Create the built-in classes a new cluster starts with (those not there already)."""
    for sc in BUILTIN:
        if store.peek("storageclasses", None, sc["metadata"]["name"]) is None:
            try:
                store.create("storageclasses", sc)
            except ApiError:
                continue


def find(store: Any, name: str) -> dict[str, Any] | None:
    return store.peek("storageclasses", None, name) if name else None


def default_class(store: Any) -> dict[str, Any] | None:
    """The class a claim without one gets (the newest of several defaults, as the API does)."""
    marked = [
        sc
        for sc in store.list("storageclasses", copy=False)[0]
        if (sc["metadata"].get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true"
    ]
    if not marked:
        return None
    return max(
        marked, key=lambda sc: (sc["metadata"].get("creationTimestamp", ""), sc["metadata"]["name"])
    )


def csi_driver(provisioner: str) -> str:
    """The driver that serves a provisioner's volumes (in-tree names map to their CSI driver)."""
    return MIGRATED.get(provisioner, provisioner)


def attachable(driver: str) -> bool:
    return driver in ATTACHABLE


def binding_mode(sc: dict[str, Any] | None) -> str:
    return str((sc or {}).get("volumeBindingMode") or "Immediate")
