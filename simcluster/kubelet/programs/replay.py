"""`sim-replay`: a container that plays back a recorded log as its output, byte for byte.

    sim-replay [--timing FILE] [--speed X] [--exit-code N] LOGFILE

The log's bytes are written exactly as recorded (`\\r`, CRLF and escape codes kept). Without
a timing file everything is written at once. The timing file is the one `script --timing`
writes: one `DELAY BYTES` line per write (seconds to wait, then that many bytes of the log),
or util-linux's advanced form with a type letter first (`O DELAY BYTES`; input, signal and
header entries are skipped). `--speed 2` plays twice as fast; `--speed 0` (or `max`) ignores
the pace. Log bytes the timing file does not cover are written at the end. A typescript from
`script` (first line `Script started on ...`) loses that header line and, when timed, the
`Script done` trailer, as `scriptreplay` does. The program then exits with `--exit-code`
(default 0).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import FsError

MAX_TIMING_BYTES = 16 * 1024 * 1024
MAX_WRITE = 64 * 1024
PROG = "sim-replay"
SCRIPT_HEADER = b"Script started on "


class ReplayError(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Step:
    delay: float
    length: int


@dataclass
class ReplayOptions:
    log: str
    timing: str | None = None
    speed: float = 1.0
    exit_code: int = 0


def parse_speed(text: str) -> float:
    """A playback factor; 0, `max` or `inf` mean all at once (returned as 0)."""
    if text.lower() in ("max", "inf", "infinity"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ReplayError(
            f"{PROG}: --speed must be a number like 1, 2.5 or 0 (all at once), got {text!r}"
        )
    return value


def parse_args(args: list[str]) -> ReplayOptions:
    log = None
    opts = ReplayOptions(log="")
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, inline = a.partition("=")
        if name in ("--timing", "--speed", "--exit-code", "-t"):
            if eq:
                value = inline
            else:
                i += 1
                if i >= len(args):
                    raise ReplayError(f"{PROG}: {name} needs a value")
                value = args[i]
            if name in ("--timing", "-t"):
                opts.timing = value
            elif name == "--speed":
                opts.speed = parse_speed(value)
            else:
                try:
                    opts.exit_code = int(value)
                except ValueError:
                    raise ReplayError(f"{PROG}: --exit-code must be 0-255, got {value!r}") from None
                if not 0 <= opts.exit_code <= 255:
                    raise ReplayError(f"{PROG}: --exit-code must be 0-255, got {value!r}")
        elif a.startswith("-") and a != "-":
            raise ReplayError(f"{PROG}: unknown option {a!r}")
        elif log is None:
            log = a
        else:
            raise ReplayError(f"{PROG}: give one log file, got {log!r} and {a!r}")
        i += 1
    if log is None:
        raise ReplayError(f"usage: {PROG} [--timing FILE] [--speed X] [--exit-code N] LOGFILE")
    opts.log = log
    return opts


def parse_timing(text: str, where: str) -> list[Step]:
    """`DELAY BYTES` lines, or `O DELAY BYTES` (advanced format; other types skipped)."""
    steps = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields[0]) == 1 and fields[0].isalpha():
            kind = fields[0]
            if kind != "O":
                continue  # input, signal and header entries carry no output
            fields = fields[1:]
        try:
            if len(fields) != 2:
                raise ValueError
            delay = float(fields[0])
            length = int(fields[1])
            if delay < 0 or length < 0 or delay != delay:
                raise ValueError
        except ValueError:
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise ReplayError(
                f"{PROG}: {where}:{number}: expected 'DELAY BYTES' (e.g. '0.25 80'), got {shown!r}"
            ) from None
        steps.append(Step(delay, length))
    return steps


def _read_all(ctx: ProcContext, path: str, limit: int) -> bytes:
    fd = ctx.fs.open_read(path, ctx.cwd)
    try:
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                return data
            data += chunk
        raise ReplayError(f"{PROG}: {path}: larger than {limit} bytes")
    finally:
        os.close(fd)


async def run_replay(argv: list[str], ctx: ProcContext) -> int:
    try:
        opts = parse_args(argv[1:])
        steps: list[Step] = []
        if opts.timing is not None:
            raw = await asyncio.to_thread(_read_all, ctx, opts.timing, MAX_TIMING_BYTES)
            steps = parse_timing(raw.decode("utf-8", errors="replace"), opts.timing)
        fd = await asyncio.to_thread(ctx.fs.open_read, opts.log, ctx.cwd)
    except FsError as exc:
        await ctx.io.write_stderr(f"{PROG}: {exc.path}: {exc.strerror}\n".encode())
        return 1
    except ReplayError as exc:
        await ctx.io.write_stderr(f"{exc}\n".encode())
        return exc.code
    try:
        typescript = await asyncio.to_thread(_skip_script_header, fd)
        await _play(ctx, fd, steps, opts.speed, rest=not (typescript and steps))
    finally:
        await asyncio.to_thread(os.close, fd)
    return opts.exit_code


def _skip_script_header(fd: int) -> bool:
    """Position fd after a `script` typescript's header line; False (at 0) if there is none."""
    head = os.pread(fd, 4096, 0)
    if not head.startswith(SCRIPT_HEADER) or b"\n" not in head:
        return False
    os.lseek(fd, head.index(b"\n") + 1, os.SEEK_SET)
    return True


async def _play(
    ctx: ProcContext, fd: int, steps: list[Step], speed: float, rest: bool = True
) -> None:
    loop = asyncio.get_running_loop()
    begun = loop.time()
    offset = 0.0  # recorded seconds since the start
    pending = 0  # bytes due now, not yet written
    for step in steps:
        offset += step.delay
        if speed > 0:
            wait = begun + offset / speed - loop.time()
            if wait > 0:
                await _write(ctx, fd, pending)
                pending = 0
                await asyncio.sleep(wait)
        pending += step.length
        if pending >= MAX_WRITE:
            await _write(ctx, fd, pending)
            pending = 0
    await _write(ctx, fd, pending)
    if rest:
        await _write(ctx, fd, None)  # whatever the timing file did not cover


async def _write(ctx: ProcContext, fd: int, length: int | None) -> None:
    """Copy `length` bytes (None: the rest) of the log to stdout, in bounded pieces."""
    while length is None or length > 0:
        want = MAX_WRITE if length is None else min(MAX_WRITE, length)
        data = await asyncio.to_thread(os.read, fd, want)
        if not data:
            return
        await ctx.io.write_stdout(data)
        if length is not None:
            length -= len(data)
