"""The rest of an HTTP/1.1 body, read straight from the connection's socket.

httpx hands each body chunk through three copies in user space (h11's buffer, its event,
httpcore's bytes), and over TLS it does so for every 16 KiB record; that CPU, not the network,
limited a connection (HTTPS: ~180 MB/s here against curl's ~600). Once a response has been
checked and h11 provably holds none of its body, the remaining Content-Length bytes are
exactly the socket's next bytes. On a plain TCP socket they are spliced kernel to kernel into
the partial file (no copy in user space), or, when they must be hashed on the way, received
into one reused buffer. Over TLS the socket's own TLS layer decrypts them, record after
record, into that buffer, written a MiB at a time. Measured on 1 GiB over loopback: plain,
~0.9 s of CPU against curl's ~1.0 s and ~1.6-3 s through httpx.

Only for an identity, Content-Length-framed HTTP/1.1 body on a TCP socket whose TLS, if any,
is its own (not a tunnel inside an HTTPS proxy's TLS). h11 never sees these bytes, so the
connection is not reused: closing the response closes it. Waiting for data polls in short
slices, so a stop request is honoured within STOP_POLL seconds even on a silent connection.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import socket
import ssl
import time
from typing import Any

from .errors import RetriableError, StallError
from .source import SPLICE_UNSUPPORTED, Sink

CHUNK = 1 << 20
STOP_POLL = 0.25
_SPLICE = getattr(os, "splice", None)
_PIPE_SIZE = getattr(fcntl, "F_SETPIPE_SZ", None)


def body_socket(response: Any) -> socket.socket | None:
    """The response's TCP socket (plain, or its own TLS) when the rest of its body may be read
    from it directly.

    ``response`` is an httpx.Response whose headers were checked and whose first body chunk
    was consumed. Anything unexpected -- HTTP/2, chunked framing, bytes still parsed by h11,
    TLS layered on something else than the socket, or an httpx/httpcore whose insides are not
    as expected -- answers None, and the caller keeps reading through httpx.
    """
    headers = response.headers
    if response.http_version != "HTTP/1.1" or "transfer-encoding" in headers:
        return None
    if "content-length" not in headers:
        return None
    stream = response.extensions.get("network_stream")
    get_info = getattr(stream, "get_extra_info", None)
    if get_info is None:
        return None
    sock = get_info("socket")
    if not isinstance(sock, socket.socket):
        return None
    tls = get_info("ssl_object")
    if isinstance(sock, ssl.SSLSocket):
        # Through an HTTPS proxy the site's TLS runs inside the proxy's: the socket's own
        # TLS layer would hand out the inner layer's ciphertext.
        if tls is None or tls is not getattr(sock, "_sslobj", None):
            return None
    elif tls is not None:
        return None
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
        return None
    return sock if _parser_backlog(response) == 0 else None


def _parser_backlog(response: Any) -> int | None:
    """Bytes h11 has received but not yet handed out; None when it cannot be told.

    Walks httpx's response stream down to httpcore's HTTP/1.1 connection (private names,
    checked at every step: a library update that moves them turns the fast path off, and
    tests/downloader/test_socket_body.py notices)."""
    stream = getattr(response, "stream", None)
    for name in ("_stream", "_httpcore_stream", "_stream", "_connection", "_h11_state"):
        stream = getattr(stream, name, None)
        if stream is None:
            return None
    trailing = getattr(stream, "trailing_data", None)
    if not isinstance(trailing, tuple) or not isinstance(trailing[0], (bytes, bytearray)):
        return None
    return len(trailing[0])


def receive(sock: socket.socket, start: int, count: int, sink: Sink, stall_timeout: float) -> None:
    """Move the next ``count`` body bytes from ``sock`` into ``sink`` at ``start``.

    Raises StallError when no byte arrives for ``stall_timeout`` seconds, RetriableError when
    the connection ends early, and whatever the sink raises (Cancelled, DiskFull)."""
    reader = _Reader(sock, sink, stall_timeout)
    try:
        pos, end = start, start + count
        while pos < end:
            want = min(CHUNK, end - pos)
            if sink.splice_ok(pos) and reader.can_splice():
                got = reader.splice(pos, want)
            else:
                got = reader.recv(pos, want)
            if got == 0:
                raise RetriableError(f"short body: the connection closed {end - pos} bytes early")
            pos += got
    finally:
        reader.close()


class _Reader:
    def __init__(self, sock: socket.socket, sink: Sink, stall_timeout: float) -> None:
        sock.setblocking(False)  # waits are ours (poll in slices); the connection is not reused
        self._sock = sock
        self._fd = sock.fileno()
        self._sink = sink
        self._stall_timeout = stall_timeout
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN | select.POLLPRI)
        self._buffer: memoryview | None = None
        self._pipe: tuple[int, int] | None = None
        # Encrypted bytes must pass through the TLS layer: never spliced.
        self._tls = isinstance(sock, ssl.SSLSocket)
        self._pipe_failed = _SPLICE is None or self._tls

    # -- waiting ----------------------------------------------------------------------
    def _wait(self, writable: bool = False) -> None:
        """Block until the socket is readable (writable: a TLS read that must send first) or
        has closed; stall and stop checks meanwhile.

        Called only when a read found nothing, so a busy connection costs no extra call."""
        self._poll.modify(self._fd, select.POLLOUT if writable else select.POLLIN | select.POLLPRI)
        deadline = time.monotonic() + self._stall_timeout
        while True:
            self._sink.check()
            left = deadline - time.monotonic()
            if left <= 0:
                raise StallError(f"no data for {self._stall_timeout:g}s")
            if self._poll.poll(min(left, STOP_POLL) * 1000):
                return

    # -- through user space (bytes that are hashed on the way, or decrypted) -----------------
    def recv(self, pos: int, want: int) -> int:
        """Receive up to ``want`` bytes and write them at ``pos``; 0 when the peer closed.

        A TLS read yields one record (16 KiB) at a time: those gather in the buffer until it
        is full or the socket runs dry, so the file still takes a MiB per write."""
        if self._buffer is None:
            self._buffer = memoryview(bytearray(CHUNK))
        filled = 0
        while filled < want:
            try:
                got = self._sock.recv_into(self._buffer[filled:], want - filled)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
                if filled:
                    break  # write what arrived before waiting for more
                self._wait(writable=isinstance(exc, ssl.SSLWantWriteError))
                continue
            except OSError as exc:
                if filled:
                    break  # keep what arrived; the next read reports the error
                raise RetriableError(f"connection error: {exc.strerror or exc}") from None
            if not got:
                break
            filled += got
            if not self._tls:
                break  # one plain read already takes what the kernel holds
        if filled:
            self._sink.write(pos, self._buffer[:filled])
        return filled

    # -- kernel to kernel ---------------------------------------------------------------
    def can_splice(self) -> bool:
        if self._pipe is None and not self._pipe_failed:
            try:
                self._pipe = os.pipe2(os.O_CLOEXEC)
            except OSError:
                self._pipe_failed = True
                return False
            if _PIPE_SIZE is not None:
                # Above /proc/sys/fs/pipe-max-size the default 64 KiB pipe still works.
                with contextlib.suppress(OSError):
                    fcntl.fcntl(self._pipe[1], _PIPE_SIZE, CHUNK)
        return self._pipe is not None

    def splice(self, pos: int, want: int) -> int:
        assert self._pipe is not None and _SPLICE is not None
        pipe_out, pipe_in = self._pipe
        while True:
            try:
                got: int = _SPLICE(self._fd, pipe_in, want, flags=os.SPLICE_F_NONBLOCK)
            except BlockingIOError:
                self._wait()
                continue
            except OSError as exc:
                if exc.errno in SPLICE_UNSUPPORTED:
                    self._close_pipe()  # this socket cannot be spliced: use recv from now on
                    self._pipe_failed = True
                    return self.recv(pos, want)
                raise RetriableError(f"connection error: {exc.strerror or exc}") from None
            if got:
                self._sink.splice(pipe_out, pos, got)
            return got

    def close(self) -> None:
        self._poll.unregister(self._fd)
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None
