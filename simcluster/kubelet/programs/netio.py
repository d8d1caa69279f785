"""What the downloading stand-ins (wget, aws s3 cp) share: an HTTP client and an output file.

The client never reads proxy settings from the host (a pod reaches only what its URL names)
and always has timeouts. The output file is opened through the pod's filesystem view (so it
lands inside the pod's volumes or nowhere) and written from a thread in bounded chunks, so a
slow disk never blocks the cluster's event loop.
"""

from __future__ import annotations

import asyncio
import errno
import os

import httpx

from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import FsError

WRITE_CHUNK = 1024 * 1024
CONNECT_TIMEOUT = 10.0


def http_client(read_timeout: float) -> httpx.AsyncClient:
    timeout = httpx.Timeout(connect=CONNECT_TIMEOUT, read=read_timeout, write=30.0, pool=30.0)
    return httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=False)


class OutputFile:
    """A file in the pod, open for writing; buffered, each full buffer written in a thread."""

    def __init__(self, fd: int, shown: str, offset: int) -> None:
        self.fd = fd
        self.shown = shown
        self.size = offset
        self._buf = bytearray()

    @classmethod
    async def open(cls, ctx: ProcContext, path: str, keep: bool = False) -> OutputFile:
        """Open `path` (container view); keep=True appends to what is there (resume)."""
        r = ctx.fs.resolve(path, ctx.cwd)
        host = r.writable()
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        flags |= os.O_APPEND if keep else os.O_TRUNC

        def do_open() -> tuple[int, int]:
            fd = os.open(host, flags, 0o644)
            return fd, os.fstat(fd).st_size

        try:
            fd, size = await asyncio.to_thread(do_open)
        except OSError as exc:
            raise FsError(exc.errno or errno.EIO, path) from None
        return cls(fd, path, size)

    async def write(self, data: bytes) -> None:
        self._buf += data
        self.size += len(data)
        if len(self._buf) >= WRITE_CHUNK:
            await self.flush()

    async def flush(self) -> None:
        if not self._buf:
            return
        data, self._buf = bytes(self._buf), bytearray()
        await asyncio.to_thread(_write_all, self.fd, data)

    async def close(self) -> None:
        try:
            await self.flush()
        finally:
            fd, self.fd = self.fd, -1
            if fd >= 0:
                await asyncio.to_thread(os.close, fd)

    def discard(self) -> None:
        """Close without writing what is buffered (after a write error)."""
        self._buf = bytearray()
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
