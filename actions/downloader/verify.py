"""SHA-256 of model files: a whole-file pass for `verify`, and a hasher that follows a download.

The follower hashes bytes as they are written when they arrive in file order (one worker:
no second read of the file) and reads back from the page cache only what arrived out of order.
"""

from __future__ import annotations

import collections
import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .errors import Cancelled

READ_BLOCK = 1 << 20
PROGRESS_EVERY = 1.0
HASH_QUEUE_BYTES = 8 << 20  # at most this much waits for the hashing thread

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

    Chunks that continue the accepted prefix are queued as they are written and hashed by a
    thread of its own, so hashing overlaps the download on another core and a single worker's
    file is never read twice; chunks that arrived out of order are read back by `catch_up`.
    """

    def __init__(self, max_queued: int = HASH_QUEUE_BYTES) -> None:
        self._digest = hashlib.sha256()
        self._lock = threading.Lock()  # orders feeds: only the prefix's continuation is taken
        self._cond = threading.Condition()  # guards the queue and its byte count
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._max_queued = max_queued
        self._closed = False
        self._accepted = 0  # end of the bytes queued or hashed
        self.pos = 0  # end of the bytes hashed
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                data = self._queue[0]
            self._digest.update(data)  # releases the GIL: hashing runs beside the download
            with self._cond:
                self._queue.popleft()
                self._queued -= len(data)
                self.pos += len(data)
                self._cond.notify_all()

    def _put(self, data: bytes) -> None:
        """Queue bytes for the hashing thread; bounded, so a slow hasher slows the writer."""
        with self._cond:
            while self._queued > self._max_queued and not self._closed:
                self._cond.wait()
            self._queue.append(data)
            self._queued += len(data)
            self._cond.notify_all()

    def _drain(self) -> None:
        with self._cond:
            while self._queue:
                self._cond.wait()

    @property
    def accepted(self) -> int:
        return self._accepted

    def reset(self) -> None:
        with self._lock:
            self._drain()
            self._digest = hashlib.sha256()
            self._accepted = self.pos = 0

    def feed(self, offset: int, data: bytes) -> None:
        """Queue ``data`` for hashing if it continues the prefix; otherwise catch_up reads it."""
        if offset != self._accepted:
            return
        with self._lock:
            if offset == self._accepted:
                self._put(data)
                self._accepted = offset + len(data)

    def catch_up(
        self,
        fd: int,
        upto: int,
        should_stop: Callable[[], bool] | None = None,
        budget: float | None = None,
    ) -> None:
        """Read back and queue ``[accepted, upto)`` (bytes already written), within ``budget`` s."""
        started = time.monotonic()
        while True:
            start = self._accepted
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
        while self._accepted < total:
            self.catch_up(fd, total, should_stop=should_stop, budget=PROGRESS_EVERY / 4)
            now = time.monotonic()
            if on_progress and now - last >= PROGRESS_EVERY:
                last = now
                on_progress(self.pos, total)
        self._drain()
        return self._digest.hexdigest()

    def close(self) -> None:
        """Stop the hashing thread (after what is queued)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
