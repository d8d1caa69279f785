"""Generated model files: deterministic, position-dependent content produced on demand.

A file of any size is described by (size, seed) and never held in memory: each 64 KiB block is
a 16-byte header (block index, seed, size) followed by a slice of a small random pool chosen
by the block index, so a byte served at the wrong offset changes the hash, and producing
content is little more than a memcpy (several GB/s).
"""

from __future__ import annotations

import functools
import hashlib
import random
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate

BLOCK_SIZE = 64 * 1024
_POOL_BLOCKS = 16
_HEADER = struct.Struct(">QQ")
_HEADER_SIZE = _HEADER.size
_HASH_CHUNK = 4 * 1024 * 1024
_EPOCH = 1_700_000_000  # a fixed, past Last-Modified base so runs are reproducible


@functools.lru_cache(maxsize=16)
def _pool(seed: int) -> memoryview:
    """The random pool for one seed (1 MiB); bounded cache so memory stays small."""
    return memoryview(random.Random(seed).randbytes(_POOL_BLOCKS * BLOCK_SIZE))


def generate(size: int, seed: int, offset: int, length: int) -> bytes:
    """Bytes [offset, offset + length) of the file described by (size, seed), clipped to size."""
    if offset < 0 or length < 0:
        raise ValueError(f"offset and length must not be negative (got {offset}, {length})")
    end = min(offset + length, size)
    if offset >= end:
        return b""
    pool = _pool(seed)
    tag = (seed * 0x9E3779B97F4A7C15 ^ size) & 0xFFFF_FFFF_FFFF_FFFF
    pieces: list[bytes | memoryview] = []
    for index in range(offset // BLOCK_SIZE, (end - 1) // BLOCK_SIZE + 1):
        base = index * BLOCK_SIZE
        lo = max(offset, base) - base
        hi = min(end, base + BLOCK_SIZE) - base
        if lo < _HEADER_SIZE:
            pieces.append(_HEADER.pack(index, tag)[lo : min(hi, _HEADER_SIZE)])
        if hi > _HEADER_SIZE:
            start = ((index * 5 + (index >> 4)) % _POOL_BLOCKS) * BLOCK_SIZE
            pieces.append(pool[start + max(lo, _HEADER_SIZE) : start + hi])
    return b"".join(pieces)


def http_date(timestamp: float) -> str:
    """An IMF-fixdate, as HTTP wants in Last-Modified and Date."""
    return formatdate(timestamp, usegmt=True)


@dataclass(frozen=True)
class ModelFile:
    """One served file: its path, size and seed, its validators and (lazily) its sha256."""

    path: str
    size: int
    seed: int = 0
    etag: str = ""
    last_modified_ts: float = 0.0
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _digest: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"a served path must start with '/': {self.path!r}")
        if self.size < 0:
            raise ValueError(f"file size must not be negative: {self.size}")
        if not self.etag:
            object.__setattr__(self, "etag", f'"ms-{self.size:x}-{self.seed:x}"')
        if not self.last_modified_ts:
            object.__setattr__(self, "last_modified_ts", float(_EPOCH + self.seed % 10_000_000))

    @property
    def last_modified(self) -> str:
        """Last-Modified as the server sends it (HTTP date)."""
        return http_date(self.last_modified_ts)

    @property
    def changed_etag(self) -> str:
        """The ETag served once a `change_etag_after_requests` fault has fired."""
        return self.etag[:-1] + '-changed"' if self.etag.endswith('"') else self.etag + "-changed"

    @property
    def changed_last_modified(self) -> str:
        """Last-Modified served once a `change_etag_after_requests` fault has fired."""
        return http_date(self.last_modified_ts + 86_400)

    def read(self, offset: int, length: int) -> bytes:
        """The true content of [offset, offset + length), clipped to the file's size."""
        return generate(self.size, self.seed, offset, length)

    def iter_bytes(
        self, start: int = 0, end: int | None = None, chunk_size: int = _HASH_CHUNK
    ) -> Iterator[bytes]:
        """The true content of [start, end) in chunks; memory stays at one chunk."""
        stop = self.size if end is None else min(end, self.size)
        pos = start
        while pos < stop:
            n = min(chunk_size, stop - pos)
            yield self.read(pos, n)
            pos += n

    @property
    def sha256(self) -> str:
        """Hex sha256 of the whole true content; computed once by generating it."""
        with self._lock:
            if not self._digest:
                h = hashlib.sha256()
                for chunk in self.iter_bytes():
                    h.update(chunk)
                self._digest.append(h.hexdigest())
            return self._digest[0]
