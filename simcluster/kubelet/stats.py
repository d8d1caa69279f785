"""The kubelet's stats/summary (stats/v1alpha1 Summary) for one node.

Per pod: `podRef`, and `volume[]` (singular key, as the kubelet spells it) with capacity,
used and available bytes and inodes for PVCs (with `pvcRef`), emptyDirs and configMaps; an
emptyDir's used bytes are its own (the kubelet measures it with du), not its file system's.
EFS-like storage classes publish nothing, as the EFS CSI driver without
`--vol-metrics-opt-in` does. Usage is measured in a thread: it walks directories.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from simcluster.kubelet.usage import Usage, statvfs_usage, volume_stats_usage

if TYPE_CHECKING:
    from simcluster.kubelet.node import Kubelet


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fs(u: Usage, when: str) -> dict[str, Any]:
    return {
        "time": when,
        "availableBytes": u.available,
        "capacityBytes": u.capacity,
        "usedBytes": u.used,
        "inodesFree": u.inodes_free,
        "inodes": u.inodes,
        "inodesUsed": u.inodes_used,
    }


def summary(kubelet: Kubelet) -> dict[str, Any]:
    """Blocking: build the Summary document."""
    when = _now()
    root = statvfs_usage(kubelet.root, "/dev/root")
    pods = []
    for worker in list(kubelet.pods.values()):
        volumes = []
        for vol in worker.volumes.values():
            if vol.kind == "pvc" and "efs" in vol.storage_class.lower():
                continue
            try:
                u = volume_stats_usage(vol.mount("/"), kubelet.root)
            except OSError:
                continue
            entry = {**_fs(u, when), "name": vol.name}
            if vol.kind == "pvc":
                entry["pvcRef"] = {"name": vol.claim, "namespace": worker.namespace}
            volumes.append(entry)
        runs = [r for r in worker.containers.values() if not r.init and r.started]
        log_bytes = sum(r.logs.current.size for r in runs)
        containers: list[dict[str, Any]] = [
            {
                "name": run.name,
                "startTime": worker.start_time,
                "logs": {"time": when, "usedBytes": run.logs.current.size},
            }
            for run in runs
        ]
        pods.append(
            {
                "podRef": {"name": worker.name, "namespace": worker.namespace, "uid": worker.uid},
                "startTime": worker.start_time,
                "containers": containers,
                "volume": volumes,
                "ephemeral-storage": {
                    "time": when,
                    "availableBytes": root.available,
                    "capacityBytes": root.capacity,
                    "usedBytes": log_bytes,
                },
            }
        )
    return {
        "node": {
            "nodeName": kubelet.node_name,
            "systemContainers": [],
            "startTime": when,
            "fs": _fs(root, when),
            "runtime": {"imageFs": _fs(root, when)},
            "rlimit": {"time": when, "maxpid": os.cpu_count() or 1, "curproc": len(pods)},
        },
        "pods": pods,
    }


async def summary_async(kubelet: Kubelet) -> dict[str, Any]:
    return await asyncio.to_thread(summary, kubelet)
