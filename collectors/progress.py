"""Download progress from log text: pick the parser for a segment, and merge one pod's updates
into its current ``DownloadProgress`` plus the facts the state rules need (``LogFacts``).

``parse_segment`` is pure. ``ProgressTracker`` is the per-pod memory (not thread-safe: one
log stream owns it; others read its ``facts()``, an immutable value).
"""

from __future__ import annotations

import copy
import re
from collections import deque
from dataclasses import dataclass

from collectors.model import DownloadPhase, DownloadProgress
from collectors.parsers import aria2c, awscli, bundled, curl, lightning, tqdm, wget
from collectors.parsers.base import CHECKSUM_MISMATCH, DOWNLOAD_FAILED, Update
from collectors.redact import redact_text
from collectors.units import format_bytes

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


_WGET_DOT_SIZES = frozenset({1024, 8192, 65536, 1048576})

# An ETA past this is no promise anyone can plan with: shown as unknown.
MAX_ETA = 7 * 86400.0
# Below this many bytes a second nothing moves: no ETA at all (a stalled transfer whose
# downloader still reports a decaying rate would otherwise promise centuries).
MIN_RATE = 1.0
# wget's dot lines each carry the speed over that one line, which a burst from the page cache
# makes absurd ("47.7G", or "470M" between the pauses of --limit-rate); the rate shown is bytes
# over wget's own time, summed over the lines of the last RATE_WINDOW seconds, once they cover
# RATE_MIN_SPAN seconds (or ROWS_KEPT lines, a lot of data in little time).
RATE_WINDOW = 3.0
RATE_MIN_SPAN = 0.5
ROWS_KEPT = 4096


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


def parse_segment(text: str) -> Update | None:
    """What one segment of log text says about a download, from whichever format it is in."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if not text:
        return None
    first = text[0]
    if first == "{":
        return bundled.parse_json(text)
    if first == "[":
        if text.startswith("[#"):
            return aria2c.parse(text)
    elif first == "C":
        if text.startswith("Completed "):
            return awscli.parse(text)
    elif first == " " or first.isdigit():
        # wget dots, the curl meter, or an indented anything.
        if ".." in text or ",," in text:
            update = wget.parse_dot(text)
            if update is not None:
                return update
        update = curl.parse(text)
        if update is not None:
            return update
    if "%|" in text:
        return tqdm.parse(text)
    if "%[" in text or "<=>" in text:
        update = wget.parse_bar(text)
        if update is not None:
            return update
    if first == "c" and text.startswith("curl: "):
        return curl.parse(text)
    if first == "d" and text.startswith("download"):
        return awscli.parse(text)
    if first == "f" and text.startswith("fatal error:"):
        return awscli.parse(text)
    update = lightning.parse(text)
    if update is not None:
        return update
    update = wget.parse_other(text)
    if update is not None:
        return update
    if "errorCode=" in text or "|OK" in text or "|ERR" in text:
        update = aria2c.parse(text)
        if update is not None:
            return update
    if "[Errno 28]" in text:
        return awscli.parse(text)
    if "%" in text and "/s" in text:
        return bundled.parse_human(text)
    return None


@dataclass(frozen=True)
class FailedRun:
    """A run of the container whose log ended in a failure: the latest word on the pod while
    the run after it has not got further (a crash loop between two failures)."""

    code: str  # the failure code (``parsers.base``), e.g. checksum_mismatch, disk_full
    said: str  # its evidence line, e.g. "log: Model validation failed: checksum mismatch"
    progress: DownloadProgress | None  # where its download stood when it failed


@dataclass(frozen=True)
class LogFacts:
    """What a pod's log has established, for the state rules (immutable)."""

    phase: DownloadPhase | None = None  # None: the log never spoke of a download
    progress: DownloadProgress | None = None
    last_change_at: float | None = None  # when bytes last moved (or the download began)
    has_bytes: bool = False  # the format carries byte counts (else disk growth is the signal)
    ready: bool = False  # "Server ready"
    ready_at: float | None = None  # when it said so
    failure_code: str | None = None  # set while the latest outcome is a failure
    failure: str | None = None  # its evidence, one line
    waiting_for: str | None = None  # lock holder while waiting
    evidence: tuple[str, ...] = ()  # notable lines of the container's current run, newest last
    previous_run: str | None = None  # how its run before the last restart ended (history only)
    lines_seen: int = 0
    updated_at: float = 0.0
    bytes_moved: bool = False  # bytes arrived in this run: a download really under way
    # The longest of the last few gaps between two arrivals of bytes: how far apart this
    # format's byte counts come (about a second for most; wget's dot lines, more when slow).
    byte_interval: float | None = None
    # The last failure of a run before this one, kept while this run has not got further
    # (``got_further``); the state rules judge the pod by it until then.
    failed_before: FailedRun | None = None

    def got_further(self, done_counts: bool = True) -> bool:
        """Whether this run has got further than a run before it that failed: bytes arrived,
        it waits on another pod's download, its downloader reports a stall, the server is
        ready, it failed in its own words; or, when ``done_counts``, the model was found or
        downloaded (not past a run that died loading it: an OOM kill comes after that)."""
        if self.bytes_moved or self.ready or self.failure_code is not None:
            return True
        if self.phase in (DownloadPhase.WAITING, DownloadPhase.STALLED):
            return True
        return done_counts and self.phase is DownloadPhase.DONE


class ProgressTracker:
    """One pod's download as its log tells it; fed segments with the time they were written."""

    EVIDENCE_KEPT = 6
    RATE_SMOOTHING = 0.3
    GAPS_KEPT = 4

    def __init__(self) -> None:
        self.lines_seen = 0
        self.version = 0  # bumped on every change that matters to a snapshot
        self.previous_run: str | None = None  # how the container's last run ended (history)
        self._exited: str | None = None  # how the container status says that run ended
        self._ended_failed = False  # previous_run names a failure, not just a last line
        self._before: ProgressTracker | None = None  # the run before, for its late lines
        self._failed_before: FailedRun | None = None  # see LogFacts.failed_before
        self._begin_run()

    def _begin_run(self) -> None:
        """Everything that belongs to one run of the container: none of it outlives a restart."""
        self.phase: DownloadPhase | None = None
        self.source: str | None = None
        self.done: int | None = None
        self.total: int | None = None
        self.rate: float | None = None
        self.eta: float | None = None
        self.attempt: int | None = None
        self.file: str | None = None
        self.message: str | None = None
        self.updated_at = 0.0
        self.last_change_at: float | None = None
        self.has_bytes = False
        self.bytes_moved = False
        self._gaps: deque[float] = deque(maxlen=self.GAPS_KEPT)  # see LogFacts.byte_interval
        self._bytes_at: float | None = None  # when bytes last arrived
        self.ready_at: float | None = None  # when the server said it is ready
        self.failure_code: str | None = None
        self.failure: str | None = None
        self.waiting_for: str | None = None
        self.evidence: deque[str] = deque(maxlen=self.EVIDENCE_KEPT)
        self._dot_size = 1024
        self._dot_size_learned = False  # from the step between two lines' offsets
        self._last_dot: tuple[int, int] | None = None  # (offset, dots) of the last wget dot line
        self._total_exact = False  # the total was stated (not worked out from a percentage)
        self._total_bounds: tuple[float, float] | None = None  # (above, at most) from percents
        self._rows: deque[tuple[int, float]] = deque()  # wget dot lines: (new bytes, seconds)
        self._rows_bytes = 0
        self._rows_seconds = 0.0
        self._rate_sample: tuple[float, int] | None = None  # (time, bytes) for computed rates
        self._computed_rate: float | None = None
        self._cause: tuple[str, str] | None = None  # the specific reason of this run's failure

    def new_run(self, exited: str | None = None) -> None:
        """The container restarted: what its log said so far is history, not the present.

        The per-run state starts afresh; ``previous_run`` keeps one line about how that run
        ended, for people to read. A failure it ended with stays the latest word
        (``failed_before``) only until the new run gets further: a crash loop keeps its
        verdict between two failures, and a run downloading fine after one is judged by
        itself. ``exited`` is what the container status says, e.g. "exit code 1 (Error)".
        """
        self._exited = exited
        self._ended_failed = self.failure is not None
        self._failed_before = self._failure_to_carry(self._failed_before)
        self._say_previous(self._outcome())
        # That run as it stood, to read its late lines in: _begin_run makes new containers,
        # so the copy keeps the old ones.
        self._before = copy.copy(self)
        self._before._before = None
        self._begin_run()
        self.version += 1

    def late_line(self, text: str, at: float) -> None:
        """A line the run before wrote, read only after its restart was seen: a kubelet
        restarts a crashed container at once the first time, and the pod's new status can
        come before the old run's last lines. They may say how that run ended (its error),
        so they amend ``previous_run``; they are never evidence of the run under way. They
        are read into that run as it stood: a wrapper's last line ("Download failed after 1
        attempts") is said with the cause its earlier lines gave."""
        if self._before is None:  # the run before was never read: a pod first seen later
            self._before = ProgressTracker()
        before = self._before
        self.lines_seen += 1
        before.feed_text(text, at)
        carried = before._failure_to_carry(self._failed_before)
        if carried != self._failed_before:
            self._failed_before = carried
            self.version += 1
        said = before._outcome()
        if said is None or (self._ended_failed and before.failure is None):
            return
        self._ended_failed = self._ended_failed or before.failure is not None
        self._say_previous(said)
        self.version += 1

    def _failure_to_carry(self, kept: FailedRun | None) -> FailedRun | None:
        """What this run, ending, leaves as the latest failure: its own, else ``kept`` (one
        from before it) unless it got further than that."""
        if self.failure_code is not None:
            said = self.failure or f"log: {self.failure_code}"
            return FailedRun(self.failure_code, said, self.progress())
        return None if self.facts().got_further() else kept

    def _outcome(self) -> str | None:
        """How this run stands in one line: its failure, else its latest notable line."""
        return self.failure or (self.evidence[-1] if self.evidence else None)

    def _say_previous(self, outcome: str | None) -> None:
        if outcome is not None and outcome.startswith("log: "):
            outcome = outcome[len("log: ") :]
        exited = self._exited
        said = f"{outcome} ({exited})" if outcome and exited else outcome or exited
        self.previous_run = f"previous run ended with: {said}"[:300] if said else None

    # -- feeding ------------------------------------------------------------------------------

    def feed_text(self, text: str, at: float) -> Update | None:
        self.lines_seen += 1
        update = parse_segment(text)
        if update is None:
            return None
        if (
            update.kind == "progress"
            and self.phase is DownloadPhase.DOWNLOADING
            and not (self.ready or update.dots is not None)
        ):
            self._progress_fast(update, at)
        else:
            self.apply(update, at)
        return update

    def _progress_fast(self, u: Update, at: float) -> None:
        """The line every downloader repeats: bytes moved, while already downloading."""
        self.source = u.source
        if u.file:
            self.file = u.file
        if u.total is not None:
            self._set_total(u.total)
        if u.done is not None:
            self._set_done(u.done, at)
            if u.percent is not None:
                self._total_from_percent(u.done, u.percent)
        self.rate = u.rate if u.rate is not None else self._computed_rate
        self._set_eta(u.eta)
        self.updated_at = at
        self.version += 1

    def apply(self, u: Update, at: float) -> None:
        kind = u.kind
        if u.file:
            self.file = u.file
        # The most specific format wins: Lightning's own lines frame the tools' progress.
        if u.source != "lightning" or self.source is None:
            self.source = u.source
        if kind == "progress":
            self._progress(u, at)
        elif kind == "start":
            self._begin(u, at)
        elif kind == "retry":
            self.phase = DownloadPhase.RETRYING
            if u.code is not None and u.code != DOWNLOAD_FAILED and u.message:
                self._cause = (u.code, redact_text(u.message))
            if u.attempt is not None:
                self.attempt = u.attempt
            if u.done is not None:
                self._set_done(u.done, at)
            of = f" of {u.attempts}" if u.attempts else ""
            num = f" {u.attempt}{of}" if u.attempt is not None else ""
            self._note(f"log: download attempt{num} failed: {u.message or 'no reason given'}")
            self.message = redact_text(u.message) if u.message else None
        elif kind == "wait":
            self.phase = DownloadPhase.WAITING
            self.waiting_for = u.message
            holder = f" (held by {u.message})" if u.message else ""
            if not self.evidence or not self.evidence[-1].startswith("log: waiting for the lock"):
                self._note(f"log: waiting for the lock{holder}")
        elif kind == "stall":
            self.phase = DownloadPhase.STALLED
            if u.done is not None:
                self._set_done(u.done, at, moved=False)
            self._note(f"log: downloader reports a stall ({u.message or 'no bytes'})")
        elif kind == "verify":
            if self.phase is not DownloadPhase.VERIFYING:
                self._note("log: verifying checksum")
            self.phase = DownloadPhase.VERIFYING
            self.failure_code = self.failure = None
        elif kind == "done":
            self._finish(u, at)
        elif kind == "error":
            self._fail(u)
        elif kind == "ready":
            self.ready_at = at
            self.failure_code = self.failure = None
            self._overcome()
            if self.phase not in (None, DownloadPhase.DONE):
                self.phase = DownloadPhase.DONE
            self._note(f"log: {u.message or 'server ready'}")
        elif kind == "info" and u.message:
            self._note(f"log: {redact_text(u.message)}")
        self.updated_at = at
        self.version += 1

    def _note(self, line: str) -> None:
        """Keep a line of evidence (secrets in URLs redacted, length capped)."""
        if "://" in line:
            line = redact_text(line)
        self.evidence.append(line[:300])

    def _begin(self, u: Update, at: float) -> None:
        restarted = self.phase in (DownloadPhase.DONE, DownloadPhase.FAILED) or self.ready
        self.phase = DownloadPhase.STARTING if u.done is None else DownloadPhase.DOWNLOADING
        if self.phase is DownloadPhase.DOWNLOADING and u.source == "lightning":
            self.phase = DownloadPhase.STARTING
        if restarted:
            self.ready_at = None
            self.attempt = None
            self.failure_code = self.failure = None
            self.done = None
            self.total = None
            self._total_exact = False
            self._rate_sample = None
            self._last_dot = None
        self._total_bounds = None
        self._forget_rows()  # a new response: the rate starts over
        self.failure_code = self.failure = None
        self.waiting_for = None
        if restarted:
            self._cause = None
        if u.total is not None:
            self._set_total(u.total)
        if u.done is not None:
            self.done = u.done
            self.has_bytes = True
        self.last_change_at = at
        if u.source == "lightning" or not self.evidence:
            self._note(f"log: {u.message or 'download started'}")

    def _set_done(self, done: int, at: float, moved: bool = True) -> None:
        if self.done is None or done != self.done:
            if moved:
                if self._bytes_at is not None and at > self._bytes_at:
                    self._gaps.append(at - self._bytes_at)
                self._bytes_at = at
                self.last_change_at = at
                self.bytes_moved = self.bytes_moved or done > (self.done or 0)
            self._sample_rate(done, at)
        self.done = done
        self.has_bytes = True

    def _sample_rate(self, done: int, at: float) -> None:
        sample = self._rate_sample
        if sample is not None and at > sample[0] and done >= sample[1]:
            instant = (done - sample[1]) / (at - sample[0])
            a = self.RATE_SMOOTHING
            old = self._computed_rate
            self._computed_rate = instant if old is None else a * instant + (1 - a) * old
        self._rate_sample = (at, done)

    def _progress(self, u: Update, at: float) -> None:
        if self.phase in (DownloadPhase.FAILED, DownloadPhase.DONE) or self.ready:
            # Progress after an outcome: a new attempt (e.g. the container restarted).
            self.ready_at = None
            self.attempt = None
        self.failure_code = self.failure = None
        self.waiting_for = None
        self.phase = DownloadPhase.DOWNLOADING
        done = u.done
        if u.total is not None:
            self._set_total(u.total)
        if u.dots is not None and done is not None:
            done = self._wget_dots(done, u)
        if done is not None:
            if u.percent is not None:
                self._total_from_percent(done, u.percent)
            self._set_done(done, at)
        elif self.last_change_at is None:
            self.last_change_at = at
        if u.dots is not None:
            # wget's figure is one line's burst: bytes over time across lines, and the ETA
            # from that rate (wget's own ETA suffers from the same bursts: "0s" at 8 %).
            self.rate = self._wget_rate(u)
            finished = u.eta == 0.0 and u.percent in (None, 100)  # "=2.5s" ends the transfer
            self._set_eta(0.0 if finished else None)
            return
        if u.rate is not None:
            self.rate = u.rate
        elif done is not None:
            self.rate = self._computed_rate
        self._set_eta(u.eta)

    def _set_total(self, total: int) -> None:
        self.total = total
        self._total_exact = True
        self._total_bounds = None

    def _total_from_percent(self, done: int, percent: int) -> None:
        """The total as wget's rounded-down percentages bound it, when no line stated it.

        ``percent`` = floor(100 * done / total), so total lies in (100 done / (p + 1),
        100 done / p]; the bounds of successive lines narrow it down (a contradiction, as
        after a new response, starts over).
        """
        if self._total_exact or percent < 0:
            return
        if percent >= 100:
            self.total = done
            self._total_bounds = None
            return
        above = 100.0 * done / (percent + 1)
        at_most = 100.0 * done / percent if percent else float("inf")
        bounds = self._total_bounds
        if bounds is not None:
            narrowed = (max(above, bounds[0]), min(at_most, bounds[1]))
            if narrowed[0] < narrowed[1]:
                above, at_most = narrowed
        self._total_bounds = (above, at_most)
        if at_most != float("inf"):
            self.total = max(done, round((above + at_most) / 2))

    def _set_eta(self, reported: float | None) -> None:
        """The downloader's own ETA, else one from the rate and what is left; none while
        nothing moves or when it would be more than ``MAX_ETA`` away."""
        rate = self.rate
        if reported == 0.0:
            eta: float | None = 0.0  # finished ("in 17s", "=2.5s")
        elif rate is not None and rate < MIN_RATE:
            eta = None
        elif reported is not None:
            eta = reported
        elif rate and self.total and self.done is not None:
            eta = max(0.0, (self.total - self.done) / rate)
        else:
            eta = None
        self.eta = eta if eta is None or eta <= MAX_ETA else None

    def _wget_dots(self, offset: int, u: Update) -> int:
        """Where a dot line ends; learns the bytes per dot from the step between offsets."""
        last = self._last_dot
        if last is not None and offset > last[0] and last[1] > 0:
            # A full line's worth of dots spans exactly the step between offsets; wget's dot
            # styles use 1K (default), 8K (binary), 64K (mega) or 1M (giga) per dot.
            size = (offset - last[0]) // last[1]
            if size in _WGET_DOT_SIZES:
                if size != self._dot_size:
                    self._total_bounds = None  # worked out with the wrong size
                self._dot_size = size
                self._dot_size_learned = True
        if not self._dot_size_learned and u.dot_size is not None:
            self._dot_size = u.dot_size
        dots = u.dots or 0
        self._last_dot = (offset, dots)
        return offset + dots * self._dot_size

    def _forget_rows(self) -> None:
        self._rows.clear()
        self._rows_bytes = 0
        self._rows_seconds = 0.0

    def _wget_rate(self, u: Update) -> float | None:
        """Bytes over wget's own time for the lines of the last ``RATE_WINDOW`` seconds.

        Each line's time is its bytes over its speed, so a burst line weighs what it lasted
        (microseconds), not what it claims. None until the lines cover enough time.
        """
        new = ((u.dots or 0) - (u.skipped or 0)) * self._dot_size
        if u.rate and new > 0:
            rows = self._rows
            seconds = new / u.rate
            rows.append((new, seconds))
            self._rows_bytes += new
            self._rows_seconds += seconds
            while len(rows) > ROWS_KEPT or (
                len(rows) > 1 and self._rows_seconds - rows[0][1] >= RATE_WINDOW
            ):
                old_bytes, old_seconds = rows.popleft()
                self._rows_bytes -= old_bytes
                self._rows_seconds -= old_seconds
        if not self._rows or self._rows_seconds <= 0:
            return None
        if self._rows_seconds < RATE_MIN_SPAN and len(self._rows) < ROWS_KEPT:
            return None
        return self._rows_bytes / self._rows_seconds

    def _finish(self, u: Update, at: float) -> None:
        self.phase = DownloadPhase.DONE
        self._cause = None
        self.failure_code = self.failure = None
        self.waiting_for = None
        self._overcome()
        if u.done is not None:
            self.done = u.done
            self.has_bytes = True
        elif self.total is not None:
            self.done = self.total
        if u.total is not None:
            self._set_total(u.total)
        self.eta = 0.0
        self.last_change_at = at
        size = f" ({format_bytes(u.done)})" if u.done else ""
        self._note(f"log: {redact_text(u.message) if u.message else 'download complete'}{size}")

    def _overcome(self) -> None:
        """The download is done (or the server ready): the attempt it took and the error a
        retry got past are history, kept in the evidence, not how the download stands."""
        self.attempt = None
        self.message = None

    def _fail(self, u: Update) -> None:
        self.phase = DownloadPhase.FAILED
        code = u.code
        text = redact_text(u.message or u.code or "download failed")
        cause = self._cause
        if code == DOWNLOAD_FAILED and cause is not None and cause[0] != DOWNLOAD_FAILED:
            # "Download failed after 3 attempts" says less than what failed: keep the cause.
            code = cause[0]
            text = f"{text} ({cause[1]})"
        elif code is not None and code != DOWNLOAD_FAILED:
            self._cause = (code, text)
        self.failure_code = code
        if code == CHECKSUM_MISMATCH and "checksum" not in text.lower():
            text = f"checksum mismatch: {text}"
        self.failure = f"log: {text}"
        self.message = text
        if u.attempt is not None:
            self.attempt = u.attempt
        self._note(self.failure)

    # -- reading ------------------------------------------------------------------------------

    def progress(self) -> DownloadProgress | None:
        if self.phase is None:
            return None
        return DownloadProgress(
            phase=self.phase,
            source=self.source or "unknown",
            bytes_done=self.done,
            bytes_total=self.total,
            rate=self.rate,
            eta_seconds=self.eta,
            attempt=self.attempt,
            file=self.file,
            message=self.message,
            updated_at=self.updated_at,
        )

    @property
    def ready(self) -> bool:
        return self.ready_at is not None

    def facts(self) -> LogFacts:
        return LogFacts(
            phase=self.phase,
            progress=self.progress(),
            last_change_at=self.last_change_at,
            has_bytes=self.has_bytes,
            ready=self.ready,
            ready_at=self.ready_at,
            failure_code=self.failure_code,
            failure=self.failure,
            waiting_for=self.waiting_for,
            evidence=tuple(self.evidence),
            previous_run=self.previous_run,
            lines_seen=self.lines_seen,
            updated_at=self.updated_at,
            bytes_moved=self.bytes_moved,
            byte_interval=max(self._gaps) if self._gaps else None,
            failed_before=self._failed_before,
        )
