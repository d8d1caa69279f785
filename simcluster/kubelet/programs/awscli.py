"""An `aws s3 cp s3://BUCKET/KEY DEST` stand-in that really downloads from an S3-like endpoint.

The endpoint is path-style (`$AWS_ENDPOINT_URL_S3` or `$AWS_ENDPOINT_URL` or
`--endpoint-url`, then `/BUCKET/KEY`), which is how the scenarios point it at the model server.
Like the real CLI it asks HeadObject first, downloads objects larger than 8 MiB as 8 MiB
ranged parts over up to 10 connections (each part retried up to 5 times), writes to
`DEST.<8 random chars>` and renames it into place at the end.

Its output is what the real tool writes to a pipe: `Completed 1.2 MiB/300.0 MiB (4.8 MiB/s)
with 1 file(s) remaining`, padded to the previous statement's length and ended by `\\r` — one
per 256 KiB received and no newline until the final `download: s3://... to ...` line. Exit
codes: 0 ok, 1 a failed transfer or a fatal error, 252 a usage error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import secrets
import string
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import FsError
from simcluster.kubelet.programs.netio import http_client
from simcluster.kubelet.programs.supervise import gate

PART_SIZE = 8 * 1024 * 1024
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MAX_CONCURRENCY = 10
MAX_ATTEMPTS = 5
PROGRESS_EVERY = 256 * 1024
READ_TIMEOUT = 60.0
EXIT_FAILED = 1
EXIT_USAGE = 252

USAGE = (
    "usage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\n"
    "To see help text, you can run:\n\n  aws help\n  aws <command> help\n"
    "  aws <command> <subcommand> help\n\n"
)
_SUFFIX_CHARS = string.ascii_letters + string.digits


def human_readable_size(value: float) -> str:
    """awscli's sizes: `1 Byte`, `512 Bytes`, `256.0 KiB`, `300.0 MiB`."""
    if value == 1:
        return "1 Byte"
    if value < 1024:
        return f"{int(value)} Bytes"
    for i, suffix in enumerate(("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")):
        unit = 1024 ** (i + 2)
        if round(value / unit * 1024) < 1024 or suffix == "EiB":
            return f"{1024 * value / unit:.1f} {suffix}"
    return f"{value:.1f} EiB"


@dataclass
class CpOptions:
    source: str
    dest: str
    endpoint: str | None
    progress: bool = True
    quiet: bool = False
    only_errors: bool = False


class Usage(Exception):
    pass


class Fatal(Exception):
    """`fatal error: ...`, exit 1."""


def parse_args(args: list[str], env: dict[str, str]) -> CpOptions:
    if len(args) < 2 or args[0] != "s3" or args[1] != "cp":
        if args and args[0] == "s3" and len(args) > 1:
            raise Usage(
                f"aws: error: argument subcommand: Invalid choice: '{args[1]}' "
                "(simcluster's aws knows only 's3 cp')\n"
            )
        raise Usage("aws: error: the following arguments are required: command\n")
    positional: list[str] = []
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    opts = CpOptions("", "", endpoint)
    rest = args[2:]
    i = 0
    while i < len(rest):
        a = rest[i]
        name, eq, inline = a.partition("=")
        if name in ("--endpoint-url", "--region", "--profile", "--expected-size"):
            if eq:
                val = inline
            else:
                i += 1
                if i >= len(rest):
                    raise Usage(f"aws: error: argument {name}: expected one argument\n")
                val = rest[i]
            if name == "--endpoint-url":
                opts.endpoint = val
        elif a == "--no-progress":
            opts.progress = False
        elif a == "--quiet":
            opts.quiet = True
        elif a == "--only-show-errors":
            opts.only_errors = True
        elif a in ("--no-sign-request", "--no-verify-ssl", "--recursive"):
            if a == "--recursive":
                raise Usage("aws: error: simcluster's aws s3 cp copies one object only\n")
        elif a.startswith("--"):
            raise Usage(f"\nUnknown options: {a}\n")
        else:
            positional.append(a)
        i += 1
    if len(positional) != 2:
        raise Usage("aws: error: the following arguments are required: paths\n")
    opts.source, opts.dest = positional
    if not opts.source.startswith("s3://"):
        raise Usage("aws: error: simcluster's aws s3 cp only downloads: the source must be s3://\n")
    return opts


async def run_aws(argv: list[str], ctx: ProcContext) -> int:
    try:
        opts = parse_args(argv[1:], ctx.env)
    except Usage as exc:
        await ctx.io.write_stderr((USAGE + str(exc)).encode())
        return EXIT_USAGE
    return await _Copy(ctx, opts).run()


class _Printer:
    """ResultPrinter's habits: pad over the last progress statement, `\\r` after progress."""

    def __init__(self, ctx: ProcContext, opts: CpOptions) -> None:
        self.ctx = ctx
        self.opts = opts
        self.length = 0

    def _pad(self, text: str, end: str) -> str:
        return text.ljust(self.length) + end

    async def progress(self, text: str) -> None:
        if self.opts.quiet or self.opts.only_errors or not self.opts.progress:
            return
        line = self._pad(text, "\r")
        self.length = len(line) - 1
        await self.ctx.io.write_stdout(line.encode())

    async def success(self, text: str) -> None:
        if self.opts.quiet or self.opts.only_errors:
            return
        line = self._pad(text, "\n")
        self.length = 0
        await self.ctx.io.write_stdout(line.encode())

    async def error(self, text: str) -> None:
        if self.opts.quiet:
            return
        line = self._pad(text, "\n")
        self.length = 0
        await self.ctx.io.write_stderr(line.encode())


class _Copy:
    def __init__(self, ctx: ProcContext, opts: CpOptions) -> None:
        self.ctx = ctx
        self.opts = opts
        self.out = _Printer(ctx, opts)
        bucket, _, key = opts.source[len("s3://") :].partition("/")
        self.bucket = bucket
        self.key = key
        self.done = 0
        self.total = 0
        self.reported = 0
        self.rate = 0.0
        self._last = (0.0, 0)
        self._start = 0.0
        self._lock = asyncio.Lock()

    def _url(self) -> str:
        assert self.opts.endpoint is not None
        return f"{self.opts.endpoint.rstrip('/')}/{quote(self.bucket)}/{quote(self.key)}"

    def _dest_path(self) -> str:
        dest = self.opts.dest
        name = posixpath.basename(self.key)
        if dest.endswith("/") or self.ctx.fs.is_dir(dest, self.ctx.cwd):
            return posixpath.join(dest, name)
        return dest

    def _shown_dest(self, path: str) -> str:
        full = posixpath.normpath(posixpath.join(self.ctx.cwd, path))
        return posixpath.relpath(full, self.ctx.cwd)

    async def run(self) -> int:
        if not self.bucket or not self.key or self.key.endswith("/"):
            await self.out.error(f"fatal error: Invalid S3 object path: {self.opts.source}")
            return EXIT_FAILED
        if not self.opts.endpoint:
            await self.out.error(
                f'fatal error: Could not connect to the endpoint URL: "{self.opts.source}" '
                "(simcluster: set AWS_ENDPOINT_URL to the model server)"
            )
            return EXIT_FAILED
        dest = self._dest_path()
        shown = self._shown_dest(dest)
        location = f"{self.opts.source} to {shown}"
        async with http_client(READ_TIMEOUT) as client:
            try:
                self.total = await self._head(client)
            except Fatal as exc:
                await self.out.error(f"fatal error: {exc}")
                return EXIT_FAILED
            temp = f"{dest}.{''.join(secrets.choice(_SUFFIX_CHARS) for _ in range(8))}"
            try:
                fd, host_temp = await self._open(temp)
            except FsError as exc:
                reason = f"[Errno {exc.errno}] {exc.strerror}: '{dest}'"
                await self.out.error(f"download failed: {location} {reason}")
                return EXIT_FAILED
            try:
                await self._download(client, fd)
                await asyncio.to_thread(os.fsync, fd)
            except (Fatal, OSError) as exc:
                await asyncio.to_thread(_close_and_remove, fd, host_temp)
                reason = _reason(exc)
                await self.out.error(f"download failed: {location} {reason}")
                return EXIT_FAILED
            except BaseException:
                await asyncio.to_thread(_close_and_remove, fd, host_temp)
                raise
            await asyncio.to_thread(os.close, fd)
            try:
                final = self.ctx.fs.resolve(dest, self.ctx.cwd).writable()
                await asyncio.to_thread(os.replace, host_temp, final)
            except (FsError, OSError) as exc:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(os.unlink, host_temp)
                await self.out.error(f"download failed: {location} {_reason(exc)}")
                return EXIT_FAILED
        if self.done != self.reported:
            await self._report()
        await self.out.success(f"download: {location}")
        return 0

    async def _open(self, temp: str) -> tuple[int, str]:
        host = str(self.ctx.fs.resolve(temp, self.ctx.cwd).writable())
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = await asyncio.to_thread(os.open, host, flags, 0o644)
        except OSError as exc:
            raise FsError(exc.errno or 5, temp) from None
        return fd, host

    async def _head(self, client: httpx.AsyncClient) -> int:
        last = ""
        for attempt in range(MAX_ATTEMPTS):
            try:
                r = await client.head(self._url())
            except httpx.HTTPError as exc:
                name = type(exc).__name__
                last = f'Could not connect to the endpoint URL: "{self._url()}" ({name})'
            else:
                if r.status_code == 200:
                    length = r.headers.get("content-length", "")
                    if not length.isdigit():
                        raise Fatal("the endpoint answered HeadObject without a Content-Length")
                    return int(length)
                if r.status_code == 404:
                    raise Fatal(
                        "An error occurred (404) when calling the HeadObject operation: "
                        f'Key "{self.key}" does not exist'
                    )
                if r.status_code < 500 and r.status_code != 429:
                    raise Fatal(
                        f"An error occurred ({r.status_code}) when calling the HeadObject "
                        f"operation: {r.reason_phrase}"
                    )
                last = (
                    f"An error occurred ({r.status_code}) when calling the HeadObject operation "
                    f"(reached max retries: {MAX_ATTEMPTS - 1}): {r.reason_phrase}"
                )
            await asyncio.sleep(min(0.5 * 2**attempt, 5.0))
        raise Fatal(last)

    async def _download(self, client: httpx.AsyncClient, fd: int) -> None:
        if self.total <= MULTIPART_THRESHOLD:
            parts = [(0, self.total)]
        else:
            parts = [(o, min(o + PART_SIZE, self.total)) for o in range(0, self.total, PART_SIZE)]
        queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self._start = asyncio.get_running_loop().time()
        self._last = (self._start, 0)
        for p in parts:
            queue.put_nowait(p)
        ranged = len(parts) > 1

        async def worker() -> None:
            while True:
                try:
                    start, end = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await self._part(client, fd, start, end, ranged)

        workers = [asyncio.create_task(worker()) for _ in range(min(MAX_CONCURRENCY, len(parts)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _part(
        self, client: httpx.AsyncClient, fd: int, start: int, end: int, ranged: bool
    ) -> None:
        """One GetObject (ranged for multipart), restarted from its start on a retriable error."""
        last = ""
        for attempt in range(MAX_ATTEMPTS):
            got = 0
            last_byte = "" if end >= self.total else str(end - 1)  # the CLI leaves the last open
            headers = {"Range": f"bytes={start}-{last_byte}"} if ranged else {}
            try:
                async with client.stream("GET", self._url(), headers=headers) as r:
                    if r.status_code not in (200, 206):
                        code, phrase = r.status_code, r.reason_phrase
                        if code < 500 and code != 429:
                            raise Fatal(
                                f"An error occurred ({code}) when calling the GetObject "
                                f"operation: {phrase}"
                            )
                        last = (
                            f"An error occurred ({code}) when calling the GetObject operation "
                            f"(reached max retries: {MAX_ATTEMPTS - 1}): {phrase}"
                        )
                    else:
                        async for chunk in r.aiter_raw():
                            await gate(self.ctx)
                            await asyncio.to_thread(_pwrite_all, fd, chunk, start + got)
                            got += len(chunk)
                            await self._progress(len(chunk))
                        if got == end - start:
                            return
                        last = _transport_reason(None, self._url())
            except httpx.TransportError as exc:
                last = _transport_reason(exc, self._url())
            await self._progress(-got)
            await asyncio.sleep(min(0.5 * 2**attempt, 5.0))
        raise Fatal(last)

    async def _progress(self, n: int) -> None:
        """Count bytes; one statement per 256 KiB received, as the CLI's callbacks fire."""
        self.done += n
        if n < 0:
            self.reported = min(self.reported, self.done)
            return
        while self.done - self.reported >= PROGRESS_EVERY:
            await self._report(self.reported + PROGRESS_EVERY)

    async def _report(self, shown: int | None = None) -> None:
        now = asyncio.get_running_loop().time()
        t0, b0 = self._last
        if not self.rate and now > self._start:
            self.rate = self.done / (now - self._start)
        if now - t0 >= 0.05:
            sample = (self.done - b0) / (now - t0)
            self.rate = sample if not self.rate else 0.7 * self.rate + 0.3 * sample
            self._last = (now, self.done)
        self.reported = self.done if shown is None else shown
        async with self._lock:
            await self.out.progress(
                f"Completed {human_readable_size(self.reported)}/{human_readable_size(self.total)} "
                f"({human_readable_size(self.rate)}/s) with 1 file(s) remaining"
            )


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def _close_and_remove(fd: int, path: str) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(path)


def _transport_reason(exc: BaseException | None, url: str) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f'Read timeout on endpoint URL: "{url}"'
    return f'Connection was closed before we received a valid response from endpoint URL: "{url}".'


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"[Errno {exc.errno}] {exc.strerror}"
    if isinstance(exc, FsError):
        return f"[Errno {exc.errno}] {exc.strerror}"
    return str(exc)
