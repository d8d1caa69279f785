"""The small JSON file beside a partial download: what it is a part of and which bytes it holds.

Saved by write-then-rename (atomic), without fsync: a killed process leaves the page cache and
therefore the partial bytes intact, and bytes are recorded only after they were written, so
the state never claims more than the partial file holds. A resume may refetch what was
written after the last save: at most CHECKPOINT_BYTES (or CHECKPOINT_SECONDS of transfer).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from collectors.redact import redact_url

STATE_VERSION = 1
CHECKPOINT_BYTES = 4 << 20
CHECKPOINT_SECONDS = 1.0


@dataclass(frozen=True)
class PartState:
    """What a .part file is a partial copy of. Resuming needs size and a validator to match."""

    url: str
    size: int | None
    etag: str | None
    last_modified: str | None
    ranges: tuple[tuple[int, int], ...] = field(default=())

    def same_source(self, size: int | None, etag: str | None, last_modified: str | None) -> bool:
        """True when the remote file is provably the one this partial came from."""
        if size is None or self.size != size:
            return False
        if etag is not None or self.etag is not None:
            return etag == self.etag and etag is not None and not etag.startswith("W/")
        return last_modified is not None and last_modified == self.last_modified

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": STATE_VERSION,
                "url": redact_url(self.url),
                "size": self.size,
                "etag": self.etag,
                "last_modified": self.last_modified,
                "ranges": [list(r) for r in self.ranges],
            }
        )


def load_state(path: Path) -> PartState | None:
    """The saved state, or None when missing or unreadable (the partial then starts over)."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
    except (OSError, ValueError):
        return None
    try:
        if raw.get("v") != STATE_VERSION:
            return None
        size = raw.get("size")
        ranges: list[tuple[int, int]] = []
        for item in raw.get("ranges") or []:
            start, end = int(item[0]), int(item[1])
            if not 0 <= start < end or (size is not None and end > size):
                return None
            ranges.append((start, end))
        return PartState(
            url=str(raw.get("url") or ""),
            size=None if size is None else int(size),
            etag=raw.get("etag"),
            last_modified=raw.get("last_modified"),
            ranges=tuple(ranges),
        )
    except (AttributeError, TypeError, ValueError, IndexError):
        return None


def save_state(path: Path, state: PartState) -> None:
    """Replace the state file atomically; on a full disk, rewrite it in place instead."""
    data = state.to_json().encode()
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        remove_quietly(tmp)
        try:
            _rewrite_in_place(path, data)
        except OSError:
            raise exc from None


def _rewrite_in_place(path: Path, data: bytes) -> None:
    """Reuse the state file's own blocks when no new one can be had: the last progress is
    worth keeping for the resume. Not atomic; a torn file reads as "no state" (start over)."""
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def remove_quietly(*paths: Path) -> None:
    """Delete files that may not exist."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
