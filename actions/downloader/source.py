"""What the workers need from wherever the bytes come from (HTTP(S) or a local file).

A source probes the remote file once (size, validators, whether byte ranges work) and then
streams any ``[start, end)`` of it into a sink, raising the typed signals of errors.py
instead of returning partial success.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Protocol

SPLICE_UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)
"""What splice(2) answers for a socket or a filesystem that cannot take part in one."""


class Sink(Protocol):
    """Where one piece's bytes go, in order, at their file offsets.

    Every method may raise Cancelled (the download is stopping) or DiskFull."""

    def write(self, offset: int, data: bytes | memoryview) -> None:
        """Write bytes that passed through our memory (hashed when they extend the prefix)."""
        ...

    def splice_ok(self, offset: int) -> bool:
        """Whether bytes at ``offset`` may skip our memory (nothing to hash on the way)."""
        ...

    def splice(self, pipe: int, offset: int, count: int) -> None:
        """Move ``count`` bytes waiting in ``pipe`` into the file at ``offset``."""
        ...

    def check(self) -> None:
        """Raise Cancelled once the download is stopping (called while waiting for data)."""
        ...


@dataclass(frozen=True)
class Remote:
    """The remote file as the probe saw it."""

    size: int | None
    etag: str | None
    last_modified: str | None
    ranges: bool


class Source(Protocol):
    url: str

    def probe(self) -> Remote: ...

    def fetch(self, start: int, end: int | None, remote: Remote, sink: Sink) -> None:
        """Stream ``[start, end)`` (``end`` None: to the end of an unknown-size body)."""
        ...

    def close(self) -> None: ...


def make_source(url: str, stall_timeout: float, workers: int) -> Source:
    """The source for a URL's scheme; httpx is imported only when an HTTP URL needs it."""
    if url.lower().startswith("file:"):
        from .file_source import FileSource

        return FileSource(url)
    from .http_source import HttpSource

    return HttpSource(url, stall_timeout=stall_timeout, workers=workers)
