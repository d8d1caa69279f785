"""A small HTTP proxy on loopback, as corporate clusters put in front of S3: CONNECT tunnels
(HTTPS) and absolute-form GETs forwarded one per connection (plain HTTP), itself reached over
plain TCP or, given a server context, over TLS (an HTTPS proxy). It records what it was asked,
so tests can tell the downloader really went through it."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

_HEAD_LIMIT = 64 * 1024


class TestProxy:
    """Run with ``with TestProxy().running() as proxy:``; ``proxy.url`` goes in HTTP(S)_PROXY."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[str] = []  # request lines, in arrival order
        self._tls = tls
        self._lock = threading.Lock()
        self._port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.requests)

    @contextlib.contextmanager
    def running(self, timeout: float = 10.0) -> Iterator[TestProxy]:
        ready = threading.Event()
        stop: list[asyncio.Event] = []
        loops: list[asyncio.AbstractEventLoop] = []

        async def main() -> None:
            stop.append(asyncio.Event())
            loops.append(asyncio.get_running_loop())
            server = await asyncio.start_server(
                self._client, "127.0.0.1", 0, limit=_HEAD_LIMIT, ssl=self._tls
            )
            self._port = server.sockets[0].getsockname()[1]
            ready.set()
            async with server:
                await stop[0].wait()

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("the test proxy did not start")
        try:
            yield self
        finally:
            loops[0].call_soon_threadsafe(stop[0].set)
            thread.join(timeout)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            line, _, rest = head.decode("latin-1").partition("\r\n")
            method, target, _version = line.split(" ", 2)
            with self._lock:
                self.requests.append(line)
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                up_reader, upstream = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                url = urlsplit(target)
                up_reader, upstream = await asyncio.open_connection(url.hostname, url.port or 80)
                path = url.path + (f"?{url.query}" if url.query else "")
                headers = [h for h in rest.split("\r\n") if h and not _hop_by_hop(h)]
                headers.append("Connection: close")  # one request per upstream connection
                request = "\r\n".join([f"{method} {path} HTTP/1.1", *headers, "", ""])
                upstream.write(request.encode("latin-1"))
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        finally:
            for w in (upstream, writer):
                if w is not None:
                    w.close()


def _hop_by_hop(header: str) -> bool:
    name = header.split(":", 1)[0].strip().lower()
    return name in ("connection", "proxy-connection", "keep-alive", "proxy-authorization")


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await src.read(1 << 16):
            dst.write(data)
            await dst.drain()
    with contextlib.suppress(OSError):
        if dst.can_write_eof():
            dst.write_eof()
