"""The attach/detach controller: attaches block volumes to the nodes whose pods use them.

Only volumes whose CSI driver needs attaching are its business (EBS-like drivers, see
`simcluster.storageclasses.ATTACHABLE`); EFS, host paths and emptyDirs are mounted by the
kubelet directly, as before. For those volumes it keeps, like kube-controller-manager's:

- the desired state: every (volume, node) some scheduled pod wants, a pod counting until it
  is finished (Succeeded/Failed) or is being deleted with no container running;
- the actual state: which nodes each volume is attached to, published on the Node as
  `status.volumesAttached` (`kubernetes.io/csi/<driver>^<volumeHandle>`), which is what the
  kubelet waits for before it mounts the volume;

and reconciles one to the other: detach what no pod wants any more, attach what is wanted.
A volume that allows one node only (neither ReadWriteMany nor ReadOnlyMany) and is attached
elsewhere is not attached: each pod waiting for it on the new node gets the Warning
`FailedAttachVolume` `Multi-Attach error for volume "pvc-…" Volume is already used by pod(s)
NAME[, NAME]` (pods of other namespaces are only counted), once per volume and node — the
real reconciler remembers it reported (`MultiAttachErrorReported`) and does not repeat it.
Once the holder is gone the volume is detached, attached to the waiting node
(`SuccessfulAttachVolume`), and the kubelet there mounts it. Attaching and detaching take no
time here (EBS takes seconds); the pods on one node share an attached volume.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simcluster.controllers.base import Controller, Key
from simcluster.controllers.volumes import claims_of
from simcluster.events import record_event
from simcluster.storageclasses import attachable
from simcluster.store import WatchEvent

COMPONENT = "attachdetach-controller"
KEY: Key = ("", "attach-detach")
MULTI_ATTACH_MODES = ("ReadWriteMany", "ReadOnlyMany")


def unique_volume_name(pv: dict[str, Any]) -> str | None:
    """`kubernetes.io/csi/<driver>^<handle>` for a volume that needs attaching, else None."""
    csi = (pv.get("spec") or {}).get("csi") or {}
    driver = str(csi.get("driver") or "")
    if not attachable(driver):
        return None
    return f"kubernetes.io/csi/{driver}^{csi.get('volumeHandle') or pv['metadata']['name']}"


def multi_attach_allowed(pv: dict[str, Any]) -> bool:
    modes = (pv.get("spec") or {}).get("accessModes") or []
    return any(m in modes for m in MULTI_ATTACH_MODES)


def wants_volumes(pod: dict[str, Any]) -> bool:
    """A scheduled pod still holds its volumes (the controller's DetermineVolumeAction)."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    if pod["metadata"].get("deletionTimestamp"):
        running = any(
            "running" in (cs.get("state") or {})
            for cs in (status.get("containerStatuses") or [])
            + (status.get("initContainerStatuses") or [])
        )
        return running
    return True


def _created(pod: dict[str, Any]) -> tuple[str, str]:
    return (pod["metadata"].get("creationTimestamp", ""), pod["metadata"]["name"])


class AttachDetachController(Controller):
    name = "attach-detach"
    plural = ""
    resync = 5.0

    def __init__(self, store: Any) -> None:
        super().__init__(store)
        self.attached: dict[str, set[str]] = {}  # unique volume name -> nodes
        self._reported: set[tuple[str, str]] = set()  # (volume, node) Multi-Attach told

    def start(self) -> None:
        super().start()
        self.enqueue(KEY)

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == "pods":
            return [KEY] if claims_of(ev.object) else ()
        if plural in ("persistentvolumeclaims", "persistentvolumes"):
            return [KEY]
        if plural == "nodes" and ev.type == "DELETED":
            return [KEY]
        return ()

    def resync_keys(self) -> Iterable[Key]:
        return [KEY]

    def reconcile(self, key: Key) -> float | None:
        desired, specs = self._desired()
        changed: set[str] = set()
        for volume, nodes in list(self.attached.items()):
            for node in sorted(nodes):
                if (volume, node) not in desired:
                    nodes.discard(node)  # detach: nothing on that node wants it any more
                    changed.add(node)
            if not nodes:
                del self.attached[volume]
        self._reported &= set(desired)
        for (volume, node), pods in desired.items():
            on = self.attached.setdefault(volume, set())
            if node in on:
                continue
            pv = specs[volume]
            elsewhere = sorted(on - {node})
            if elsewhere and not multi_attach_allowed(pv):
                if (volume, node) not in self._reported:
                    self._reported.add((volume, node))
                    self._report_multi_attach(pv, pods, volume, elsewhere, desired)
                continue
            on.add(node)
            changed.add(node)
            message = f'AttachVolume.Attach succeeded for volume "{pv["metadata"]["name"]}" '
            for pod in pods:
                record_event(
                    self.store, pod, "SuccessfulAttachVolume", message, component=COMPONENT
                )
        for node in sorted(changed):
            self._publish(node)
        return None

    def _desired(
        self,
    ) -> tuple[dict[tuple[str, str], list[dict[str, Any]]], dict[str, dict[str, Any]]]:
        """(volume, node) -> the pods there that want it (oldest first), and each volume's PV."""
        desired: dict[tuple[str, str], list[dict[str, Any]]] = {}
        specs: dict[str, dict[str, Any]] = {}
        pods = [p for p in self.store.list("pods", copy=False)[0] if wants_volumes(p)]
        for pod in sorted(pods, key=_created):
            ns = pod["metadata"].get("namespace", "")
            node = pod["spec"]["nodeName"]
            for claim in dict.fromkeys(claims_of(pod)):
                pvc = self.store.peek("persistentvolumeclaims", ns, claim)
                pv_name = ((pvc or {}).get("spec") or {}).get("volumeName")
                pv = self.store.peek("persistentvolumes", None, pv_name) if pv_name else None
                volume = unique_volume_name(pv) if pv is not None else None
                if pv is None or volume is None:
                    continue
                specs[volume] = pv
                desired.setdefault((volume, node), []).append(pod)
        return desired, specs

    def _report_multi_attach(
        self,
        pv: dict[str, Any],
        waiting: list[dict[str, Any]],
        volume: str,
        elsewhere: list[str],
        desired: dict[tuple[str, str], list[dict[str, Any]]],
    ) -> None:
        """reportMultiAttachError: one event per waiting pod, naming the pods that hold the
        volume in the waiting pod's namespace and only counting the others."""
        name = pv["metadata"]["name"]
        holders = [p for node in elsewhere for p in desired.get((volume, node), [])]
        for pod in waiting:
            if not holders:
                message = (
                    f'Multi-Attach error for volume "{name}" Volume is already exclusively '
                    "attached to one node and can't be attached to another"
                )
            else:
                ns = pod["metadata"].get("namespace", "")
                local = [
                    p["metadata"]["name"] for p in holders if p["metadata"].get("namespace") == ns
                ]
                others = len(holders) - len(local)
                if local:
                    detail = f"Volume is already used by pod(s) {', '.join(local)}"
                    if others:
                        detail += f" and {others} pod(s) in different namespaces"
                else:
                    detail = f"Volume is already used by {others} pod(s) in different namespaces"
                message = f'Multi-Attach error for volume "{name}" {detail}'
            record_event(
                self.store, pod, "FailedAttachVolume", message, type="Warning", component=COMPONENT
            )

    def _publish(self, node: str) -> None:
        """The node's status.volumesAttached, as the controller's node status updater writes it."""
        if self.store.peek("nodes", None, node) is None:
            return
        names = sorted(v for v, nodes in self.attached.items() if node in nodes)

        def write(o: dict[str, Any]) -> None:
            status = o.setdefault("status", {})
            if names:
                status["volumesAttached"] = [{"name": n, "devicePath": ""} for n in names]
            else:
                status.pop("volumesAttached", None)

        self.store.mutate("nodes", None, node, write)


def attached_to(node: dict[str, Any] | None, volume: str) -> bool:
    """Whether a Node reports the volume attached (what the kubelet checks before mounting)."""
    return any(
        v.get("name") == volume
        for v in ((node or {}).get("status") or {}).get("volumesAttached") or []
    )
