"""ModelServer: an HTTP/1.1 (or HTTPS) file server on loopback that serves generated model files and
misbehaves on request, so the downloader can be tested against real sockets.

It runs on asyncio streams (no framework: every byte and every close is under our control,
which the faults need). Files, faults and stats may be touched from any thread while the
server's loop runs, in the caller's loop (`async with`) or in its own thread
(`run_in_thread()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from .content import ModelFile, http_date
from .faults import Faults, FileStats, PathState, RequestPlan
from .wire import BadRequest, Request, Unsatisfiable, parse_head, parse_range, response_head

_HEAD_LIMIT = 32 * 1024
_BODY_LIMIT = 1024 * 1024
_SERVER = "simcluster-modelserver"


class ModelServer:
    """Serves generated files with Range/ETag/Last-Modified and per-path faults."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        chunk_size: int = 1024 * 1024,
        idle_timeout: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if chunk_size < 4096:
            raise ValueError(f"chunk_size must be at least 4096 bytes, got {chunk_size}")
        self._host = host
        self._port = port
        self._chunk = chunk_size
        self._idle_timeout = idle_timeout
        self._tls = tls  # a server context: HTTPS, as S3 and CDNs serve
        self._lock = threading.Lock()
        self._files: dict[str, ModelFile] = {}
        self._paths: dict[str, PathState] = {}
        self._waiters: dict[asyncio.Future[None], str] = {}
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start accepting; the port is known afterwards."""
        if self._server is not None:
            raise RuntimeError("the model server is already started")
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._server = await asyncio.start_server(
            self._on_connection, self._host, self._port, limit=_HEAD_LIMIT, ssl=self._tls
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop accepting, release stalls, close every connection and wait for them."""
        server, self._server = self._server, None
        if server is None:
            return
        self._closing = True
        server.close()
        self.release_stalls()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> ModelServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self, timeout: float = 10.0) -> Iterator[ModelServer]:
        """Run the server on its own event loop in a thread, for synchronous callers."""
        ready = threading.Event()
        failure: list[BaseException] = []
        stop_event: list[asyncio.Event] = []
        loops: list[asyncio.AbstractEventLoop] = []

        async def main() -> None:
            stop = asyncio.Event()
            stop_event.append(stop)
            loops.append(asyncio.get_running_loop())
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                await stop.wait()
            finally:
                await self.stop()

        thread = threading.Thread(
            target=asyncio.run, args=(main(),), name="modelserver", daemon=True
        )
        thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"the model server did not start within {timeout} s")
        if failure:
            thread.join(timeout)
            raise failure[0]
        try:
            yield self
        finally:
            loops[0].call_soon_threadsafe(stop_event[0].set)
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the model server did not stop within {timeout} s")

    # -- files, faults, stats ----------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self._port}"

    def url(self, path: str) -> str:
        """The full URL of a served path."""
        if not path.startswith("/"):
            raise ValueError(f"a served path must start with '/': {path!r}")
        if not self._port:
            raise RuntimeError("the model server is not started yet, so its port is unknown")
        return self.base_url + path

    def add_file(
        self,
        path: str,
        size: int,
        seed: int = 0,
        *,
        etag: str | None = None,
        last_modified: float | None = None,
    ) -> ModelFile:
        """Serve a generated file at path (replacing any file there); returns its description."""
        f = ModelFile(path, size, seed, etag=etag or "", last_modified_ts=last_modified or 0.0)
        with self._lock:
            self._files[path] = f
        return f

    def remove_file(self, path: str) -> None:
        """Stop serving path (it answers 404 afterwards)."""
        with self._lock:
            self._files.pop(path, None)

    def file(self, path: str) -> ModelFile:
        """The file served at path; KeyError names the path when there is none."""
        with self._lock:
            try:
                return self._files[path]
            except KeyError:
                raise KeyError(f"no file is served at {path!r}") from None

    def set_faults(self, path: str, faults: Faults) -> None:
        """Replace the faults of path (Faults() clears them); fault counts restart."""
        self._state(path).set_faults(faults)

    def faults(self, path: str) -> Faults:
        return self._state(path).faults

    def stats(self, path: str) -> FileStats:
        """What was served for path since the last reset_stats (a snapshot)."""
        return self._state(path).snapshot()

    def reset_stats(self, path: str | None = None) -> None:
        """Zero the stats of one path, or of every path."""
        with self._lock:
            states = list(self._paths.values()) if path is None else [self._state_locked(path)]
        for state in states:
            state.reset_stats()

    def release_stalls(self, path: str | None = None) -> None:
        """Let responses stalled on path (or on every path) continue; callable from any thread."""
        with self._lock:
            chosen = [w for w, p in self._waiters.items() if path is None or p == path]
            for waiter in chosen:
                del self._waiters[waiter]
        for waiter in chosen:
            waiter.get_loop().call_soon_threadsafe(_resolve, waiter)

    def _state(self, path: str) -> PathState:
        with self._lock:
            return self._state_locked(path)

    def _state_locked(self, path: str) -> PathState:
        state = self._paths.get(path)
        if state is None:
            state = self._paths[path] = PathState(threading.Lock())
        return state

    # -- connections -------------------------------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while not self._closing:
                try:
                    raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._idle_timeout)
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                    break
                except asyncio.LimitOverrunError:
                    await self._simple(writer, 431, "request head too large\n", keep=False)
                    break
                try:
                    request = parse_head(raw)
                    await self._discard_body(request, reader)
                except BadRequest as exc:
                    await self._simple(writer, 400, f"{exc}\n", keep=False)
                    break
                if not await self._serve(request, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        except asyncio.CancelledError:
            # stop() (or the loop's shutdown) cancels us. asyncio's stream callback would log
            # a cancelled connection task as an error, so this task always ends normally.
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            if self._closing:
                writer.transport.abort()  # no flushing to a client that may never read
            else:
                writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _discard_body(self, request: Request, reader: asyncio.StreamReader) -> None:
        if request.header("transfer-encoding"):
            raise BadRequest("request bodies with Transfer-Encoding are not accepted")
        length = request.header("content-length")
        if length is None:
            return
        if not length.isdigit() or int(length) > _BODY_LIMIT:
            raise BadRequest(f"unacceptable request Content-Length: {length[:40]!r}")
        await asyncio.wait_for(reader.readexactly(int(length)), self._idle_timeout)

    async def _simple(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: str,
        *,
        keep: bool,
        extra: list[tuple[str, str]] | None = None,
        head_only: bool = False,
    ) -> None:
        data = body.encode()
        headers = self._base_headers(keep) + (extra or [])
        headers += [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))]
        writer.write(response_head(status, headers) + (b"" if head_only else data))
        await self._drain(writer)

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        """Wait for the socket to take our bytes, but not forever: a client that stops
        reading (without closing) for idle_timeout seconds loses its connection."""
        await asyncio.wait_for(writer.drain(), self._idle_timeout)

    def _base_headers(self, keep: bool) -> list[tuple[str, str]]:
        return [
            ("Date", http_date(time.time())),
            ("Server", _SERVER),
            ("Connection", "keep-alive" if keep else "close"),
        ]

    async def _serve(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; True when the connection may carry another."""
        range_header = request.header("range")
        state = self._state(request.path)
        plan = state.begin(request.method, range_header is not None)
        keep = request.keep_alive and not self._closing
        head_only = request.method == "HEAD"
        with self._lock:
            f = self._files.get(request.path)
        status = await self._answer_without_body(request, writer, f, plan, keep)
        if status is not None:
            state.finish(request.method, range_header, status, 0)
            return keep
        assert f is not None
        faults = plan.faults
        etag = f.changed_etag if plan.changed_validators else f.etag
        modified = f.changed_last_modified if plan.changed_validators else f.last_modified
        span: tuple[int, int] | None = None
        if range_header is not None and not faults.ignore_range:
            if_range = request.header("if-range")
            if if_range is None or (not if_range.startswith("W/") and if_range in (etag, modified)):
                try:
                    span = parse_range(range_header, f.size)
                except Unsatisfiable:
                    extra = [("Content-Range", f"bytes */{f.size}")]
                    await self._simple(writer, 416, "", keep=keep, extra=extra, head_only=head_only)
                    state.finish(request.method, range_header, 416, 0)
                    return keep
        start, end = span if span is not None else (0, f.size)
        status = 206 if span is not None else 200
        declared = max(0, end - start + faults.wrong_content_length)
        if faults.wrong_content_length:
            keep = False
        headers = [
            *self._base_headers(keep),
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", str(declared)),
            ("Accept-Ranges", "bytes"),
            ("ETag", etag),
            ("Last-Modified", modified),
        ]
        if span is not None:
            headers.append(("Content-Range", f"bytes {start}-{end - 1}/{f.size}"))
        writer.write(response_head(status, headers))
        if head_only:
            await self._drain(writer)
            state.finish(request.method, range_header, status, 0)
            return keep
        slow = (
            faults.slow_rate is not None
            and _asks_more_than_one_byte(range_header, f.size)
            and state.take_slow(faults.slow_requests)
        )
        rate = faults.slow_rate if slow else faults.rate_limit
        state.start_body()
        sent = 0
        try:
            sent, complete = await self._send_body(
                f, start, end, faults, rate, state, request.path, reader, writer
            )
        finally:
            state.end_body()
            state.finish(request.method, range_header, status, sent, slow)
        return keep and complete

    async def _answer_without_body(
        self,
        request: Request,
        writer: asyncio.StreamWriter,
        f: ModelFile | None,
        plan: RequestPlan,
        keep: bool,
    ) -> int | None:
        """Answer requests that get no file body (errors, faults); the status, or None."""
        head_only = request.method == "HEAD"
        if request.method not in ("GET", "HEAD"):
            extra = [("Allow", "GET, HEAD")]
            body = f"{request.method} is not supported\n"
            await self._simple(writer, 405, body, keep=keep, extra=extra)
            return 405
        faults = plan.faults
        if plan.fail and faults.fail_status is not None:
            extra = []
            if faults.retry_after is not None:
                extra.append(("Retry-After", str(math.ceil(faults.retry_after))))
            body = f"{faults.fail_status} injected by the model server\n"
            await self._simple(
                writer, faults.fail_status, body, keep=keep, extra=extra, head_only=head_only
            )
            return faults.fail_status
        if faults.redirect_to is not None:
            target = faults.redirect_to
            location = self.url(target) if target.startswith("/") else target
            extra = [("Location", location)]
            await self._simple(
                writer, 302, f"moved to {location}\n", keep=keep, extra=extra, head_only=head_only
            )
            return 302
        if f is None:
            body = f"no file is served at {request.path}\n"
            await self._simple(writer, 404, body, keep=keep, head_only=head_only)
            return 404
        return None

    async def _send_body(
        self,
        f: ModelFile,
        start: int,
        end: int,
        faults: Faults,
        rate: int | None,
        state: PathState,
        path: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> tuple[int, bool]:
        """Write [start, end) at ``rate`` bytes/s (None: uncapped) with the byte-level faults;
        (bytes sent, completed normally)."""
        loop = asyncio.get_running_loop()
        transport = writer.transport
        total = end - start
        stall_at = _within(faults.stall_after, total)
        drop_at = _within(faults.drop_after, total)
        chunk = self._chunk if rate is None else max(4096, min(self._chunk, rate // 50))
        corrupt = faults.corrupt_byte_at
        written = 0  # handed to the transport
        counted = 0  # reported as sent (left the transport's buffer)
        began = loop.time()

        def account(final: bool) -> None:
            nonlocal counted
            done = written if final else written - transport.get_write_buffer_size()
            if done > counted:
                state.add_bytes(done - counted)
                counted = done

        try:
            while written < total:
                if stall_at is not None and written == stall_at:
                    stall_at = None
                    await self._drain(writer)
                    if await self._stall(path, state, faults.stall_requests, reader):
                        account(False)
                        return counted, False
                    if rate is not None:
                        began = loop.time() - written / rate
                if drop_at is not None and written == drop_at:
                    drop_at = None
                    if state.take_drop(faults.drop_requests):
                        await self._drain(writer)
                        account(True)
                        return counted, False
                n = min(chunk, total - written)
                for limit in (stall_at, drop_at):
                    if limit is not None:
                        n = min(n, limit - written)
                if rate is not None:
                    # Sleep first, so n bytes take n / rate seconds from the first one on.
                    delay = began + (written + n) / rate - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                pos = start + written
                data = f.read(pos, n)
                if corrupt is not None and pos <= corrupt < pos + n:
                    flipped = bytearray(data)
                    flipped[corrupt - pos] ^= 0xFF
                    data = bytes(flipped)
                writer.write(data)
                written += n
                await self._drain(writer)
                account(False)
        except (ConnectionError, asyncio.TimeoutError):
            return counted, False
        account(True)
        return counted, True

    async def _stall(
        self, path: str, state: PathState, limit: int | None, reader: asyncio.StreamReader
    ) -> bool:
        """Hold a response until release_stalls() or the client leaves; True when it left.

        The waiter is registered before the stall is counted, so a caller that sees the count
        and calls release_stalls() always releases it.
        """
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiters[waiter] = path
        if self._closing or not state.take_stall(limit):
            with self._lock:
                self._waiters.pop(waiter, None)
            return self._closing
        gone = asyncio.ensure_future(reader.read(1))
        pending: set[asyncio.Future[Any]] = {waiter, gone}
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            with self._lock:
                self._waiters.pop(waiter, None)
            left = gone.done()
            if left:
                gone.exception()  # retrieved, so a reset is not logged as unhandled
            else:
                gone.cancel()
        # Anything read while stalled (EOF or bytes of a pipelined request) ends the connection.
        return left or self._closing


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _asks_more_than_one_byte(range_header: str | None, size: int) -> bool:
    """Whether a request's Range asks for a real piece of the file, not a one-byte probe."""
    try:
        span = parse_range(range_header, size)
    except Unsatisfiable:
        return False
    return span is not None and span[1] - span[0] > 1


def _within(limit: int | None, total: int) -> int | None:
    """A byte limit that falls inside a body of total bytes (one at or past the end is moot)."""
    return limit if limit is not None and limit < total else None
