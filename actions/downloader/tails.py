"""Tail splitting: the pieces of one file in flight, and how an idle worker takes over half
of the largest remainder among them.

Connections of one file are rarely equally fast (S3 and CDNs: 30-90 MB/s each), so at the end
of a file a worker that finds no piece waiting would sit idle while a slow one still has
hundreds of MiB to go. Instead it cuts that piece's remainder in two and fetches the second
half with its own Range request; the slow worker stops at the new end.

The hand-over is safe because both sides meet under one lock: before each write or splice a
worker reserves ``[offset, offset + n)`` clamped to its piece's current end, and a thief cuts
only at or above what the victim has reserved. So no byte is ever written by two workers, and
none by a victim beyond its new end (what it already holds past it is discarded, unwritten).
"""

from __future__ import annotations

import threading

MIB = 1 << 20
# A new request costs about four round trips before it runs at full speed (connect, TLS, the
# request itself, TCP slow start): 100-200 ms to S3, in which a 30 MB/s victim moves 3-6 MB.
# Halves smaller than that would be finished by the victim before the thief's first byte
# arrives; from 4 MiB a half on, a 90 MB/s thief saves a 30 MB/s victim 0.1 s or more.
MIN_HALF = 4 * MIB
# Cut points fall on MiB boundaries: whole pages for the page cache and the splices, and
# short state files (completed ranges merge back into round numbers).
CUT_ALIGN = MIB


def split_point(reserved: int, end: int) -> int | None:
    """Where to cut the remainder ``[reserved, end)`` of a running piece: its middle rounded up
    to CUT_ALIGN (never below ``reserved``), or None when either half would be under MIN_HALF."""
    mid = reserved + (end - reserved) // 2
    mid = -(-mid // CUT_ALIGN) * CUT_ALIGN
    if mid - reserved < MIN_HALF or end - mid < MIN_HALF:
        return None
    return mid


class Running:
    """A piece being fetched. ``end`` only moves down (a thief took the rest), never below
    ``reserved``: the end of the bytes its worker has written or is about to write."""

    __slots__ = ("end", "reserved", "start")

    def __init__(self, start: int, end: int | None) -> None:
        self.start = start
        self.end = end
        self.reserved = start

    def __repr__(self) -> str:
        return f"Running({self.start}, {self.end}, reserved={self.reserved})"


class RunningPieces:
    """The pieces of one file in flight; thread-safe. Splits happen only once enabled (the
    file runs parallel connections and its server honours Range)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: list[Running] = []
        self._splits = False

    def enable_splits(self) -> None:
        self._splits = True

    def begin(self, start: int, end: int | None) -> Running:
        piece = Running(start, end)
        with self._lock:
            self._running.append(piece)
        return piece

    def finish(self, piece: Running) -> None:
        with self._lock:
            self._running.remove(piece)

    def claim(self, piece: Running, offset: int, count: int) -> int:
        """Reserve up to ``count`` bytes at ``offset`` for the piece's worker: how many it may
        write there (fewer, down to 0, when a thief took what lies beyond)."""
        with self._lock:
            end = offset + count if piece.end is None else min(offset + count, piece.end)
            allowed = max(0, end - offset)
            piece.reserved = max(piece.reserved, offset + allowed)
        return allowed

    def steal(self) -> Running | None:
        """Cut the largest remainder worth cutting; the second half, already running for the
        caller, or None when no remainder is worth a new request."""
        if not self._splits:
            return None
        with self._lock:
            victim = max(
                (p for p in self._running if p.end is not None),
                key=lambda p: (p.end or 0) - p.reserved,
                default=None,
            )
            if victim is None or victim.end is None:
                return None
            mid = split_point(victim.reserved, victim.end)
            if mid is None:
                return None
            thief = Running(mid, victim.end)
            victim.end = mid
            self._running.append(thief)
            return thief
