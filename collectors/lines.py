"""Bounded assembly of a byte stream into log segments.

Progress tools overwrite one line with bare ``\\r`` (curl, aws s3 cp, tqdm), so a "line" for
the parsers is the text between any two of ``\\n`` and ``\\r``. A stream of megabytes without
either must not grow memory: a segment keeps at most ``max_segment`` bytes and the rest up to
the next separator is dropped (the segment is marked truncated).
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_MAX_SEGMENT = 16 * 1024


class Segment(NamedTuple):
    text: str
    line_start: bool  # first segment of a physical line (where kubelet timestamps sit)
    overwritten: bool  # ended by a bare \r: the next segment replaces it on a terminal
    truncated: bool = False


class LineAssembler:
    """Feed bytes, get complete segments; holds at most ``max_segment`` bytes in between."""

    def __init__(self, max_segment: int = DEFAULT_MAX_SEGMENT) -> None:
        self.max_segment = max_segment
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._truncated = False
        self._line_start = True

    @property
    def pending_bytes(self) -> int:
        return self._pending_len

    def _append(self, part: bytes) -> None:
        if not part:
            return
        room = self.max_segment - self._pending_len
        if room <= 0:
            self._truncated = True
            return
        if len(part) > room:
            part = part[:room]
            self._truncated = True
        self._pending.append(part)
        self._pending_len += len(part)

    def _take(self, ended_by_cr: bool, out: list[Segment]) -> None:
        raw = b"".join(self._pending) if len(self._pending) != 1 else self._pending[0]
        line_start = self._line_start
        truncated = self._truncated
        self._pending = []
        self._pending_len = 0
        self._truncated = False
        self._line_start = not ended_by_cr
        if raw or truncated:
            text = raw.decode("utf-8", errors="replace")
            out.append(Segment(text, line_start, ended_by_cr, truncated))

    def feed(self, data: bytes) -> list[Segment]:
        """Split ``data`` on ``\\n`` and ``\\r``; an empty segment (``\\r\\n``) is not emitted."""
        out: list[Segment] = []
        lines = data.split(b"\n")
        last_line = len(lines) - 1
        limit = self.max_segment
        for i, piece in enumerate(lines):
            parts = piece.split(b"\r") if b"\r" in piece else (piece,)
            last_part = len(parts) - 1
            for j, part in enumerate(parts):
                ended_by_cr = j < last_part
                if not ended_by_cr and i == last_line:
                    self._append(part)  # no separator yet: keep for the next chunk
                    continue
                if self._pending or self._truncated or len(part) > limit:
                    self._append(part)
                    self._take(ended_by_cr, out)
                    continue
                # The common case, inlined: a whole segment inside this chunk.
                if part:
                    out.append(
                        Segment(part.decode("utf-8", "replace"), self._line_start, ended_by_cr)
                    )
                self._line_start = not ended_by_cr
        return out

    def flush(self) -> list[Segment]:
        """The unterminated rest, when the stream ends."""
        out: list[Segment] = []
        if self._pending or self._truncated:
            self._take(False, out)
        return out
