"""One file's download in flight: the partial file, its completed ranges, its hash, its state.

Workers write chunks at their offsets with os.pwrite, then record them; the state file is
saved every CHECKPOINT_BYTES or CHECKPOINT_SECONDS, so a killed run refetches at most that.
The first fatal signal (an error, a changed validator, an ignored Range) stops every worker
of this file at its next chunk.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import Cancelled, DiskFull, DownloadError
from .layout import Layout
from .ranges import RangeSet
from .source import SPLICE_UNSUPPORTED, Remote, Source
from .space import NO_SPACE_ERRNOS, disk_full
from .state import CHECKPOINT_BYTES, CHECKPOINT_SECONDS, PartState, save_state
from .stopflag import StopFlag
from .tails import RunningPieces
from .verify import PrefixHasher


@dataclass(frozen=True)
class FileInfo:
    """What the workers and the progress ticker need to know about the file."""

    name: str
    url: str
    layout: Layout


def open_partial(layout: Layout) -> int:
    """Open (create) the partial file for positional writes; never through a symlink."""
    return os.open(layout.part, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)


def _drain(pipe: int, count: int) -> bytes:
    """Read exactly ``count`` bytes that are waiting in a pipe."""
    parts = []
    while count > 0:
        part = os.read(pipe, count)
        if not part:
            raise DownloadError("the splice pipe closed before its bytes were written")
        parts.append(part)
        count -= len(part)
    return b"".join(parts)


class Transfer:
    def __init__(
        self,
        info: FileInfo,
        source: Source,
        remote: Remote,
        completed: RangeSet,
        hasher: PrefixHasher | None,
        stop: StopFlag,
        hash_in_stream: bool = True,
    ) -> None:
        self.info = info
        self.source = source
        self.remote = remote
        self.hasher = hasher
        self.stop = stop
        self.fd = open_partial(info.layout)
        self._splice_ok = hasattr(os, "splice")
        # One connection hashes what it receives (the file is never read twice); with more,
        # every byte is spliced and the job thread's catch_up hashes from the page cache on
        # another core (1 GiB here: 1.1-1.4 s against 1.7-2.0 s hashing in the stream).
        self._hash_in_stream = hash_in_stream
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._completed = completed
        self._pending = 0
        self._unsaved = 0
        self._last_save = time.monotonic()
        self.active = 0
        self.fetched = 0
        self.failure: BaseException | None = None
        self.started = time.monotonic()
        self.pieces = RunningPieces()  # what the workers are fetching, for tail splitting
        # Called (outside the lock) by the worker whose piece leaves none running, so the next
        # piece of a one-connection download starts at once, not at the job thread's next tick.
        self.on_idle: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        return self.info.name

    # -- workers --------------------------------------------------------------------------
    def should_stop(self) -> bool:
        return self.failure is not None or self.stop.is_set()

    def check(self) -> None:
        """Raise Cancelled once this file's download is stopping."""
        if self.should_stop():
            raise Cancelled()

    def write(self, offset: int, data: bytes | memoryview) -> None:
        """Write one chunk at its offset (and hash it when it continues the hashed prefix)."""
        self.check()
        view = memoryview(data)
        pos = offset
        try:
            while view:
                n = os.pwrite(self.fd, view, pos)
                view = view[n:]
                pos += n
        except OSError as exc:
            raise self._write_error(exc) from None
        if self.hasher is not None:
            self.hasher.feed(offset, data)

    def splice_ok(self, offset: int) -> bool:
        """Bytes at ``offset`` may skip our memory unless they are to be hashed on the way."""
        if not self._splice_ok:
            return False
        return not (self._hash_in_stream and self.hasher is not None and offset == self.hasher.pos)

    def splice(self, pipe: int, offset: int, count: int) -> None:
        """Move ``count`` bytes waiting in ``pipe`` into the file at ``offset``.

        Out-of-order bytes are hashed later by catch_up, from the page cache. A filesystem
        that cannot take a splice gets these bytes written, and no splice again."""
        self.check()
        pos, end = offset, offset + count
        try:
            while pos < end:
                pos += os.splice(pipe, self.fd, end - pos, offset_dst=pos)
        except OSError as exc:
            if exc.errno not in SPLICE_UNSUPPORTED:
                raise self._write_error(exc) from None
            self._splice_ok = False
            self.write(pos, _drain(pipe, end - pos))

    def _write_error(self, exc: OSError) -> DownloadError:
        if exc.errno in NO_SPACE_ERRNOS:
            return self.disk_full_error()
        return DownloadError(f"cannot write {self.info.layout.part}: {exc.strerror or exc}")

    def disk_full_error(self) -> DiskFull:
        total = self.remote.size
        needed = (total - self.done_bytes()) if total is not None else 0
        return disk_full(self.name, self.info.layout.directory, max(needed, 0))

    def record(self, start: int, end: int) -> None:
        """Mark written bytes as complete; save the state at checkpoints."""
        if end <= start:
            return
        with self._lock:
            self._completed.add(start, end)
            self.fetched += end - start
            self._unsaved += end - start
            now = time.monotonic()
            if self._unsaved >= CHECKPOINT_BYTES or now - self._last_save >= CHECKPOINT_SECONDS:
                self._save_locked(now)

    def unrecord(self, start: int, end: int) -> None:
        """Forget bytes that turned out to be untrustworthy (an over-long body)."""
        with self._lock:
            self._completed.remove(start, end)
            self._save_locked(time.monotonic())

    def restart_from_zero(self) -> None:
        """For servers without ranges: a retry starts the whole body over."""
        with self._lock:
            self._completed.clear()
            self._save_locked(time.monotonic())
        if self.hasher is not None:
            self.hasher.reset()

    def worker_started(self) -> None:
        with self._lock:
            self.active += 1

    def worker_stopped(self) -> None:
        with self._lock:
            self.active -= 1

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.failure is None:
                self.failure = exc

    # -- bookkeeping ----------------------------------------------------------------------
    def _save_locked(self, now: float) -> None:
        remote = self.remote
        state = PartState(
            url=self.info.url,
            size=remote.size,
            etag=remote.etag,
            last_modified=remote.last_modified,
            ranges=tuple(self._completed.intervals()),
        )
        try:
            save_state(self.info.layout.state, state)
        except OSError as exc:
            if exc.errno in NO_SPACE_ERRNOS:
                if self.failure is None:
                    self.failure = disk_full(self.name, self.info.layout.directory, 0)
                return
            raise
        self._unsaved = 0
        self._last_save = now

    def save(self) -> None:
        with self._lock:
            self._save_locked(time.monotonic())

    def done_bytes(self) -> int:
        with self._lock:
            return self._completed.covered()

    def prefix_end(self) -> int:
        with self._lock:
            return self._completed.prefix_end()

    def missing(self) -> list[tuple[int, int]]:
        with self._lock:
            return self._completed.missing(self.remote.size or 0)

    def task_added(self) -> None:
        with self._lock:
            self._pending += 1

    def pending(self) -> int:
        """Pieces of this file queued or running."""
        with self._lock:
            return self._pending

    def task_done(self) -> None:
        with self._lock:
            self._pending -= 1
            idle = self._pending <= 0
        hook = self.on_idle
        if idle and hook is not None:
            hook()  # may submit the next piece
        with self._lock:
            if self._pending <= 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no piece of this file is queued or running."""
        with self._lock:
            if self._pending > 0:
                self._idle.wait(timeout)
            return self._pending <= 0

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError as exc:
            if exc.errno != errno.EBADF:
                raise
