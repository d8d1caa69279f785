"""The shared pool of download workers: one thread per connection, pieces from every file.

A worker streams one piece at a time into its file, publishing progress every PUBLISH_BYTES,
and retries that piece with backoff on retriable errors; an attempt that made progress resets
the count, so a flaky connection that keeps delivering is not given up on. A worker that
finds no piece waiting takes over the second half of its file's running piece expected to
finish last (tails.py), while that pays.
"""

from __future__ import annotations

import queue
import threading
import time

from .context import RunContext
from .errors import (
    BodyLengthError,
    Cancelled,
    DownloadError,
    DownloadFailed,
    PieceCut,
    RangeIgnored,
    RetriableError,
    StallError,
    ValidatorChanged,
)
from .retry import backoff_delay
from .tails import RECHECK, Running
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
                    self._take_over_tails(transfer)
            except BaseException as exc:
                transfer.fail(exc)
            finally:
                transfer.task_done()

    def _take_over_tails(self, t: Transfer) -> None:
        """With no piece waiting, fetch second halves of the file's running pieces while any
        cut pays, judging them again every RECHECK (or when one ends) until none is left.
        Still inside this task, so the file is never seen idle while a half it handed over
        is running."""
        while self._queue.empty() and not t.should_stop():
            piece = t.pieces.steal(time.monotonic())
            if piece is not None:
                fetch_piece(self._ctx, t, piece)
            elif not t.pieces.wait(RECHECK):
                return


class PieceSink:
    """One attempt at a piece, as its source sees the file: progress published every MiB.

    Bytes are reserved before they are written, clamped to the piece's current end: a piece
    cut by a thief gets what lies below the cut written, then PieceCut ends the attempt (bytes
    past the cut, in a buffer or a splice pipe, are dropped with the response)."""

    def __init__(
        self, transfer: Transfer, pos: int, piece: Running | None = None, asked: int | None = None
    ) -> None:
        self._t = transfer
        self.pos = pos  # end of the bytes written so far
        self._published = pos
        self._piece = piece  # None: a piece nobody can take over
        self._asked = asked  # the end this attempt's request asked for

    def write(self, offset: int, data: bytes | memoryview) -> None:
        n = self._claim(offset, len(data))
        if n:
            self._t.write(offset, data if n == len(data) else memoryview(data)[:n])
            self._advance(offset + n)
        self._check_cut(n < len(data))

    def splice_ok(self, offset: int) -> bool:
        return self._t.splice_ok(offset)

    def splice(self, pipe: int, offset: int, count: int) -> None:
        n = self._claim(offset, count)
        if n:
            self._t.splice(pipe, offset, n)
            self._advance(offset + n)
        self._check_cut(n < count)

    def check(self) -> None:
        self._t.check()

    def _claim(self, offset: int, count: int) -> int:
        if self._piece is None:
            return count
        return self._t.pieces.claim(self._piece, offset, count)

    def _check_cut(self, refused: bool) -> None:
        """End the attempt once it had bytes refused, or holds every byte of a piece that was
        cut (without waiting for the next chunk of a slow connection). A cut never falls at or
        below what the worker holds, so a wait for data never needs this check."""
        piece = self._piece
        if piece is None or piece.end is None:
            return
        if refused or (self.pos >= piece.end and self._asked != piece.end):
            raise PieceCut()

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
    fetch_piece(ctx, t, t.pieces.begin(start, end, time.monotonic()))


def fetch_piece(ctx: RunContext, t: Transfer, piece: Running) -> None:
    """Fetch a running piece with retries, up to its end as it stands at each attempt (a thief
    may have cut it meanwhile); failures go to ``t.fail``."""
    try:
        _fetch(ctx, t, piece)
    finally:
        t.pieces.finish(piece, time.monotonic())


def _fetch(ctx: RunContext, t: Transfer, piece: Running) -> None:
    retries = ctx.config.retries
    pos = piece.start
    failures = 0
    while not t.should_stop():
        end = piece.end
        if end is not None and pos >= end:
            return  # the error came after the last byte: nothing is missing
        attempt_start = pos
        sink = PieceSink(t, pos, piece, end)
        t.worker_started()
        try:
            t.source.fetch(pos, end, t.remote, sink)
            sink.flush()
            return
        except PieceCut:
            sink.flush()
            continue  # the piece now ends where this attempt stopped: the loop returns
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
            pos = 0
