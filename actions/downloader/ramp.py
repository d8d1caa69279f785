"""How many connections one file gets: one while one is fast, all workers once one is slow.

Extra connections pay only when each is capped (S3, CDNs: N connections give N x cap); on an
uncapped link one connection already fills the pipe and more only add CPU work (measured on
2 cores, 1 GiB over loopback to tmpfs: 0.78 s with 4 connections from the start, 0.70 s
with this ramp). So a file starts with a single
connection that takes the planned pieces one after another; after WINDOW seconds (or when
its first piece ends) its rate is measured, and below FAST_CONNECTION all the remaining pieces
go to the pool at once. A slow verdict is final; a fast one is re-checked every RECHECK_WINDOW,
so a server that bursts and then throttles still gets its parallel connections.
"""

from __future__ import annotations

from collections import deque

# One uncapped loopback connection moves 0.5-1.2 GB/s here; per-connection caps seen in the
# wild are 10-100 MB/s. The line sits between them, well above the caps.
FAST_CONNECTION = 150_000_000
# Seconds behind a verdict: each one a capped file waits costs (N - 1) connections x cap, about
# 1% of a 1 GiB file at 8 x 50 MB/s (0.1 s measured 3%); much shorter ones would mistake the
# request's own latency for a slow connection.
WINDOW = 0.05
MIN_WINDOW = 0.02  # a piece that ends sooner is too short to judge (latency dominates)
# Later checks average longer: a disk's writeback or an fsync can pause one connection for
# 50 ms, and a slow verdict is final (measured: 1 in 3 checksummed disk runs went parallel).
RECHECK_WINDOW = 0.5

Piece = tuple[int, "int | None"]


class Ramp:
    """The planned pieces of one file, released to the pool as the connection policy allows."""

    def __init__(self, pieces: list[Piece], workers: int, fetched: int, now: float) -> None:
        self._pieces = deque(pieces)
        self.parallel = workers <= 1  # one worker: nothing to decide, release everything
        self._since = now
        self._base = fetched
        self._window = WINDOW

    def release(self, fetched: int, in_flight: int, now: float) -> list[Piece]:
        """The pieces to submit now, given the bytes fetched so far and the pieces running."""
        if not self.parallel:
            self._judge(fetched, in_flight, now)
        if self.parallel:
            out = list(self._pieces)
            self._pieces.clear()
            return out
        if in_flight == 0 and self._pieces:
            return [self._pieces.popleft()]
        return []

    def _judge(self, fetched: int, in_flight: int, now: float) -> None:
        elapsed = now - self._since
        moved = fetched - self._base
        first = self._window == WINDOW
        ended = first and in_flight == 0 and moved > 0 and elapsed >= MIN_WINDOW
        if elapsed >= self._window or ended:
            if moved < FAST_CONNECTION * elapsed:
                self.parallel = True
            self._since, self._base, self._window = now, fetched, RECHECK_WINDOW

    @property
    def exhausted(self) -> bool:
        return not self._pieces
