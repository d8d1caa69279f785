"""Per-container log buffers, bounded by bytes like a kubelet's rotated log files.

A container's stdout and stderr land here line by line, each stamped with the time it was
written, bytes exactly as written (`\\r` kept). As with a container runtime, a line is
released when its newline arrives, or in 16 KiB pieces when it is longer. One previous
instance is kept per container for `previous=true`. `follow` waits for new lines and
ends when the instance ends.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
MAX_PARTIAL = 16 * 1024


@dataclass(frozen=True)
class LogLine:
    seq: int
    ts_ns: int
    data: bytes

    def render(self, timestamps: bool) -> bytes:
        if not timestamps:
            return self.data
        return rfc3339nano(self.ts_ns).encode() + b" " + self.data


def rfc3339nano(ts_ns: int) -> str:
    """Kubelet's fixed nine-digit form: 2026-01-01T10:00:00.123456789Z."""
    secs, nanos = divmod(ts_ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{nanos:09d}Z"
    )


class LogBuffer:
    """One container instance's log: a byte-bounded deque of lines plus a closed flag."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lines: deque[LogLine] = deque()
        self._size = 0
        self._seq = 0
        self._partial = bytearray()
        self.closed = False
        self._changed = asyncio.Event()

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        """Append output; complete lines become visible at once."""
        if self.closed or not data:
            return
        self._partial += data
        changed = False
        while True:
            nl = self._partial.find(b"\n")
            if nl < 0:
                break
            self._append(bytes(self._partial[: nl + 1]))
            del self._partial[: nl + 1]
            changed = True
        while len(self._partial) >= MAX_PARTIAL:
            self._append(bytes(self._partial[:MAX_PARTIAL]))
            del self._partial[:MAX_PARTIAL]
            changed = True
        if changed:
            self._notify()

    def close(self) -> None:
        """The instance ended: release a trailing partial line and end followers."""
        if self.closed:
            return
        if self._partial:
            self._append(bytes(self._partial))
            self._partial.clear()
        self.closed = True
        self._notify()

    def _append(self, data: bytes) -> None:
        self._seq += 1
        self._lines.append(LogLine(self._seq, time.time_ns(), data))
        self._size += len(data)
        while self._size > self.max_bytes and len(self._lines) > 1:
            self._size -= len(self._lines.popleft().data)

    def _notify(self) -> None:
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    def lines(self) -> list[LogLine]:
        return list(self._lines)

    def select(self, tail: int | None = None, since_ns: int | None = None) -> list[LogLine]:
        out = self.lines()
        if since_ns is not None:
            out = [line for line in out if line.ts_ns >= since_ns]
        if tail is not None:
            out = out[-tail:] if tail > 0 else []
        return out

    async def follow(self, after_seq: int) -> AsyncIterator[LogLine]:
        """Lines after `after_seq`, waiting for more until the instance ends."""
        last = after_seq
        while True:
            waiter = self._changed
            fresh = [line for line in self._lines if line.seq > last]
            for line in fresh:
                last = line.seq
                yield line
            if self.closed and not any(line.seq > last for line in self._lines):
                return
            if not fresh:
                await waiter.wait()


class ContainerLogs:
    """The current and the previous instance of one container."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.current = LogBuffer(max_bytes)
        self.previous: LogBuffer | None = None
        self.started = False

    def new_instance(self) -> LogBuffer:
        """A restart: the current log becomes `previous` (if it ran) and a fresh one starts."""
        if self.started:
            self.current.close()
            self.previous = self.current
            self.current = LogBuffer(self.max_bytes)
        self.started = True
        return self.current
