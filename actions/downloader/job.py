"""One file from URL to verified cache entry: lock, cache hit, probe, reserve, fetch, verify, place.

Runs in its own thread; the byte transfer itself is done by the shared worker pool. A file
whose validator changes, or whose server turns out to ignore Range, is started over (at most
MAX_ROUNDS times); everything else ends in `done` or in one DownloadError.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from collectors.redact import redact_url

from .cache import Evicted, reserve_space
from .context import RunContext
from .errors import (
    Cancelled,
    ChecksumMismatch,
    DiskFull,
    DownloadError,
    DownloadFailed,
    RangeIgnored,
    RetriableError,
    StallError,
    ValidatorChanged,
)
from .layout import Layout
from .lock import FileLock
from .manifest import read_entries, record_entry
from .pool import WorkerPool
from .ramp import WINDOW, Ramp
from .ranges import RangeSet, plan_pieces
from .retry import backoff_delay
from .source import Remote, Source
from .space import NO_SPACE_ERRNOS, check_space, disk_full
from .state import PartState, load_state, remove_quietly, save_state
from .transfer import FileInfo, Transfer, open_partial
from .verify import PrefixHasher, hash_file

MAX_ROUNDS = 3
WAIT_REPORT_EVERY = 5.0
LOCK_POLL = 0.25
HASH_SLICE = 0.2
# How often the hash looks for a longer prefix: what it has not caught up with when the last
# byte arrives is hashed after it (0.2 s behind at 400 MB/s was 80 MB, 60 ms).
HASH_POLL = 0.02
SYNC_EVERY = 64 << 20


@dataclass(frozen=True)
class FileSpec:
    url: str
    layout: Layout
    checksum: str | None


class FileJob:
    """The life of one file; `phase` tells the runner what an interrupted job was doing."""

    def __init__(
        self,
        ctx: RunContext,
        pool: WorkerPool,
        spec: FileSpec,
        source: Source,
        protected: tuple[Path, ...],
    ) -> None:
        self.ctx = ctx
        self.pool = pool
        self.spec = spec
        self.source = source
        self.protected = protected
        self.layout = spec.layout
        self.name = spec.layout.name
        self.phase = "starting"
        self.error: DownloadError | None = None
        self.finished = False
        self.needed = 0  # bytes still to write, for a disk-full message

    def run(self) -> None:
        """Thread body: never raises; the outcome is in `finished` / `error`."""
        try:
            self._run()
            self.finished = True
        except Cancelled:
            pass  # the runner reports why the run stopped
        except DownloadError as exc:
            self.error = exc
            if isinstance(exc, DiskFull):
                self.ctx.stop.set(exc)  # the other files share the disk: stop them too
            self.ctx.reporter.error(self.name, exc.code, exc.exit_code, exc.message)
        except OSError as exc:
            if exc.errno in NO_SPACE_ERRNOS:
                self.error = disk_full(self.name, self.layout.directory, self.needed)
                self.ctx.stop.set(self.error)
            else:
                where = exc.filename or self.layout.directory
                self.error = DownloadError(f"{self.name}: {where}: {exc.strerror or exc}")
            self.ctx.reporter.error(
                self.name, self.error.code, self.error.exit_code, self.error.message
            )
        except Exception as exc:
            self.error = DownloadError(f"{self.name}: internal error: {type(exc).__name__}: {exc}")
            self.ctx.reporter.error(
                self.name, self.error.code, self.error.exit_code, self.error.message
            )
        finally:
            self.source.close()

    # -- steps ------------------------------------------------------------------------------
    def _run(self) -> None:
        lock = FileLock(self.layout.lock)
        self.phase = "waiting"
        self._acquire(lock)
        try:
            self.phase = "checking"
            if self._cached():
                return
            self.phase = "downloading"
            self._download()
        finally:
            lock.release()

    def _acquire(self, lock: FileLock) -> None:
        """Take the file's lock; while another process holds it, say so every few seconds."""
        since: float | None = None
        reported = 0.0
        while not lock.try_acquire():
            now = time.monotonic()
            if since is None or now - reported >= WAIT_REPORT_EVERY:
                since = since if since is not None else now
                reported = now
                self.ctx.reporter.wait(self.name, lock.holder(), now - since)
            if self.ctx.stop.wait(LOCK_POLL):
                raise Cancelled()
        if self.ctx.stop.is_set():
            lock.release()
            raise Cancelled()

    def _cached(self) -> bool:
        """A verified file already in place (downloaded by us or by another pod) is a hit."""
        final = self.layout.final
        try:
            st = os.lstat(final)
        except FileNotFoundError:
            return False
        if not os.path.isfile(final) or os.path.islink(final):
            raise DownloadError(f"{final} exists but is not a regular file; refusing to touch it")
        started = time.monotonic()
        config = self.ctx.config
        entry = read_entries(self.layout.cache_root).get(self.layout.relative)
        expected = self.spec.checksum
        sha = entry.sha256 if entry is not None and entry.size == st.st_size else None
        if expected is not None and sha != expected and config.validate:
            self.phase = "verifying"
            sha, _ = hash_file(
                final,
                on_progress=lambda done, total: self.ctx.reporter.verify(self.name, done, total),
                should_stop=self.ctx.stop.is_set,
            )
            if sha != expected:
                # A wrong file never stays at the final path: fetch the right one.
                os.unlink(final)
                return False
        remove_quietly(self.layout.part, self.layout.state)
        record_entry(
            self.layout.cache_root,
            self.layout.relative,
            st.st_size,
            sha,
            config.version,
            self.spec.url,
        )
        self.ctx.reporter.done(
            self.name, st.st_size, sha, time.monotonic() - started, True, str(final)
        )
        return True

    def _probe(self) -> Remote:
        retries = self.ctx.config.retries
        failures = 0
        while True:
            if self.ctx.stop.is_set():
                raise Cancelled()
            try:
                return self.source.probe()
            except RetriableError as exc:
                failures += 1
                if failures > retries:
                    raise DownloadFailed(
                        f"{self.name}: giving up after {retries + 1} attempts to reach "
                        f"{redact_url(self.source.url)}: {exc.reason}"
                    ) from None
                if isinstance(exc, StallError):
                    self.ctx.reporter.stall(self.name, 0, self.ctx.config.stall_timeout)
                delay = backoff_delay(failures + 1, exc.retry_after)
                left = self.ctx.remaining()
                if left is not None:
                    delay = max(0.0, min(delay, left))
                self.ctx.reporter.retry(self.name, failures + 1, retries + 1, exc.reason, delay)
                if self.ctx.stop.wait(delay):
                    raise Cancelled() from None

    def _download(self) -> None:
        config = self.ctx.config
        resume = config.resume
        no_ranges = False
        for round_no in range(MAX_ROUNDS):
            remote = self._probe()
            if no_ranges or remote.size is None:
                remote = replace(remote, ranges=False)
            completed = self._resumable(remote) if resume else RangeSet()
            if not completed:
                remove_quietly(self.layout.part, self.layout.state)
            transfer = self._prepare(remote, completed)
            try:
                self._fetch(transfer, completed.covered())
                failure = transfer.failure
                if isinstance(failure, (ValidatorChanged, RangeIgnored)):
                    reason = str(failure)
                    if isinstance(failure, RangeIgnored):
                        no_ranges = True
                    resume = False
                    self.ctx.reporter.retry(
                        self.name, round_no + 2, MAX_ROUNDS, f"{reason}; starting over", 0.0
                    )
                    continue
                if failure is not None:
                    transfer.save()
                    raise failure
                if self.ctx.stop.is_set():
                    transfer.save()
                    raise Cancelled()
                self._place(transfer)
                return
            finally:
                self.ctx.unregister(transfer)
                transfer.close()
        raise DownloadFailed(
            f"{self.name}: {redact_url(self.source.url)} kept changing during the download "
            f"({MAX_ROUNDS} attempts); try again later"
        )

    def _resumable(self, remote: Remote) -> RangeSet:
        """The completed ranges of a partial that provably belongs to the same remote file."""
        if not remote.ranges or not self.layout.part.exists():
            return RangeSet()
        state = load_state(self.layout.state)
        if state is None or not state.same_source(remote.size, remote.etag, remote.last_modified):
            return RangeSet()
        try:
            on_disk = os.stat(self.layout.part).st_size
        except OSError:
            return RangeSet()
        # Never trust a recorded range beyond what the partial file physically holds.
        return RangeSet((s, min(e, on_disk)) for s, e in state.ranges if s < on_disk)

    def _prepare(self, remote: Remote, completed: RangeSet) -> Transfer:
        config = self.ctx.config
        size = remote.size or 0
        done = completed.covered()

        def create_partial() -> None:
            os.close(open_partial(self.layout))
            save_state(
                self.layout.state,
                PartState(
                    url=self.spec.url,
                    size=remote.size,
                    etag=remote.etag,
                    last_modified=remote.last_modified,
                    ranges=tuple(completed.intervals()),
                ),
            )

        def on_evict(evicted: Evicted) -> None:
            self.ctx.reporter.evict(self.name, evicted.path, evicted.bytes, evicted.version)

        self.needed = size - done
        check_space(self.name, self.layout.directory, self.needed)
        reserve_space(
            self.layout,
            size,
            config.max_cache_size,
            config.eviction == "lru",
            self.protected,
            on_evict,
            create_partial,
        )
        hasher = PrefixHasher() if config.validate else None
        info = FileInfo(name=self.name, url=self.spec.url, layout=self.layout)
        return Transfer(
            info,
            self.source,
            remote,
            completed,
            hasher,
            self.ctx.stop,
            hash_in_stream=config.workers == 1,
        )

    def _fetch(self, t: Transfer, resumed_from: int) -> None:
        config = self.ctx.config
        remote = t.remote
        self.ctx.reporter.start(
            self.name, self.spec.url, remote.size, resumed_from, config.workers, config.version
        )
        if remote.ranges and remote.size is not None:
            hashed = t.hasher is not None
            pieces: list[tuple[int, int | None]] = list(
                plan_pieces(t.missing(), config.workers, small_tail=hashed)
            )
        else:
            pieces = [(0, remote.size)] if remote.size != 0 else []
        self.ctx.register(t)
        ramp = Ramp(pieces, config.workers, t.fetched, time.monotonic())
        feeding = threading.Lock()
        # Idle workers take over halves of slow pieces only among parallel connections: the
        # ramp keeps a fast one alone on purpose, and without Range nothing can be cut.
        splittable = config.workers > 1 and remote.ranges and remote.size is not None

        def feed() -> None:
            # One lock around deciding and submitting: the job thread and a worker finishing
            # a piece must not both see nothing running and both start a piece.
            with feeding:
                if t.should_stop():
                    return
                for start, end in ramp.release(t.fetched, t.pending(), time.monotonic()):
                    self.pool.submit(t, start, end)
                if ramp.parallel and splittable:
                    t.pieces.enable_splits()

        t.on_idle = feed
        feed()
        synced = 0
        while True:
            idle = t.wait_idle(HASH_POLL if ramp.parallel else WINDOW)
            if idle and (ramp.exhausted or t.should_stop()):
                break
            feed()  # the ramp judges the connection's rate every window
            if idle or t.should_stop():
                continue
            if t.hasher is not None:
                # Hash behind the workers, from the page cache, what arrived out of order.
                t.hasher.catch_up(t.fd, t.prefix_end(), budget=HASH_SLICE)
            if t.fetched - synced >= SYNC_EVERY:
                # Write back as we go, so the fsync before the rename has little left to do.
                synced = t.fetched
                os.fdatasync(t.fd)

    def _place(self, t: Transfer) -> None:
        """Verify, fsync, rename atomically, record in the manifest, report done."""
        self.phase = "verifying"
        gaps = t.missing() if t.remote.size is not None else []
        if gaps:  # never expected: the last guard before a file with holes could be placed
            raise DownloadError(
                f"{self.name}: {sum(end - start for start, end in gaps)} bytes were never "
                f"received (the first at byte {gaps[0][0]}); the partial is kept for a resume"
            )
        total = t.remote.size if t.remote.size is not None else t.done_bytes()
        if os.fstat(t.fd).st_size != total:
            os.ftruncate(t.fd, total)
        digest: str | None = None
        if t.hasher is not None:
            reporter = self.ctx.reporter
            if t.hasher.accepted < total:
                reporter.verify(self.name, t.hasher.pos, total)
            digest = t.hasher.finish(
                t.fd,
                total,
                on_progress=lambda done, whole: reporter.verify(self.name, done, whole),
                should_stop=self.ctx.stop.is_set,
            )
            reporter.verify(self.name, total, total, sha256=digest)
            expected = self.spec.checksum
            if expected is not None and digest != expected:
                remove_quietly(self.layout.part, self.layout.state)
                raise ChecksumMismatch(
                    f"{self.name}: sha256 mismatch, expected {expected} but the download has "
                    f"{digest}; it was discarded and nothing was placed at {self.layout.final}"
                )
        os.fsync(t.fd)
        os.replace(self.layout.part, self.layout.final)
        _fsync_dir(self.layout.directory)
        remove_quietly(self.layout.state)
        record_entry(
            self.layout.cache_root,
            self.layout.relative,
            total,
            digest,
            self.ctx.config.version,
            self.spec.url,
        )
        self.phase = "done"
        self.ctx.reporter.done(
            self.name, total, digest, time.monotonic() - t.started, False, str(self.layout.final)
        )


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
