"""The three standard streams of a simulated process, and their thread-side adapter.

Programs and built-in commands never know whether they write to an exec WebSocket or a
container log: they get a `ProcIO`. Built-ins doing blocking file work run in a thread
and reach the loop through `ThreadIO`, whose writes wait for the consumer (backpressure)
so no output buffer grows without bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK = 64 * 1024


class Cancelled(Exception):
    """Raised inside a thread-side command when its caller went away."""


class ProcIO:
    """Streams of one process. The base reads EOF and discards output."""

    async def read_stdin(self, n: int = CHUNK) -> bytes:
        return b""

    async def write_stdout(self, data: bytes) -> None:
        return None

    async def write_stderr(self, data: bytes) -> None:
        return None


class CallbackIO(ProcIO):
    """Output to async callbacks, stdin from a bounded queue (b"" = end of input)."""

    def __init__(
        self,
        stdout: Callable[[bytes], Awaitable[None]],
        stderr: Callable[[bytes], Awaitable[None]],
        stdin: asyncio.Queue[bytes] | None = None,
    ) -> None:
        self._out = stdout
        self._err = stderr
        self._stdin = stdin
        self._pending = b""
        self._eof = stdin is None

    async def read_stdin(self, n: int = CHUNK) -> bytes:
        if not self._pending and not self._eof:
            assert self._stdin is not None
            chunk = await self._stdin.get()
            if chunk:
                self._pending = chunk
            else:
                self._eof = True
        data, self._pending = self._pending[:n], self._pending[n:]
        return data

    async def write_stdout(self, data: bytes) -> None:
        if data:
            await self._out(data)

    async def write_stderr(self, data: bytes) -> None:
        if data:
            await self._err(data)


class Redirected(ProcIO):
    """Another ProcIO with some streams swapped (shell redirections)."""

    def __init__(
        self,
        base: ProcIO,
        stdin: ProcIO | None = None,
        stdout: Callable[[bytes], Awaitable[None]] | None = None,
        stderr: Callable[[bytes], Awaitable[None]] | None = None,
    ) -> None:
        self._base = base
        self._stdin = stdin
        self._out = stdout
        self._err = stderr

    async def read_stdin(self, n: int = CHUNK) -> bytes:
        return await (self._stdin or self._base).read_stdin(n)

    async def write_stdout(self, data: bytes) -> None:
        await (self._out(data) if self._out else self._base.write_stdout(data))

    async def write_stderr(self, data: bytes) -> None:
        await (self._err(data) if self._err else self._base.write_stderr(data))


async def discard(_data: bytes) -> None:
    return None


class ThreadIO:
    """Blocking access to a ProcIO from a worker thread, with a cancel flag."""

    def __init__(self, io: ProcIO, loop: asyncio.AbstractEventLoop) -> None:
        self._io = io
        self._loop = loop
        self._cancel = threading.Event()
        self._out = bytearray()

    def cancel(self) -> None:
        self._cancel.set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._cancel.is_set():
            coro.close()  # never scheduled: close it, or Python warns it was never awaited
            raise Cancelled
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        while True:
            try:
                return fut.result(timeout=0.5)
            except concurrent.futures.TimeoutError:
                if self._cancel.is_set():
                    fut.cancel()
                    raise Cancelled from None

    def out(self, data: bytes | str) -> None:
        """Buffered stdout: flushed when large, before stderr, and at the end."""
        self._out += data.encode() if isinstance(data, str) else data
        if len(self._out) >= CHUNK:
            self.flush()

    def err(self, data: bytes | str) -> None:
        self.flush()
        self._call(self._io.write_stderr(data.encode() if isinstance(data, str) else data))

    def flush(self) -> None:
        if self._out:
            data, self._out = bytes(self._out), bytearray()
            self._call(self._io.write_stdout(data))

    def read_stdin(self, n: int = CHUNK) -> bytes:
        self.flush()
        return self._call(self._io.read_stdin(n))
