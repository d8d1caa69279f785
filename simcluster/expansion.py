"""Volume expansion as a claim's status tells it: the words and status changes of the
expand controller, the external-resizer and the kubelet, kept here so that the controller
(`simcluster.controllers.resize`) and the kubelet (`simcluster.kubelet.expand`) tell the
same story.

1.32 runs with RecoverVolumeExpansionFailure (beta, on by default), so an expansion walks
`status.allocatedResourceStatuses["storage"]` through these states:

| who | allocated state | condition | event (on the claim unless said) |
| --- | --- | --- | --- |
| expand controller | - | - | `ExternalExpanding` |
| external-resizer | ControllerResizeInProgress | Resizing | `Resizing` |
| resizer, volume grown | NodeResizePending | FileSystemResizePending | `FileSystemResizeRequired` |
| kubelet, pod mounts it | NodeResizeInProgress | FileSystemResizePending | - |
| kubelet, fs grown | (removed) | (none) | `FileSystemResizeSuccessful` (pod, claim) |

A volume whose file system needs no growing on a node (an EFS-like file store) is finished
by the resizer itself with `VolumeResizeSuccessful` `Resize volume succeeded`.
"""

from __future__ import annotations

from typing import Any

from simcluster.quantity import QuantityError, quantity_bytes
from simcluster.store import now_rfc3339

STORAGE = "storage"
# allocatedResourceStatuses["storage"]
CONTROLLER_IN_PROGRESS = "ControllerResizeInProgress"
NODE_PENDING = "NodeResizePending"
NODE_IN_PROGRESS = "NodeResizeInProgress"
# condition types
RESIZING = "Resizing"
FS_RESIZE_PENDING = "FileSystemResizePending"
RESIZE_CONDITIONS = (RESIZING, FS_RESIZE_PENDING)
FS_RESIZE_PENDING_MESSAGE = (
    "Waiting for user to (re-)start a pod to finish file system resize of volume on node."
)

# Event reasons and messages.
EXTERNAL_EXPANDING = "ExternalExpanding"
EXTERNAL_EXPANDING_CSI = "waiting for an external controller to expand this PVC"
EXTERNAL_EXPANDING_MIGRATED = (
    "CSI migration enabled for {plugin}; waiting for external resizer to expand the pvc"
)
EXPAND_COMPONENT = "volume_expand"
RESIZER_COMPONENT = "external-resizer {driver}"
RESIZING_MESSAGE = "External resizer is resizing volume {pv}"
FS_RESIZE_REQUIRED = "FileSystemResizeRequired"
FS_RESIZE_REQUIRED_MESSAGE = "Require file system resize of volume on node"
VOLUME_RESIZE_SUCCESSFUL = "VolumeResizeSuccessful"
VOLUME_RESIZE_SUCCESSFUL_MESSAGE = "Resize volume succeeded"
FS_RESIZE_SUCCESSFUL = "FileSystemResizeSuccessful"
FS_RESIZE_SUCCESSFUL_MESSAGE = 'MountVolume.NodeExpandVolume succeeded for volume "{pv}" {node}'


def _bytes(values: Any) -> int | None:
    text = (values or {}).get(STORAGE) if isinstance(values, dict) else None
    if text is None:
        return None
    try:
        return quantity_bytes(str(text))
    except QuantityError:
        return None


def requested(pvc: dict[str, Any]) -> int | None:
    """spec.resources.requests.storage in bytes."""
    return _bytes(((pvc.get("spec") or {}).get("resources") or {}).get("requests"))


def capacity(pvc: dict[str, Any]) -> int | None:
    """status.capacity.storage in bytes: what the claim has now."""
    return _bytes((pvc.get("status") or {}).get("capacity"))


def pv_capacity(pv: dict[str, Any]) -> int | None:
    """The volume's spec.capacity.storage in bytes: what the storage backend gave it."""
    return _bytes((pv.get("spec") or {}).get("capacity"))


def resize_state(pvc: dict[str, Any]) -> str:
    statuses = (pvc.get("status") or {}).get("allocatedResourceStatuses") or {}
    return str(statuses.get(STORAGE) or "")


def _set_conditions(status: dict[str, Any], *conditions: dict[str, Any]) -> None:
    """Replace the resize conditions, keeping a kept type's lastTransitionTime (as
    MergeResizeConditionOnPVC does) and any other condition untouched."""
    old = {c.get("type"): c for c in status.get("conditions") or []}
    kept = [c for c in status.get("conditions") or [] if c.get("type") not in RESIZE_CONDITIONS]
    for cond in conditions:
        prev = old.get(cond["type"])
        if prev is not None and prev.get("status") == cond["status"]:
            cond["lastTransitionTime"] = prev.get("lastTransitionTime", cond["lastTransitionTime"])
        kept.append(cond)
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def _condition(kind: str, message: str = "") -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": kind,
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": now_rfc3339(),
    }
    if message:
        cond["message"] = message
    return cond


def _set_state(status: dict[str, Any], state: str | None) -> None:
    statuses = dict(status.get("allocatedResourceStatuses") or {})
    if state is None:
        statuses.pop(STORAGE, None)
    else:
        statuses[STORAGE] = state
    if statuses:
        status["allocatedResourceStatuses"] = statuses
    else:
        status.pop("allocatedResourceStatuses", None)


def mark_controller_resize(pvc: dict[str, Any], size: str) -> None:
    """The resizer starts: Resizing, and the size it is after in allocatedResources."""
    status = pvc.setdefault("status", {})
    _set_conditions(status, _condition(RESIZING))
    _set_state(status, CONTROLLER_IN_PROGRESS)
    status["allocatedResources"] = {STORAGE: size}


def mark_node_pending(pvc: dict[str, Any]) -> None:
    """The volume grew; its file system must grow on the node that mounts it."""
    status = pvc.setdefault("status", {})
    _set_conditions(status, _condition(FS_RESIZE_PENDING, FS_RESIZE_PENDING_MESSAGE))
    _set_state(status, NODE_PENDING)


def mark_node_in_progress(pvc: dict[str, Any]) -> None:
    _set_state(pvc.setdefault("status", {}), NODE_IN_PROGRESS)


def mark_finished(pvc: dict[str, Any], size: str) -> None:
    """Done: the claim has the new size and no resize condition or state is left."""
    status = pvc.setdefault("status", {})
    status["capacity"] = {**(status.get("capacity") or {}), STORAGE: size}
    _set_conditions(status)
    _set_state(status, None)
