"""Tail splitting: the pieces of one file in flight, and how an idle worker takes over the
second half of the one expected to finish last.

Connections of one file are rarely equally fast (S3 and CDNs: 30-90 MB/s each), so at the end
of a file a worker that finds no piece waiting would sit idle while a slow one still has
hundreds of MiB to go. Instead it cuts that piece's remainder in two and fetches the second
half with its own Range request; the slow worker stops at the new end. The remainder that
matters is in time, not bytes: a slow connection's few MiB can outlast a fast one's tens.

The hand-over is safe because both sides meet under one lock: before each write or splice a
worker reserves ``[offset, offset + n)`` clamped to its piece's current end, and a thief cuts
only at or above what the victim has reserved. So no byte is ever written by two workers, and
none by a victim beyond its new end (what it already holds past it is discarded, unwritten).
"""

from __future__ import annotations

import math
import statistics
import threading
from collections import deque

MIB = 1 << 20
# A new request costs about four round trips before it runs at full speed (connect, TLS, the
# request itself, TCP slow start): 100-200 ms to S3. Splitting a remainder in two saves the
# victim's time for one half minus that cost (the thief being no slower), so a cut pays only
# when each half would take the victim longer than this.
NEW_REQUEST = 0.2
# A piece's own rate is trusted once it has run this long (its first bytes wait a round trip);
# before, it is taken to be the median rate of the file's last RATE_HISTORY pieces (same
# server, same path: the likeliest guess), or, before any, GUESSED_RATE: the low end of the
# per-connection caps seen in the wild (10-100 MB/s), so halves need MIN_HALF (4 MB).
RATE_AFTER = 0.25
RATE_HISTORY = 16
GUESSED_RATE = 20_000_000
MIN_HALF = int(GUESSED_RATE * NEW_REQUEST)
# How often an idle worker judges the running pieces again when no cut paid yet: a young
# piece's rate shows, a connection slows down or stalls.
RECHECK = 0.1
# No half is smaller than MIN_CUT, whatever the victim's rate (a stalled victim's is 0): the
# request would be nearly all overhead. Cut points fall on CUT_ALIGN boundaries: whole pages
# for the page cache and the splices.
MIN_CUT = MIB
CUT_ALIGN = 64 << 10


def split_point(reserved: int, end: int, rate: float = GUESSED_RATE) -> int | None:
    """Where to cut the remainder ``[reserved, end)`` of a piece moving ``rate`` bytes/s: its
    middle rounded up to CUT_ALIGN (never below ``reserved``), or None when a half would be
    under MIN_CUT or take the victim less than NEW_REQUEST seconds."""
    mid = reserved + (end - reserved) // 2
    mid = -(-mid // CUT_ALIGN) * CUT_ALIGN
    least = max(MIN_CUT, rate * NEW_REQUEST)
    if mid - reserved < least or end - mid < least:
        return None
    return mid


class Running:
    """A piece being fetched. ``end`` only moves down (a thief took the rest), never below
    ``reserved``: the end of the bytes its worker has written or is about to write."""

    __slots__ = ("began", "end", "reserved", "start")

    def __init__(self, start: int, end: int | None, now: float) -> None:
        self.start = start
        self.end = end
        self.reserved = start
        self.began = now

    def rate(self, now: float) -> float | None:
        """Bytes per second since the piece began (None while it is too young to tell);
        retries and stalls count against it, as they delay its end."""
        age = now - self.began
        return None if age < RATE_AFTER else (self.reserved - self.start) / age

    def __repr__(self) -> str:
        return f"Running({self.start}, {self.end}, reserved={self.reserved})"


class RunningPieces:
    """The pieces of one file in flight; thread-safe. Splits happen only once enabled (the
    file runs parallel connections and its server honours Range)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)
        self._running: list[Running] = []
        self._rates: deque[float] = deque(maxlen=RATE_HISTORY)  # of pieces that ended
        self._splits = False

    def enable_splits(self) -> None:
        self._splits = True

    def wait(self, timeout: float) -> bool:
        """Wait until a piece ends or ``timeout`` passes: True while pieces that might still be
        cut are running (splits enabled), False when there is nothing to wait for."""
        with self._ended:
            if not (self._splits and self._running):
                return False
            self._ended.wait(timeout)
            return bool(self._running)

    def begin(self, start: int, end: int | None, now: float) -> Running:
        piece = Running(start, end, now)
        with self._lock:
            self._running.append(piece)
        return piece

    def finish(self, piece: Running, now: float) -> None:
        with self._lock:
            self._running.remove(piece)
            if piece.reserved > piece.start and now > piece.began:
                self._rates.append((piece.reserved - piece.start) / (now - piece.began))
            self._ended.notify_all()

    def claim(self, piece: Running, offset: int, count: int) -> int:
        """Reserve up to ``count`` bytes at ``offset`` for the piece's worker: how many it may
        write there (fewer, down to 0, when a thief took what lies beyond)."""
        with self._lock:
            end = offset + count if piece.end is None else min(offset + count, piece.end)
            allowed = max(0, end - offset)
            piece.reserved = max(piece.reserved, offset + allowed)
        return allowed

    def steal(self, now: float) -> Running | None:
        """Cut the remainder of the piece expected to finish last, among those worth cutting;
        the second half, already running for the caller, or None when no cut pays."""
        if not self._splits:
            return None
        with self._lock:
            sized = [p for p in self._running if p.end is not None]
            rates = [p.rate(now) for p in sized]
            guess = statistics.median(self._rates) if self._rates else GUESSED_RATE
            victim, mid, last = None, 0, -1.0
            for piece, measured in zip(sized, rates, strict=True):
                rate = guess if measured is None else measured
                cut = split_point(piece.reserved, piece.end or 0, rate)
                if cut is None:
                    continue
                left = ((piece.end or 0) - piece.reserved) / rate if rate > 0 else math.inf
                if left > last:
                    victim, mid, last = piece, cut, left
            if victim is None:
                return None
            thief = Running(mid, victim.end, now)
            victim.end = mid
            self._running.append(thief)
            return thief
