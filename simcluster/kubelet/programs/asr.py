"""The Lightning ASR server stand-in: fetch the model with the bundled downloader, then serve.

It logs what the real server logs (`INFO: Downloading model from URL...`, `INFO: Model
downloaded: 23.5GB`, `WARNING: Download attempt 1 failed: …`, `ERROR: Download failed after 3
attempts`, `INFO: Loading model into GPU memory...`, `INFO: Server ready on port 2269`), passes
the downloader's JSON progress lines through, and becomes Ready once it is "serving". It
listens on port 2269 only from then on: while it downloads and loads, a probe on 2269 is
refused, as the real server's is.

Loading allocates the model file's size times the cluster's `load_memory_factor` in the
container's memory cgroup, bit by bit; when that passes the container's memory limit, the
OOM killer ends the container half way through, with nothing logged after the loading line.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
from urllib.parse import unquote, urlsplit

from simcluster.kubelet.context import ProcContext
from simcluster.kubelet.fs import FsError
from simcluster.kubelet.procio import ProcIO, Redirected
from simcluster.kubelet.programs.downloader import run_downloader

PORT = 2269
ATTEMPTS = 3
RETRIABLE = {1, 3, 8}  # internal error, download failed, timeout: worth another attempt
LOAD_SECONDS = 0.2
LOAD_STEPS = 4  # loading allocates the model's memory in this many parts


def model_size_text(n: int) -> str:
    """`23.5GB`, as the server prints it (decimal units, one decimal)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n}B"


def model_file_name(url: str) -> str:
    """The downloader's rule: the URL's last path segment, sanitised, else `model.bin`."""
    name = posixpath.basename(unquote(urlsplit(url).path))
    name = name.replace("..", "").lstrip(".")
    return name or "model.bin"


def model_path(env: dict[str, str]) -> str:
    cache = env.get("MODEL_CACHE_DIR") or "/app/models"
    version = env.get("MODEL_VERSION") or ""
    name = model_file_name((env.get("MODEL_URL") or "").split()[0] if env.get("MODEL_URL") else "")
    if version and posixpath.basename(cache.rstrip("/")) != version:
        return posixpath.join(cache, version, name)
    return posixpath.join(cache, name)


class _ErrorTap:
    """Remembers the message of the downloader's last `error` event."""

    def __init__(self, base: ProcIO) -> None:
        self.base = base
        self.message = ""
        self._buf = b""

    async def write(self, data: bytes) -> None:
        self._buf = (self._buf + data)[-65536:]
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("event") == "error":
                self.message = str(obj.get("message") or obj.get("code") or "")
        await self.base.write_stdout(data)


async def _log(ctx: ProcContext, line: str) -> None:
    await ctx.io.write_stdout((line + "\n").encode())


def _exists(ctx: ProcContext, path: str) -> bool:
    try:
        r = ctx.fs.resolve(path, ctx.cwd)
    except FsError:
        return False
    return r.exists and r.host is not None and r.host.is_file()


def _size(ctx: ProcContext, path: str) -> int:
    return ctx.fs.resolve(path, ctx.cwd).require().stat().st_size


async def run_asr(ctx: ProcContext) -> int:
    env = ctx.env
    url = (env.get("MODEL_URL") or "").strip()
    target = model_path(env)
    cache = posixpath.dirname(target)
    await _log(ctx, f"INFO: Starting Lightning ASR server (model cache: {cache})")
    if await asyncio.to_thread(_exists, ctx, target):
        # Like the real server, a cached model that fails validation is an error, not a reason
        # to fetch again: the file stays for someone to look at (the guide's fix deletes it).
        problem = await _validation_problem(ctx, target)
        if problem is not None:
            await _log(ctx, f"ERROR: Model validation failed: checksum mismatch: {problem}")
            return 1
        await _log(ctx, f"INFO: Model found in cache: {target}")
        size = await asyncio.to_thread(_size, ctx, target)
    elif not url:
        await _log(ctx, "ERROR: MODEL_URL is not set and no model is in the cache")
        return 1
    else:
        code = await _download(ctx)
        if code != 0:
            return code
        size = await asyncio.to_thread(_size, ctx, target)
        await _log(ctx, f"INFO: Model downloaded: {model_size_text(size)}")
    await _log(ctx, "INFO: Loading model into GPU memory...")
    await _load(ctx, size)
    await _log(ctx, f"INFO: Server ready on port {PORT}")
    ctx.ready(ports=[PORT])
    await asyncio.Event().wait()
    return 0


async def _load(ctx: ProcContext, size: int) -> None:
    """Take the memory the model needs over LOAD_SECONDS; too much for the limit kills us."""
    need = int(size * ctx.load_memory_factor)
    taken = 0
    for step in range(1, LOAD_STEPS + 1):
        await asyncio.sleep(LOAD_SECONDS / LOAD_STEPS)
        part = need * step // LOAD_STEPS - taken
        await ctx.memory.allocate(part)
        taken += part


async def _validation_problem(ctx: ProcContext, target: str) -> str | None:
    """Why the cached model fails MODEL_CHECKSUM, or None when it passes (or is not checked)."""
    validate = (ctx.env.get("MODEL_VALIDATE") or "true").strip().lower()
    if not ctx.env.get("MODEL_CHECKSUM") or validate in ("0", "false", "no", "off"):
        return None
    tap = _ErrorTap(ProcIO())
    quiet = ctx.with_io(Redirected(ProcIO(), stdout=tap.write))
    code = await run_downloader(["asr-cache-download", "verify", target], quiet)
    if code == 0:
        return None
    return tap.message or f"{target} does not match MODEL_CHECKSUM"


async def _download(ctx: ProcContext) -> int:
    for attempt in range(1, ATTEMPTS + 1):
        await _log(ctx, "INFO: Downloading model from URL...")
        tap = _ErrorTap(ctx.io)
        sub = ctx.with_io(Redirected(ctx.io, stdout=tap.write))
        code = await run_downloader(["asr-cache-download"], sub)
        if code == 0:
            return 0
        if code == 5:
            await _log(ctx, "ERROR: Model validation failed: checksum mismatch")
            return 1
        reason = tap.message or f"downloader exited with code {code}"
        await _log(ctx, f"WARNING: Download attempt {attempt} failed: {reason}")
        if code not in RETRIABLE or attempt == ATTEMPTS:
            await _log(ctx, f"ERROR: Download failed after {attempt} attempts")
            return 1
        await _log(ctx, "WARNING: Retrying download...")
        await asyncio.sleep(0.5 * attempt)
    return 1
