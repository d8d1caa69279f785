"""A GNU wget stand-in that really downloads, and logs as wget does without a terminal.

Without a terminal GNU wget writes "dot" progress to stderr: one dot per KiB, groups of ten,
fifty per row, each row ending with the percentage, the row's rate and an ETA; the last row
ends with `=` and the elapsed time. Dropped connections are retried with a Range request (the
row of the resumed part shows the skipped dots as commas). Exit codes follow wget's: 0 ok,
1 generic (e.g. the -O file cannot be opened), 2 bad option, 3 file I/O (ENOSPC),
4 network failure, 8 an error answer from the server. The pod's locale is C, so file names
are quoted with ASCII quotes.

Supported: URL..., -O FILE, -P DIR, -c, -q, -nv, -t N / --tries=N, -T S / --timeout=S,
--read-timeout=S, --progress=dot[:default]; only http URLs to IP literals or localhost
(there is no DNS in the simulator).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import posixpath
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx

from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import FsError
from simcluster.kubelet.programs.netio import OutputFile, http_client
from simcluster.kubelet.programs.supervise import gate

DOT = 1024
DOTS_PER_GROUP = 10
DOTS_PER_ROW = 50
ROW = DOT * DOTS_PER_ROW
DEFAULT_TRIES = 20
DEFAULT_READ_TIMEOUT = 900.0
MAX_REDIRECTS = 20

EXIT_GENERIC = 1
EXIT_USAGE = 2
EXIT_IO = 3
EXIT_NETWORK = 4
EXIT_SERVER = 8

USAGE = "Usage: wget [OPTION]... [URL]...\n\nTry `wget --help' for more options.\n"


@dataclass
class WgetOptions:
    urls: list[str]
    output: str | None = None
    prefix: str = "."
    resume: bool = False
    quiet: bool = False
    brief: bool = False  # -nv
    tries: int = DEFAULT_TRIES
    read_timeout: float = DEFAULT_READ_TIMEOUT


class UsageError(Exception):
    pass


def parse_args(args: list[str]) -> WgetOptions:
    opts = WgetOptions(urls=[])
    i = 0

    def value(name: str) -> str:
        nonlocal i
        i += 1
        if i >= len(args):
            raise UsageError(f"wget: option requires an argument -- '{name}'\n")
        return args[i]

    while i < len(args):
        a = args[i]
        long_name, _, inline = a.partition("=")
        if a == "-O" or long_name == "--output-document":
            opts.output = inline if "=" in a else value("O")
        elif a.startswith("-O") and len(a) > 2:
            opts.output = a[2:]
        elif a == "-P" or long_name == "--directory-prefix":
            opts.prefix = inline if "=" in a else value("P")
        elif a in ("-c", "--continue"):
            opts.resume = True
        elif a in ("-q", "--quiet"):
            opts.quiet = True
        elif a in ("-nv", "--no-verbose"):
            opts.brief = True
        elif a == "-t" or long_name == "--tries":
            opts.tries = int(_number(inline if "=" in a else value("t"), "tries", int))
        elif a == "-T" or long_name in ("--timeout", "--read-timeout"):
            opts.read_timeout = _number(inline if "=" in a else value("T"), "timeout", float)
        elif long_name == "--progress":
            if not inline.startswith("dot") and not inline.startswith("bar"):
                raise UsageError(f"wget: --progress: Invalid progress type '{inline}'.\n")
        elif a.startswith("-") and a != "-":
            if a.startswith("--"):
                raise UsageError(f"wget: unrecognized option '{a}'\n")
            raise UsageError(f"wget: invalid option -- '{a[1:2]}'\n")
        else:
            opts.urls.append(a)
        i += 1
    if opts.tries == 0:
        opts.tries = 1_000_000  # wget's "inf"
    return opts


def _number(text: str, what: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"wget: {what}: Invalid number '{text}'.\n") from None
    if value < 0:
        raise UsageError(f"wget: {what}: Invalid number '{text}'.\n")
    return value


# -- formatting (wget's own rules) --------------------------------------------------------------


def human_size(n: int) -> str:
    """`3.0M`, `300M`, `25G`: one decimal below 10 of the unit."""
    if n < 1024:
        return str(n)
    value = float(n)
    for unit in "KMGTPE":
        value /= 1024
        if value < 1024 or unit == "E":
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return str(n)


def _precision(value: float) -> int:
    return 0 if value >= 99.95 else 1 if value >= 9.995 else 2


def _rate_units(bytes_per_s: float) -> tuple[float, int]:
    unit = 0
    value = bytes_per_s
    while value >= 1024 and unit < 3:
        value /= 1024
        unit += 1
    return value, unit


def row_rate(nbytes: int, seconds: float) -> str:
    value, unit = _rate_units(nbytes / max(seconds, 1e-6))
    return f"{value:4.{_precision(value)}f}{' KMG'[unit]}"


def summary_rate(nbytes: int, seconds: float) -> str:
    value, unit = _rate_units(nbytes / max(seconds, 1e-6))
    return f"{value:.{_precision(value)}f} {('B/s', 'KB/s', 'MB/s', 'GB/s')[unit]}"


def short_duration(secs: int) -> str:
    if secs < 100:
        return f"{secs}s"
    if secs < 100 * 60:
        return f"{secs // 60}m{secs % 60}s"
    if secs < 48 * 3600:
        return f"{secs // 3600}h{(secs // 60) % 60}m"
    if secs < 100 * 86400:
        return f"{secs // 86400}d{(secs // 3600) % 24}h"
    return f"{secs // 86400}d"


def elapsed_text(seconds: float) -> str:
    if seconds >= 10:
        return short_duration(int(seconds + 0.5))
    if seconds >= 0.95:
        return f"{seconds:.1f}s"
    if seconds >= 0.001:
        return f"{seconds:.1g}s"
    return "0s"


def stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


class DotProgress:
    """wget's dot progress for one response: feed byte counts, get the text to write."""

    def __init__(self, total: int | None, start: int, now: float) -> None:
        self.total = total
        self.initial = start
        self.pos = start
        self.begun = now
        self.row_begun = now
        self.row_new = 0
        row_start = start - start % ROW
        skipped_dots = (start - row_start) // DOT
        self.dots = 0
        self.partial = start % DOT  # bytes already counted toward the next dot
        text = ""
        if row_start:
            text += f"\n        [ skipping {row_start // 1024}K ]"
        text += f"\n{row_start // 1024:6d}K"
        for _ in range(skipped_dots):
            text += self._dot(",")
        self.opening = text

    def _dot(self, mark: str) -> str:
        text = " " if self.dots % DOTS_PER_GROUP == 0 else ""
        self.dots += 1
        return text + mark

    def _stats(self, now: float, last: bool) -> str:
        text = ""
        if self.total:
            text += f"{int(100 * self.pos / self.total):3d}%"
        text += " " + row_rate(self.row_new, now - self.row_begun)
        if last:
            return text + "=" + elapsed_text(now - self.begun)
        if self.total:
            done = self.pos - self.initial
            left = max(self.total - self.pos, 0)
            eta = (now - self.begun) * left / done if done else 0
            text += " " + short_duration(int(eta + 0.5))
        return text

    def feed(self, nbytes: int, now: float) -> str:
        out = []
        self.partial += nbytes
        self.row_new += nbytes
        while self.partial >= DOT:
            self.partial -= DOT
            self.pos += DOT
            out.append(self._dot("."))
            if self.dots == DOTS_PER_ROW:
                # The bytes of the partial dot belong to the next row.
                self.row_new -= self.partial
                out.append(self._stats(now, last=False))
                out.append(f"\n{self.pos // 1024:6d}K")
                self.dots = 0
                self.row_begun = now
                self.row_new = self.partial
        return "".join(out)

    def finish(self, now: float) -> str:
        """The rest of the last row: padding, then the stats with the elapsed time."""
        self.pos += self.partial
        self.partial = 0
        pad = []
        for i in range(self.dots, DOTS_PER_ROW):
            if i % DOTS_PER_GROUP == 0:
                pad.append(" ")
            pad.append(" ")
        return "".join(pad) + self._stats(now, last=True) + "\n"


# -- the program --------------------------------------------------------------------------------


class _Log:
    def __init__(self, ctx: ProcContext, opts: WgetOptions) -> None:
        self.ctx = ctx
        self.opts = opts

    async def verbose(self, text: str) -> None:
        if text and not self.opts.quiet and not self.opts.brief:
            await self.ctx.io.write_stderr(text.encode())

    async def always(self, text: str) -> None:
        if text and not self.opts.quiet:
            await self.ctx.io.write_stderr(text.encode())


async def run_wget(argv: list[str], ctx: ProcContext) -> int:
    try:
        opts = parse_args(argv[1:])
    except UsageError as exc:
        await ctx.io.write_stderr((str(exc) + USAGE).encode())
        return EXIT_USAGE
    if not opts.urls:
        await ctx.io.write_stderr(("wget: missing URL\n" + USAGE).encode())
        return EXIT_GENERIC
    if opts.output is not None and len(opts.urls) > 1 and not opts.quiet:
        await ctx.io.write_stderr(b"WARNING: combining -O with multiple URLs.\n")
    log = _Log(ctx, opts)
    worst = 0
    async with http_client(opts.read_timeout) as client:
        for url in opts.urls:
            code = await _Fetch(ctx, opts, log, client, url).run()
            worst = code if worst == 0 else worst
    return worst


def _file_name(url: str) -> str:
    name = posixpath.basename(unquote(urlsplit(url).path))
    return name if name not in ("", ".", "..") else "index.html"


class _Fetch:
    def __init__(
        self,
        ctx: ProcContext,
        opts: WgetOptions,
        log: _Log,
        client: httpx.AsyncClient,
        url: str,
    ) -> None:
        self.ctx = ctx
        self.opts = opts
        self.log = log
        self.client = client
        self.url = url
        if opts.output is not None:
            self.target = opts.output
        else:
            self.target = posixpath.join(opts.prefix, _file_name(url))
            if self.target.startswith("./"):
                self.target = self.target[2:]
        self.out: OutputFile | None = None
        self.total: int | None = None

    async def run(self) -> int:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https"):
            await self.log.always(f"{self.url}: Unsupported scheme '{parts.scheme}'.\n")
            return EXIT_GENERIC
        if parts.scheme == "https":
            await self.log.always("ERROR: https is not available in the simulator.\n")
            return 5
        if self.opts.output is not None:
            try:
                self.out = await OutputFile.open(self.ctx, self.target, keep=self.opts.resume)
            except FsError as exc:
                await self.log.always(f"{self.target}: {exc.strerror}\n")
                return EXIT_GENERIC
        try:
            return await self._tries()
        finally:
            if self.out is not None:
                try:
                    await self.out.close()
                except OSError:
                    self.out.discard()

    async def _tries(self) -> int:
        url = self.url
        redirects = 0
        attempt = 1
        while True:
            outcome = await self._attempt(url, attempt)
            if isinstance(outcome, str):  # a redirect
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    await self.log.always(f"{MAX_REDIRECTS} redirections exceeded.\n")
                    return EXIT_SERVER
                url = outcome
                continue
            code, retry = outcome
            if not retry:
                return code
            if attempt >= self.opts.tries:
                await self.log.verbose("Giving up.\n\n")
                return EXIT_NETWORK
            await asyncio.sleep(min(attempt, 10))
            attempt += 1

    async def _attempt(self, url: str, attempt: int) -> tuple[int, bool] | str:
        """One request: (exit code, worth retrying) or a redirect target."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        tried = f"  (try:{attempt:2d})" if attempt > 1 else ""
        await self.log.verbose(f"--{stamp()}--{tried}  {url}\n")
        if host == "localhost":
            await self.log.verbose(f"Resolving {host} ({host})... 127.0.0.1\n")
            await self.log.verbose(f"Connecting to {host} ({host})|127.0.0.1|:{port}... ")
        elif _is_ip(host):
            await self.log.verbose(f"Connecting to {host}:{port}... ")
        else:
            failed = "failed: Name or service not known."
            await self.log.verbose(f"Resolving {host} ({host})... {failed}\n")
            await self.log.always(f"wget: unable to resolve host address '{host}'\n")
            return EXIT_NETWORK, False
        start = self.out.size if self.out is not None else 0
        headers = {"User-Agent": "Wget/1.21.3", "Accept": "*/*", "Accept-Encoding": "identity"}
        if start:
            headers["Range"] = f"bytes={start}-"
        request = self.client.build_request("GET", url, headers=headers)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.ConnectError:
            await self.log.always("failed: Connection refused.\n")
            return EXIT_NETWORK, False
        except httpx.TimeoutException:
            await self.log.always("failed: Connection timed out.\nRetrying.\n\n")
            return EXIT_NETWORK, True
        except httpx.HTTPError as exc:
            await self.log.always(f"failed: {exc}.\nRetrying.\n\n")
            return EXIT_NETWORK, True
        try:
            return await self._answer(response, url, start)
        finally:
            await response.aclose()

    async def _answer(
        self, response: httpx.Response, url: str, start: int
    ) -> tuple[int, bool] | str:
        status = response.status_code
        phrase = response.reason_phrase
        await self.log.verbose(
            f"connected.\nHTTP request sent, awaiting response... {status} {phrase}\n"
        )
        if status in (301, 302, 303, 307, 308) and response.headers.get("location"):
            location = str(response.url.join(response.headers["location"]))
            await self.log.verbose(f"Location: {location} [following]\n")
            return location
        if status == 416 and start:
            await self.log.verbose("\n    The file is already fully retrieved; nothing to do.\n\n")
            return 0, False
        if status >= 400:
            await self.log.always(f"{stamp()} ERROR {status}: {response.reason_phrase}.\n\n")
            return EXIT_SERVER, False
        if status not in (200, 206):
            await self.log.always(f"{stamp()} ERROR {status}: {response.reason_phrase}.\n\n")
            return EXIT_SERVER, False
        kind = response.headers.get("content-type", "")
        shown_kind = f" [{kind}]" if kind else ""
        length = response.headers.get("content-length")
        body_len = int(length) if length and length.isdigit() else None
        if status == 200:
            start = 0
            if self.out is not None and self.out.size:
                await self._reopen()
            self.total = body_len
            if body_len is None:
                await self.log.verbose(f"Length: unspecified{shown_kind}\n")
            else:
                await self.log.verbose(f"Length: {body_len} ({human_size(body_len)}){shown_kind}\n")
        else:
            total = _range_total(response.headers.get("content-range", ""))
            self.total = total
            left = body_len if body_len is not None else (total - start if total else 0)
            shown_total = f"{total} ({human_size(total)})" if total else "unspecified"
            await self.log.verbose(
                f"Length: {shown_total}, {left} ({human_size(left)}) remaining{shown_kind}\n"
            )
        if self.out is None:
            try:
                self.out = await OutputFile.open(self.ctx, self.target)
            except FsError as exc:
                await self.log.always(f"{self.target}: {exc.strerror}\n")
                return EXIT_IO, False
        await self.log.verbose(f"Saving to: '{self.target}'\n")
        return await self._body(response, start)

    async def _reopen(self) -> None:
        assert self.out is not None
        await self.out.close()
        self.out = await OutputFile.open(self.ctx, self.target)

    async def _body(self, response: httpx.Response, start: int) -> tuple[int, bool]:
        assert self.out is not None
        loop = asyncio.get_running_loop()
        begun = loop.time()
        dots = DotProgress(self.total, start, begun)
        await self.log.verbose(dots.opening)
        got = 0
        try:
            async for chunk in response.aiter_raw():
                await gate(self.ctx)
                try:
                    await self.out.write(chunk)
                except OSError as exc:
                    return await self._write_failed(dots, loop.time(), exc)
                got += len(chunk)
                await self.log.verbose(dots.feed(len(chunk), loop.time()))
            await self.out.flush()
        except OSError as exc:
            return await self._write_failed(dots, loop.time(), exc)
        except httpx.TimeoutException:
            now = loop.time()
            await self.log.verbose(dots.finish(now) + "\n")
            total = f"/{self.total}" if self.total else ""
            await self.log.always(
                f"{stamp()} ({summary_rate(got, now - begun)}) - Read error at byte "
                f"{start + got}{total} (Connection timed out). Retrying.\n\n"
            )
            return EXIT_NETWORK, True
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.NetworkError):
            pass
        now = loop.time()
        done = start + got
        await self.log.verbose(dots.finish(now) + "\n")
        if self.total is not None and done < self.total:
            await self.log.always(
                f"{stamp()} ({summary_rate(got, now - begun)}) - Connection closed at byte "
                f"{done}. Retrying.\n\n"
            )
            return EXIT_NETWORK, True
        size = f"[{done}/{self.total}]" if self.total is not None else f"[{done}]"
        if self.opts.brief and not self.opts.quiet:
            await self.log.always(f'{stamp()} URL:{self.url} {size} -> "{self.target}" [1]\n')
        else:
            await self.log.verbose(
                f"{stamp()} ({summary_rate(got, now - begun)}) - '{self.target}' saved {size}\n\n"
            )
        return 0, False

    async def _write_failed(self, dots: DotProgress, now: float, exc: OSError) -> tuple[int, bool]:
        await self.log.verbose(dots.finish(now) + "\n\n")
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        await self.log.always(f"Cannot write to '{self.target}' ({reason}).\n")
        if self.out is not None:
            self.out.discard()
            self.out = None
        return EXIT_IO, False


def _range_total(content_range: str) -> int | None:
    _, _, total = content_range.rpartition("/")
    return int(total) if total.isdigit() else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
