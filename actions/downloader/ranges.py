"""Byte ranges: the set of completed bytes of a partial file, and how to cut work into pieces.

Intervals are half-open ``[start, end)``; the set keeps them sorted and merged so that the
state file stays small whatever order the workers finish in.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

MIB = 1 << 20
MIN_PIECE = 16 * MIB
MAX_PIECE = 256 * MIB
PIECES_PER_WORKER = 4
TAIL_PIECE = 4 * MIB


class RangeSet:
    """Sorted, merged, half-open intervals. Not thread-safe: callers hold their own lock."""

    def __init__(self, intervals: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in intervals:
            self.add(start, end)

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        # Every interval that touches or overlaps [start, end) merges into it.
        lo = bisect.bisect_left(self._ends, start)
        hi = bisect.bisect_right(self._starts, end)
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]

    def remove(self, start: int, end: int) -> None:
        if end <= start:
            return
        kept: list[tuple[int, int]] = []
        for s, e in zip(self._starts, self._ends, strict=False):
            if e <= start or s >= end:
                kept.append((s, e))
                continue
            if s < start:
                kept.append((s, start))
            if e > end:
                kept.append((end, e))
        self._starts = [s for s, _ in kept]
        self._ends = [e for _, e in kept]

    def clear(self) -> None:
        self._starts.clear()
        self._ends.clear()

    def covered(self) -> int:
        return sum(e - s for s, e in zip(self._starts, self._ends, strict=False))

    def prefix_end(self) -> int:
        """End of the run of bytes that starts at 0 (0 when byte 0 is missing)."""
        if self._starts and self._starts[0] == 0:
            return self._ends[0]
        return 0

    def missing(self, total: int) -> list[tuple[int, int]]:
        """The gaps in ``[0, total)``."""
        gaps: list[tuple[int, int]] = []
        pos = 0
        for s, e in zip(self._starts, self._ends, strict=False):
            if s >= total:
                break
            if s > pos:
                gaps.append((pos, s))
            pos = max(pos, e)
        if pos < total:
            gaps.append((pos, total))
        return gaps

    def intervals(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=False))

    def __len__(self) -> int:
        return len(self._starts)


def piece_size(missing_bytes: int, workers: int) -> int:
    """About four pieces per worker, 16 MiB to 256 MiB: every request waits a round trip for
    its first byte (20-50 ms on S3), so pieces are large; several per worker keep the hash
    close behind the download and let a fast connection take over a slow one's share."""
    if workers <= 1:
        return max(missing_bytes, 1)
    target = min(MAX_PIECE, max(MIN_PIECE, missing_bytes // (workers * PIECES_PER_WORKER)))
    count = max(1, -(-missing_bytes // target))
    # Equal pieces in a multiple of the worker count finish together on equal connections.
    count = -(-count // workers) * workers
    return max(1, -(-missing_bytes // count))


def piece_lengths(missing_bytes: int, workers: int, small_tail: bool = False) -> list[int]:
    """The lengths of the pieces, in file order, that ``missing_bytes`` are cut into.

    With ``small_tail`` (the file is hashed as it arrives), the last round (one piece per
    worker) is cut in halves, then quarters, ... down to TAIL_PIECE: the hash follows the
    lowest piece still running, so when the download ends, everything above it is still to be
    hashed -- with equal pieces, nearly a whole round (1 GiB over 8 connections: 224 MiB,
    0.17 s of hashing after the last byte). Small last pieces end near the end of the file,
    for a few more requests per connection, which buy nothing when nothing is hashed."""
    if missing_bytes <= 0:
        return []
    size = piece_size(missing_bytes, workers)
    if workers <= 1:
        return [size]
    tail = min(missing_bytes, workers * size) if small_tail else 0
    head = missing_bytes - tail
    lengths = [size] * (head // size) + ([head % size] if head % size else [])
    for length in _tail_rounds(-(-tail // workers)):
        for _ in range(workers):
            take = min(length, tail)
            if take:
                lengths.append(take)
                tail -= take
    return lengths


def _tail_rounds(size: int) -> list[int]:
    """One round's piece length, halved while the halves stay at least TAIL_PIECE; the
    smallest twice, so the rounds add up to ``size`` again (16 MiB: 8, 4, 4)."""
    rounds = []
    while size // 2 >= TAIL_PIECE:
        size -= size // 2
        rounds.append(size)
    return [*rounds, size]


def plan_pieces(
    gaps: list[tuple[int, int]], workers: int, small_tail: bool = False
) -> list[tuple[int, int]]:
    """Cut the gaps into pieces, in file order (so the hash can follow the front); a piece
    that would span two gaps becomes one piece in each."""
    lengths = iter(piece_lengths(sum(e - s for s, e in gaps), workers, small_tail))
    pieces: list[tuple[int, int]] = []
    owed = 0  # bytes of the current length not yet placed
    for start, end in gaps:
        pos = start
        while pos < end:
            if owed == 0:
                owed = next(lengths)
            step = min(owed, end - pos)
            pieces.append((pos, pos + step))
            pos += step
            owed -= step
    return pieces
