"""An exclusive per-file lock held with fcntl.flock, so that pods sharing a volume download once.

The kernel drops the lock when its holder dies (even by kill -9), so there is no stale lock
to clean up. The lock file keeps a one-line description of its holder for the others' `wait`
events; lock files are never deleted (deleting one would let two holders coexist).
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path


def holder_description() -> str:
    return f"pid {os.getpid()} on host {socket.gethostname()}"


class FileLock:
    """One exclusive flock on ``path``; `try_acquire` never blocks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free, and write our description into the file."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (holder_description() + "\n").encode(), 0)
        except OSError:
            pass  # the description is a courtesy; the lock itself is what matters
        return True

    def holder(self) -> str | None:
        """Who holds the lock, as the holder described itself (best effort)."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                text = fh.read(200).strip()
        except OSError:
            return None
        return text or None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
