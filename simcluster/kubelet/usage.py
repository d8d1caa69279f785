"""How full a pod's volume is, measured the same way for `df`, `du` and stats/summary.

A tmpfs-backed PVC answers with statvfs (real capacity, real ENOSPC). Without root the
PVC's requested size is reported and usage is counted file by file. EFS-like classes
report the 8 EiB file system AWS EFS shows. Everything here blocks: call it in a thread.
"""

from __future__ import annotations

import dataclasses
import os
import stat as stat_mod
from dataclasses import dataclass
from pathlib import Path

from simcluster.kubelet.fs import Mount

EFS_SIZE = 9223372036854771712  # what `df -B1` prints on an EFS mount (8.0E)
MAX_WALK = 200_000  # entries; a runaway tree is reported as counted so far


@dataclass(frozen=True)
class TreeSize:
    apparent: int  # sum of st_size
    disk: int  # sum of st_blocks * 512
    inodes: int


@dataclass(frozen=True)
class Usage:
    filesystem: str
    capacity: int
    used: int
    available: int
    inodes: int
    inodes_used: int
    inodes_free: int


def tree_size(path: Path) -> TreeSize:
    """Sizes of everything under `path`, never following symlinks."""
    apparent = disk = count = 0
    stack = [path]
    while stack and count < MAX_WALK:
        p = stack.pop()
        try:
            st = os.lstat(p)
        except OSError:
            continue
        count += 1
        apparent += st.st_size
        disk += st.st_blocks * 512
        if stat_mod.S_ISDIR(st.st_mode):
            try:
                with os.scandir(p) as it:
                    stack.extend(Path(e.path) for e in it)
            except OSError:
                continue
    return TreeSize(apparent, disk, count)


def statvfs_usage(path: Path, name: str) -> Usage:
    vfs = os.statvfs(path)
    cap = vfs.f_blocks * vfs.f_frsize
    free = vfs.f_bfree * vfs.f_frsize
    avail = vfs.f_bavail * vfs.f_frsize
    return Usage(
        filesystem=name,
        capacity=cap,
        used=cap - free,
        available=avail,
        inodes=vfs.f_files,
        inodes_used=vfs.f_files - vfs.f_ffree,
        inodes_free=vfs.f_ffree,
    )


def mount_usage(mount: Mount | None, root: Path) -> Usage:
    """Usage of the file system a mount is on (None = the container's root overlay)."""
    if mount is None or mount.kind == "image":
        return statvfs_usage(root, "overlay")
    if mount.tmpfs:
        return statvfs_usage(mount.host_path, "tmpfs")
    if mount.kind == "pvc":
        size = tree_size(mount.host_path)
        host = os.statvfs(mount.host_path)
        if mount.is_efs:
            cap, name = EFS_SIZE, "127.0.0.1:/"
        else:
            cap = mount.capacity or host.f_blocks * host.f_frsize
            name = f"/dev/sim/{mount.claim or mount.volume}"
        inodes = max(host.f_files, size.inodes)
        return Usage(
            filesystem=name,
            capacity=cap,
            used=size.disk,
            available=max(0, cap - size.disk),
            inodes=inodes,
            inodes_used=size.inodes,
            inodes_free=inodes - size.inodes,
        )
    return statvfs_usage(mount.host_path, "/dev/root")


def volume_stats_usage(mount: Mount, root: Path) -> Usage:
    """What the kubelet's stats/summary says of a volume. An emptyDir on the node's disk is a
    directory, measured as the kubelet's du-based metrics do: its own bytes and inodes used,
    the file system's capacity and free space. Everything else as ``df`` sees it."""
    if mount.kind != "emptydir" or mount.tmpfs:
        return mount_usage(mount, root)
    size = tree_size(mount.host_path)
    fs = statvfs_usage(mount.host_path, "/dev/root")
    return dataclasses.replace(fs, used=size.disk, inodes_used=size.inodes)
