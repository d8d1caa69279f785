"""One download run: a job thread per file, the shared worker pool, the clock and the signals.

The main thread only supervises: it emits progress about once a second per file, enforces
the overall --timeout, and turns SIGINT/SIGTERM into a clean stop that keeps every partial
file and its state for the next run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .config import DownloadConfig
from .context import RunContext
from .errors import (
    EXIT_OK,
    DownloadError,
    Interrupted,
    LockTimeout,
    TimedOut,
    UsageError,
)
from .job import FileJob, FileSpec
from .layout import confine, make_layout, name_from_url
from .pool import WorkerPool
from .progress import Reporter
from .source import Source, make_source
from .stopflag import StopFlag

TICK = 0.1
PROGRESS_EVERY = 1.0
RATE_SMOOTHING = 0.3
STOP_GRACE = 3.0


def plan_files(config: DownloadConfig) -> list[FileSpec]:
    """Name, place and confine every file before anything is fetched."""
    specs: list[FileSpec] = []
    seen: dict[str, str] = {}
    for url, checksum in zip(config.urls, config.checksums, strict=False):
        name = config.output or name_from_url(url)
        layout = make_layout(config.cache_dir, config.version, name)
        if layout.name in seen:
            raise UsageError(
                f"two URLs would be saved as the same file {layout.name!r}; use one URL per file"
            )
        seen[layout.name] = url
        try:
            layout.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot create the cache directory {layout.directory}: {exc.strerror or exc}"
            ) from None
        if not os.access(layout.directory, os.W_OK):
            raise UsageError(f"the cache directory {layout.directory} is not writable")
        confine(layout.final, layout.cache_root)
        specs.append(FileSpec(url=url, layout=layout, checksum=checksum))
    return specs


@contextmanager
def _signals(stop: StopFlag) -> Iterator[None]:
    """SIGINT/SIGTERM stop the run cleanly (only possible from the main thread)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        stop.set(Interrupted(f"interrupted by {name}; partial downloads are kept for a resume"))

    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.Signals.SIGINT, signal.Signals.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)  # type: ignore[arg-type]


class _Ticker:
    """Smoothed rate and ETA per file, emitted at most once per PROGRESS_EVERY."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._last: dict[str, tuple[float, int, float]] = {}  # name -> (time, fetched, rate)

    def tick(self) -> None:
        now = time.monotonic()
        for t in self.ctx.active():
            fetched = t.fetched
            last = self._last.get(t.name)
            if last is None:
                self._last[t.name] = (now, fetched, 0.0)
                continue
            then, before, rate = last
            if now - then < PROGRESS_EVERY:
                continue
            instant = max(0, fetched - before) / (now - then)
            rate = instant if rate == 0.0 else rate + RATE_SMOOTHING * (instant - rate)
            self._last[t.name] = (now, fetched, rate)
            done, total = t.done_bytes(), t.remote.size
            eta = (total - done) / rate if total is not None and rate > 0 else None
            self.ctx.reporter.progress(t.name, done, total, rate, eta, t.active)


def _source(url: str, config: DownloadConfig) -> Source:
    return make_source(url, config.stall_timeout, config.workers)


def run_download(config: DownloadConfig, reporter: Reporter) -> int:
    """Download every URL of ``config``; returns the exit code (errors already reported)."""
    specs = plan_files(config)
    stop = StopFlag()
    deadline = None if config.timeout is None else time.monotonic() + config.timeout
    ctx = RunContext(config=config, reporter=reporter, stop=stop, deadline=deadline)
    pool = WorkerPool(ctx, config.workers)
    protected = tuple(spec.layout.final for spec in specs)
    jobs = [
        FileJob(
            ctx, pool, spec, make_source(spec.url, config.stall_timeout, config.workers), protected
        )
        for spec in specs
    ]
    wake = threading.Event()
    finished: list[FileJob] = []

    def run_job(job: FileJob) -> None:
        try:
            job.run()
        finally:
            finished.append(job)
            wake.set()  # let the supervisor notice at once, not at its next tick

    threads = [
        threading.Thread(target=run_job, args=(job,), name=f"file-{job.name}", daemon=True)
        for job in jobs
    ]
    ticker = _Ticker(ctx)
    with _signals(stop):
        for thread in threads:
            thread.start()
        while len(finished) < len(jobs):
            wake.wait(TICK)
            wake.clear()
            if stop.is_set():
                break
            ticker.tick()
            if deadline is not None and time.monotonic() >= deadline:
                stop.set(
                    TimedOut(
                        f"the download did not finish within --timeout {config.timeout:g}s; "
                        "partial downloads are kept for a resume"
                    )
                )
        if stop.is_set():
            _wind_down(ctx, threads)
    pool.close()
    return _exit_code(ctx, jobs)


def _wind_down(ctx: RunContext, threads: list[threading.Thread]) -> None:
    """Give the workers a moment to stop at a chunk boundary, then save what is recorded."""
    end = time.monotonic() + STOP_GRACE
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    for t in ctx.active():
        with contextlib.suppress(OSError):  # the last checkpoint's state stays valid
            t.save()


def _exit_code(ctx: RunContext, jobs: list[FileJob]) -> int:
    reason = ctx.stop.reason
    first: DownloadError | None = None
    for job in jobs:
        error = job.error
        if error is None and not job.finished and reason is not None:
            error = reason
            if isinstance(reason, TimedOut) and job.phase == "waiting":
                error = LockTimeout(
                    f"{job.name}: another process held the file's lock past the "
                    f"{ctx.config.timeout:g}s timeout"
                )
            ctx.reporter.error(job.name, error.code, error.exit_code, error.message)
        if first is None and error is not None:
            first = error
    if isinstance(reason, Interrupted):
        return reason.exit_code
    return first.exit_code if first is not None else EXIT_OK
