"""How many connections one file gets: one while one is fast, all workers once one is slow.

Extra connections pay only when each is capped (S3, CDNs: N connections give N x cap); on an
uncapped link one connection already fills the pipe and more only add CPU work (measured on
2 cores, 1 GiB over loopback to tmpfs: 0.78 s with 4 connections from the start, 0.70 s
with this ramp). So a file starts with a single connection that takes the planned pieces one
after another; after WINDOW seconds its rate is measured, and below FAST_CONNECTION all the
remaining pieces go to the pool at once. A slow verdict is final; a fast one is re-checked
every RECHECK_WINDOW, so a server that bursts and then throttles still gets its parallel
connections.
"""

from __future__ import annotations

from collections import deque

# One uncapped loopback connection moves 0.5-1.2 GB/s here; per-connection caps seen in the
# wild are 10-100 MB/s. The line sits between them, well above the caps.
FAST_CONNECTION = 150_000_000
# Seconds behind the first verdict. A capped file pays (N - 1) connections x cap for it (50 ms
# cost 44 ms of a 2.7 s download at 8 x 50 MB/s); an uncapped connection has moved over 10 MB
# by then even after a few ms of latency (the verdict needs 3 MB), and a connection still
# waiting for its first byte is judged slow, which is right for S3 or a CDN (30-50 ms).
WINDOW = 0.02
# Later checks average longer: a disk's writeback or an fsync can pause one connection for
# 50 ms, and a slow verdict is final (measured: 1 in 3 checksummed disk runs went parallel).
RECHECK_WINDOW = 0.5

Piece = tuple[int, "int | None"]


class Ramp:
    """The planned pieces of one file, released to the pool as the connection policy allows."""

    def __init__(self, pieces: list[Piece], workers: int, fetched: int, now: float) -> None:
        self._pieces = deque(pieces)
        self._largest = max((e - s for s, e in pieces if e is not None), default=0)
        self.parallel = workers <= 1  # one worker: nothing to decide, release everything
        self._since = now
        self._base = fetched
        self._window = WINDOW

    def release(self, fetched: int, in_flight: int, now: float) -> list[Piece]:
        """The pieces to submit now, given the bytes fetched so far and the pieces running."""
        if not self.parallel:
            self._judge(fetched, now)
        if self.parallel:
            out = list(self._pieces)
            self._pieces.clear()
            return out
        if in_flight == 0 and self._pieces:
            return [self._next_alone()]
        return []

    def _next_alone(self) -> Piece:
        """The next piece for a lone connection, joined with the small pieces after it up to
        the plan's largest: they exist so that parallel connections end near the end of the
        file together, and alone each would only cost a request."""
        start, end = self._pieces.popleft()
        while end is not None and self._pieces:
            follow_start, follow_end = self._pieces[0]
            if follow_start != end or follow_end is None or follow_end - start > self._largest:
                break
            end = follow_end
            self._pieces.popleft()
        return start, end

    def _judge(self, fetched: int, now: float) -> None:
        elapsed = now - self._since
        moved = fetched - self._base
        if elapsed >= self._window:
            if moved < FAST_CONNECTION * elapsed:
                self.parallel = True
            self._since, self._base, self._window = now, fetched, RECHECK_WINDOW

    @property
    def exhausted(self) -> bool:
        return not self._pieces
