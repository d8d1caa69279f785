"""The shared pool of download workers: one thread per connection, pieces from every file.

A worker streams one piece at a time into its file, publishing progress every PUBLISH_BYTES,
and retries that piece with backoff on retriable errors; an attempt that made progress resets
the count, so a flaky connection that keeps delivering is not given up on.
"""

from __future__ import annotations

import queue
import threading

from .context import RunContext
from .errors import (
    BodyLengthError,
    Cancelled,
    DownloadError,
    DownloadFailed,
    RangeIgnored,
    RetriableError,
    StallError,
    ValidatorChanged,
)
from .retry import backoff_delay
from .transfer import Transfer

PUBLISH_BYTES = 1 << 20

_Task = tuple[Transfer, int, "int | None"]


class WorkerPool:
    def __init__(self, ctx: RunContext, size: int) -> None:
        self._ctx = ctx
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"download-worker-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, transfer: Transfer, start: int, end: int | None) -> None:
        transfer.task_added()
        self._queue.put((transfer, start, end))

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            transfer, start, end = task
            try:
                if not transfer.should_stop():
                    run_piece(self._ctx, transfer, start, end)
            except BaseException as exc:
                transfer.fail(exc)
            finally:
                transfer.task_done()


class PieceSink:
    """One attempt at a piece, as its source sees the file: progress published every MiB."""

    def __init__(self, transfer: Transfer, pos: int) -> None:
        self._t = transfer
        self.pos = pos  # end of the bytes written so far
        self._published = pos

    def write(self, offset: int, data: bytes | memoryview) -> None:
        self._t.write(offset, data)
        self._advance(offset + len(data))

    def splice_ok(self, offset: int) -> bool:
        return self._t.splice_ok(offset)

    def splice(self, pipe: int, offset: int, count: int) -> None:
        self._t.splice(pipe, offset, count)
        self._advance(offset + count)

    def check(self) -> None:
        self._t.check()

    def flush(self) -> None:
        """Record what was written and not yet published (end of an attempt)."""
        self._t.record(self._published, self.pos)
        self._published = self.pos

    def _advance(self, pos: int) -> None:
        self.pos = pos
        if pos - self._published >= PUBLISH_BYTES:
            self.flush()


def run_piece(ctx: RunContext, t: Transfer, start: int, end: int | None) -> None:
    """Fetch ``[start, end)`` of one file with retries; failures go to ``t.fail``."""
    retries = ctx.config.retries
    pos = start
    failures = 0
    while not t.should_stop():
        if end is not None and pos >= end:
            return  # the error came after the last byte: nothing is missing
        attempt_start = pos
        sink = PieceSink(t, pos)
        t.worker_started()
        try:
            t.source.fetch(pos, end, t.remote, sink)
            sink.flush()
            return
        except BodyLengthError as exc:
            sink.flush()
            t.unrecord(attempt_start, sink.pos)
            sink.pos = attempt_start
            error: RetriableError = exc
        except RetriableError as exc:
            sink.flush()
            error = exc
        except (ValidatorChanged, RangeIgnored, DownloadError) as exc:
            sink.flush()
            t.fail(exc)
            return
        except Cancelled:
            sink.flush()
            return
        finally:
            t.worker_stopped()
            pos = sink.pos

        if pos > attempt_start:
            failures = 0
        failures += 1
        if failures > retries:
            t.fail(
                DownloadFailed(
                    f"{t.name}: giving up after {retries + 1} attempts at bytes from {pos}: "
                    f"{error.reason}"
                )
            )
            return
        if isinstance(error, StallError):
            ctx.reporter.stall(t.name, t.done_bytes(), ctx.config.stall_timeout)
        delay = backoff_delay(failures + 1, error.retry_after)
        left = ctx.remaining()
        if left is not None:
            delay = max(0.0, min(delay, left))
        ctx.reporter.retry(t.name, failures + 1, retries + 1, error.reason, delay)
        if ctx.stop.wait(delay):
            return
        if not t.remote.ranges:
            t.restart_from_zero()
            pos = start = 0
