"""The bundled downloader, really run as a subprocess inside a pod's filesystem view.

Container paths in its arguments and environment become host paths of the pod's mounts
(anything that lands outside them is refused, so `file:///etc/passwd` or `../../x` cannot
reach host files), and host paths in its output are turned back into container paths.
Cancelling the caller sends SIGTERM (the downloader keeps its partial file and exits 130),
then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import posixpath
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import FsError, PodFS

PATH_ENV = ("MODEL_CACHE_DIR", "MODEL_PATH")
DEFAULT_CACHE_DIR = "/app/models"  # the downloader's default when nothing is configured
URL_ENV = ("MODEL_URL",)
HOST_ONLY_ENV = ("PATH", "PYTHONPATH", "PYTHONHOME", "HOME", "TMPDIR")
KILL_GRACE = 5.0
READ_CHUNK = 64 * 1024


class Refused(ValueError):
    """A path or URL that does not lie inside the pod's volumes."""


def project_root() -> str:
    """The directory holding the `actions` package, for the subprocess's PYTHONPATH."""
    spec = importlib.util.find_spec("actions")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the actions package is not importable")
    return str(Path(next(iter(spec.submodule_search_locations))).parent)


def _to_host(fs: PodFS, path: str, cwd: str) -> str:
    try:
        r = fs.resolve(path, cwd)
    except FsError as exc:
        raise Refused(f"{path}: {exc.strerror}") from None
    if r.host is None:
        raise Refused(f"{path}: not inside a volume of this pod")
    return str(r.host)


def translate_value(fs: PodFS, value: str, cwd: str) -> str:
    """Map one argument or env value from the container's view to the host's."""
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme.lower() != "file":
            return value
        return "file://" + quote(_to_host(fs, unquote(parts.path), cwd))
    if "/" in value or value in (".", ".."):
        return _to_host(fs, value, cwd)
    return value


def translate_args(fs: PodFS, args: list[str], cwd: str) -> list[str]:
    out = []
    for a in args:
        if a.startswith("--") and "=" in a:
            flag, _, val = a.partition("=")
            out.append(f"{flag}={translate_value(fs, val, cwd)}")
        else:
            out.append(translate_value(fs, a, cwd))
    return out


def translate_env(ctx: ProcContext) -> dict[str, str]:
    env = {k: v for k, v in ctx.env.items() if k not in HOST_ONLY_ENV}
    if not env.get("MODEL_CACHE_DIR"):
        # The downloader's own default (/app/models) must name the pod's mount, never the
        # host's /app/models; without such a mount it lands in the container's scratch space.
        try:
            env["MODEL_CACHE_DIR"] = translate_value(ctx.fs, DEFAULT_CACHE_DIR, ctx.cwd)
        except Refused:
            env["MODEL_CACHE_DIR"] = str(ctx.scratch / DEFAULT_CACHE_DIR.lstrip("/"))
    else:
        env["MODEL_CACHE_DIR"] = translate_value(ctx.fs, env["MODEL_CACHE_DIR"], ctx.cwd)
    for key in PATH_ENV:
        if key != "MODEL_CACHE_DIR" and env.get(key):
            env[key] = translate_value(ctx.fs, env[key], ctx.cwd)
    for key in URL_ENV:
        if env.get(key):
            env[key] = " ".join(translate_value(ctx.fs, u, ctx.cwd) for u in env[key].split())
    env.update(
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        PYTHONPATH=project_root(),
        PYTHONUNBUFFERED="1",
        HOME=str(ctx.scratch),
        TMPDIR=str(ctx.scratch),
    )
    return env


def _downloader_args(argv: list[str]) -> list[str]:
    if len(argv) >= 3 and argv[1] == "-m":
        return argv[3:]
    return argv[1:]


class _Rewriter:
    """Turns host paths back into container paths, line by line."""

    def __init__(self, ctx: ProcContext) -> None:
        pairs = [(h, c) for h, c in ctx.fs.host_prefixes()]
        pairs.append((str(ctx.scratch), "/"))
        self.pairs = sorted(pairs, key=lambda p: -len(p[0]))
        self.pending = b""

    def feed(self, data: bytes, final: bool = False) -> bytes:
        data = self.pending + data
        cut = data.rfind(b"\n") + 1
        if final or len(data) - cut > READ_CHUNK:
            cut = len(data)
        ready, self.pending = data[:cut], data[cut:]
        if not ready:
            return b""
        text = ready.decode("utf-8", errors="surrogateescape")
        for host, cont in self.pairs:
            text = text.replace(host.rstrip("/") + "/", cont.rstrip("/") + "/")
            text = text.replace(host, cont)
        return text.encode("utf-8", errors="surrogateescape")


async def run_downloader(argv: list[str], ctx: ProcContext) -> int:
    prog = posixpath.basename(argv[0])
    try:
        args = translate_args(ctx.fs, _downloader_args(argv), ctx.cwd)
        env = translate_env(ctx)
    except Refused as exc:
        await ctx.io.write_stderr(f"{prog}: refused: {exc}\n".encode())
        return 2
    await asyncio.to_thread(ctx.scratch.mkdir, parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "actions.downloader",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(ctx.scratch),
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        asyncio.create_task(_pump(proc.stdout, ctx.io.write_stdout, _Rewriter(ctx))),
        asyncio.create_task(_pump(proc.stderr, ctx.io.write_stderr, _Rewriter(ctx))),
    ]
    try:
        await asyncio.gather(*pumps)
        code = await proc.wait()
    except asyncio.CancelledError:
        await _stop(proc)
        for p in pumps:
            p.cancel()
        raise
    return 128 - code if code < 0 else code


async def _pump(
    stream: asyncio.StreamReader, write: Callable[[bytes], Awaitable[None]], rewriter: _Rewriter
) -> None:
    while chunk := await stream.read(READ_CHUNK):
        out = rewriter.feed(chunk)
        if out:
            await write(out)
    tail = rewriter.feed(b"", final=True)
    if tail:
        await write(tail)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after the grace period; always reaps the child."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(proc.wait()), KILL_GRACE)
    except (asyncio.TimeoutError, asyncio.CancelledError):  # cancelled again: kill it now
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
