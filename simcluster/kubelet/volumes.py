"""Host directories behind pod volumes, shared by every kubelet of one cluster.

A PVC is `<root>/volumes/pvc-<namespace>-<claim>/`, shared by every pod that mounts it.
When running as root each PVC gets a tmpfs of its requested size mounted there (so a full
volume is a real ENOSPC), unmounted when the cluster's kubelets stop; otherwise the
capacity is only reported, and a warning says so once. EFS-like storage classes are never
size-limited (EFS is elastic). An emptyDir is `<root>/pods/<uid>/emptydir-<name>/`, removed
with its pod.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("simcluster.kubelet")

DEFAULT_PVC_SIZE = 1024**3


@dataclass(frozen=True)
class PvcVolume:
    host_path: Path
    capacity: int
    storage_class: str
    tmpfs: bool


def tmpfs_wanted() -> bool:
    """Root can mount tmpfs; SIMCLUSTER_TMPFS=0 turns it off (e.g. in a restricted container)."""
    return os.geteuid() == 0 and os.environ.get("SIMCLUSTER_TMPFS", "1") != "0"


class VolumeManager:
    """PVC and emptyDir directories, and the tmpfs mounts that make PVC sizes real."""

    def __init__(self, root: Path, use_tmpfs: bool | None = None) -> None:
        self.root = Path(root).resolve()
        self.use_tmpfs = tmpfs_wanted() if use_tmpfs is None else use_tmpfs
        self._pvcs: dict[tuple[str, str], PvcVolume] = {}
        self._mounted: list[Path] = []
        self._lock = asyncio.Lock()
        self._warned = False
        if not self.use_tmpfs:
            self._warn_unenforced("not running as root" if os.geteuid() else "tmpfs disabled")

    def _warn_unenforced(self, why: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "PVC capacity is reported but not enforced (%s): a full volume will not give "
                "ENOSPC; run as root for size-limited tmpfs volumes",
                why,
            )

    def pvc_path(self, namespace: str, claim: str) -> Path:
        return self.root / "volumes" / f"pvc-{namespace}-{claim}"

    async def pvc(self, namespace: str, claim: str, size: int, storage_class: str) -> PvcVolume:
        """The PVC's host dir, created (and size-limited when possible) on first use."""
        key = (namespace, claim)
        async with self._lock:
            vol = self._pvcs.get(key)
            if vol is not None:
                return vol
            path = self.pvc_path(namespace, claim)
            await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
            tmpfs = False
            if self.use_tmpfs and "efs" not in storage_class.lower():
                tmpfs = await asyncio.to_thread(self._mount_tmpfs, path, size or DEFAULT_PVC_SIZE)
            vol = PvcVolume(path, size, storage_class, tmpfs)
            self._pvcs[key] = vol
            return vol

    def _mount_tmpfs(self, path: Path, size: int) -> bool:
        if os.path.ismount(path):
            self._mounted.append(path)
            return True
        staged: Path | None = None
        if any(path.iterdir()):
            # Keep what is already there (e.g. a pre-seeded model): move it aside, copy back.
            staged = path.with_name(path.name + ".staged")
            path.rename(staged)
            path.mkdir()
        try:
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(path)],
                check=True,
                capture_output=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            if staged is not None:
                path.rmdir()
                staged.rename(path)
            self._warn_unenforced(f"mount failed: {exc}")
            return False
        self._mounted.append(path)
        if staged is not None:
            shutil.copytree(staged, path, dirs_exist_ok=True, symlinks=True)
            shutil.rmtree(staged)
        return True

    def emptydir_path(self, pod_uid: str, name: str) -> Path:
        return self.root / "pods" / pod_uid / f"emptydir-{name}"

    def pod_dir(self, pod_uid: str) -> Path:
        return self.root / "pods" / pod_uid

    async def emptydir(self, pod_uid: str, name: str) -> Path:
        path = self.emptydir_path(pod_uid, name)
        await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
        return path

    async def remove_pod(self, pod_uid: str) -> None:
        """Drop a pod's own directories (emptyDirs, config files, scratch)."""
        await asyncio.to_thread(shutil.rmtree, self.pod_dir(pod_uid), True)

    async def close(self) -> None:
        """Unmount every tmpfs this manager mounted (their content goes with them)."""
        mounted, self._mounted = self._mounted, []
        self._pvcs.clear()
        for path in reversed(mounted):
            await asyncio.to_thread(_umount, path)


def _umount(path: Path) -> None:
    try:
        subprocess.run(["umount", "-l", str(path)], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not unmount %s: %s", path, exc)
