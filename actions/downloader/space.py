"""Free space on the download's file system, for a clear disk-full message before and during."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from collectors.units import format_bytes

from .errors import DiskFull

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def free_bytes(directory: Path) -> int | None:
    """Bytes an unprivileged writer may still use there (None when unknown)."""
    try:
        st = os.statvfs(directory)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def disk_full(name: str, directory: Path, needed: int) -> DiskFull:
    """The error for a download that needs ``needed`` more bytes than ``directory`` has."""
    free = free_bytes(directory)
    free_text = "unknown" if free is None else format_bytes(free)
    return DiskFull(
        f"no space left for {name} in {directory}: {format_bytes(needed)} more needed, "
        f"{free_text} free; the partial download is kept for a later resume"
    )


def check_space(name: str, directory: Path, needed: int) -> None:
    """Fail early when the file system plainly cannot hold the rest of the download."""
    free = free_bytes(directory)
    if free is not None and needed > free:
        raise disk_full(name, directory, needed)
