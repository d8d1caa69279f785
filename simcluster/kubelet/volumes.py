"""Host directories behind pod volumes, shared by every kubelet of one cluster.

A PVC is `<root>/volumes/pvc-<namespace>-<claim>/`, shared by every pod that mounts it.
When running as root each PVC gets a tmpfs of its volume's size mounted there (so a full
volume is a real ENOSPC), remounted bigger when the claim is expanded (`grow`), unmounted
when the cluster's kubelets stop (lazily, with a warning, if something still holds it after
a short wait); otherwise the capacity is only reported, and a warning says so once. EFS-like
storage classes are never size-limited (EFS is elastic). An emptyDir is
`<root>/pods/<uid>/emptydir-<name>/`, removed with its pod.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("simcluster.kubelet")

DEFAULT_PVC_SIZE = 1024**3
UMOUNT_PATIENCE = 2.0  # seconds a busy tmpfs gets to be let go before it is detached lazily


class ResizeError(Exception):
    """A claim's file system could not be grown."""


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
        # Each claim's host dir is made once, in a thread: what is stored is that work.
        self._pvcs: dict[tuple[str, str], asyncio.Future[PvcVolume]] = {}
        self._mounted: list[Path] = []
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
        """The PVC's host dir, created (and size-limited when possible) on first use.

        The pod asking may be killed while the mount runs (its node stopping), but the thread
        mounting goes on regardless: the work is kept whole (shielded) and `close` waits for
        it, so that a mount cannot land after `close` and outlive the cluster.
        """
        key = (namespace, claim)
        making = self._pvcs.get(key)
        if making is None:
            path = self.pvc_path(namespace, claim)
            making = asyncio.ensure_future(
                asyncio.to_thread(self._make_pvc, path, size, storage_class)
            )
            making.add_done_callback(functools.partial(self._forget_failed, key))
            self._pvcs[key] = making
        volume = await asyncio.shield(making)
        if size > volume.capacity:  # the volume grew while no pod had it mounted
            grown = await self.grow(namespace, claim, size)
            volume = grown or volume
        return volume

    async def grow(self, namespace: str, claim: str, size: int) -> PvcVolume | None:
        """Grow a claim's file system to `size` bytes (a tmpfs is remounted bigger; without
        one only the reported capacity changes). None when no pod has set the claim up yet:
        it is made at its new size when one does. Raises ResizeError if the remount fails."""
        key = (namespace, claim)
        current = self._pvcs.get(key)
        if current is None:
            return None
        volume = await asyncio.shield(current)
        if size <= volume.capacity:
            return volume
        if self._pvcs.get(key) is not current:  # another grow started meanwhile: after it
            return await self.grow(namespace, claim, size)
        growing = asyncio.ensure_future(asyncio.to_thread(self._grow, volume, size))
        growing.add_done_callback(functools.partial(self._restore_failed, key, current))
        self._pvcs[key] = growing
        return await asyncio.shield(growing)

    def _grow(self, volume: PvcVolume, size: int) -> PvcVolume:
        if volume.tmpfs:
            try:
                subprocess.run(
                    ["mount", "-o", f"remount,size={size}", str(volume.host_path)],
                    check=True,
                    capture_output=True,
                    timeout=10,
                )
            except subprocess.CalledProcessError as exc:
                why = exc.stderr.decode(errors="replace").strip() or f"exit {exc.returncode}"
                raise ResizeError(f"mount -o remount,size={size} failed: {why}") from None
            except (OSError, subprocess.SubprocessError) as exc:
                raise ResizeError(f"mount -o remount,size={size} failed: {exc}") from None
        return dataclasses.replace(volume, capacity=size)

    def _restore_failed(
        self,
        key: tuple[str, str],
        before: asyncio.Future[PvcVolume],
        growing: asyncio.Future[PvcVolume],
    ) -> None:
        """A failed grow leaves the claim as it was, to be grown again later."""
        failed = growing.cancelled() or growing.exception() is not None
        if failed and self._pvcs.get(key) is growing:
            self._pvcs[key] = before

    def _make_pvc(self, path: Path, size: int, storage_class: str) -> PvcVolume:
        path.mkdir(parents=True, exist_ok=True)
        tmpfs = False
        if self.use_tmpfs and "efs" not in storage_class.lower():
            tmpfs = self._mount_tmpfs(path, size or DEFAULT_PVC_SIZE)
        return PvcVolume(path, size, storage_class, tmpfs)

    def _forget_failed(self, key: tuple[str, str], making: asyncio.Future[PvcVolume]) -> None:
        """A claim whose dir could not be made is tried again by the next pod."""
        failed = making.cancelled() or making.exception() is not None
        if failed and self._pvcs.get(key) is making:
            del self._pvcs[key]

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
        making = list(self._pvcs.values())
        self._pvcs.clear()
        if making:
            await asyncio.wait(making)  # mounts still under way land in _mounted first
        mounted, self._mounted = self._mounted, []
        for path in reversed(mounted):
            await asyncio.to_thread(_umount, path)


def _umount(path: Path) -> None:
    """Unmount, waiting a little for whatever still writes there (a pod's program cancelled a
    moment ago, a filler thread) to let go; detach it lazily if it does not, and say so."""
    deadline = time.monotonic() + UMOUNT_PATIENCE
    delay = 0.05
    while True:
        try:
            done = subprocess.run(["umount", str(path)], capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("could not unmount %s: %s", path, exc)
            return
        if done.returncode == 0 or not os.path.ismount(path):
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
    why = done.stderr.decode(errors="replace").strip() or f"umount exited {done.returncode}"
    holders = ", ".join(_holders(path)) or "no process found holding it"
    try:
        subprocess.run(["umount", "-l", str(path)], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not unmount %s (%s; %s): %s", path, why, holders, exc)
        return
    log.warning(
        "%s was still busy after %g s (%s; %s): detached it lazily (umount -l); its memory is "
        "freed once they let go",
        path,
        UMOUNT_PATIENCE,
        why,
        holders,
    )


def _holders(path: Path) -> list[str]:
    """Processes with a cwd or an open file under `path`, as 'pid N (name)'."""
    prefix = str(path) + os.sep
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        links = [f"/proc/{pid}/cwd"]
        try:
            links += [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")]
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue  # gone, or not ours to look at
        for link in links:
            try:
                target = os.readlink(link)
            except OSError:
                continue
            if target == str(path) or target.startswith(prefix):
                found.append(f"pid {pid} ({name})")
                break
    return found
