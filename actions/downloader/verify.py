"""SHA-256 of model files: a whole-file pass for `verify`, and a hasher that follows a download.

The follower hashes bytes as they are written when they arrive in file order (one worker:
no second read of the file) and reads back from the page cache only what arrived out of order.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .errors import Cancelled

READ_BLOCK = 1 << 20
PROGRESS_EVERY = 1.0

ProgressFn = Callable[[int, int], None]


def hash_file(
    path: Path,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[str, int]:
    """(sha256 hex, size) of a file, reporting progress about once a second."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        total = os.fstat(fd).st_size
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        buf = bytearray(READ_BLOCK)
        view = memoryview(buf)
        done = 0
        last = time.monotonic()
        if on_progress:
            on_progress(0, total)
        while True:
            n = os.readv(fd, [buf])
            if n <= 0:
                break
            digest.update(view[:n])
            done += n
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY:
                last = now
                if should_stop and should_stop():
                    raise Cancelled()
                if on_progress:
                    on_progress(done, total)
        if on_progress:
            on_progress(done, max(total, done))
        return digest.hexdigest(), done
    finally:
        os.close(fd)


class PrefixHasher:
    """SHA-256 of ``[0, pos)`` of a file being written at arbitrary offsets.

    A chunk that continues the hashed prefix is hashed as it is written, by the thread that
    wrote it (one worker: the file is never read twice); chunks that arrived out of order, or
    were spliced into the file without passing through us, are read back from the page cache
    by `catch_up`. Handing chunks to a hashing thread measured slower than either: the
    hand-off costs more CPU than the overlap saves.
    """

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._lock = threading.Lock()
        self.pos = 0  # end of the bytes hashed

    @property
    def accepted(self) -> int:
        return self.pos

    def reset(self) -> None:
        with self._lock:
            self._digest = hashlib.sha256()
            self.pos = 0

    def feed(self, offset: int, data: bytes | memoryview) -> None:
        """Hash ``data`` if it continues the prefix; otherwise catch_up will read it back."""
        if offset != self.pos:
            return
        with self._lock:
            if offset == self.pos:
                self._digest.update(data)
                self.pos = offset + len(data)

    def catch_up(
        self,
        fd: int,
        upto: int,
        should_stop: Callable[[], bool] | None = None,
        budget: float | None = None,
    ) -> None:
        """Read back and hash ``[pos, upto)`` (bytes already written), within ``budget`` s."""
        started = time.monotonic()
        while True:
            start = self.pos
            if start >= upto:
                return
            data = os.pread(fd, min(READ_BLOCK, upto - start), start)
            if not data:
                raise OSError(f"partial file is shorter than expected ({start} < {upto} bytes)")
            self.feed(start, data)
            if should_stop and should_stop():
                raise Cancelled()
            if budget is not None and time.monotonic() - started >= budget:
                return

    def finish(
        self,
        fd: int,
        total: int,
        on_progress: ProgressFn | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> str:
        """Hash whatever is left up to ``total`` and return the hex digest."""
        last = 0.0
        while self.pos < total:
            self.catch_up(fd, total, should_stop=should_stop, budget=PROGRESS_EVERY / 4)
            now = time.monotonic()
            if on_progress and now - last >= PROGRESS_EVERY:
                last = now
                on_progress(self.pos, total)
        with self._lock:
            return self._digest.hexdigest()
