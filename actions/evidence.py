"""What a pod's evidence says went wrong with its download, one finding per telling line.

The bundled downloader's log lines are JSON events (the progress contract): they are read by
event type and error code with the collectors' own parsers, never searched as text. Every
other line (wget, curl, aws, Lightning ASR, Kubernetes events, the collectors' sentences) is
matched against precise patterns: a port such as 41627 or a byte count such as 4030000 is not
an HTTP status.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.parsers import base
from collectors.parsers.failures import CHECKSUM_MISMATCH_TEXT, NO_SPACE_TEXT
from collectors.progress import parse_segment
from collectors.state import CARRIED_NOTE, DOWNLOADER_EXIT_CODES, exit_note

# What a finding is evidence of.
CHECKSUM = "checksum"  # the model's content is wrong
NO_SPACE = "no-space"  # the volume, or the cache cap, has no room for the download
UNRESUMABLE = "unresumable"  # the partial on disk cannot be continued
REFUSED = "refused"  # the server refuses the URL itself (401/403/404/410): retrying repeats it
FAILED = "failed"  # the download failed for another reason
WAITING = "waiting"  # another process holds the download lock

MAX_LOG_LINES = 60
_QUOTE_LENGTH = 200

# Error codes of the progress contract (README "Exit codes") and what they are evidence of;
# any other code is a plain failure, except an interruption (a pod being stopped).
_CODES = {
    base.CHECKSUM_MISMATCH: CHECKSUM,
    base.DISK_FULL: NO_SPACE,
    "cache_full": NO_SPACE,
    base.HTTP_REFUSED: REFUSED,
}
_NOT_A_FAILURE = frozenset({"interrupted"})
# The downloader's exit codes that say the cache has no room.
_NO_SPACE_EXITS = (6, 7)
# What a log says when a download begins again, or has ended well.
_FRESH_START = frozenset({"start", "done", "ready"})
_ENDED_WELL = frozenset({"done", "ready"})
# The pod's model states in which its current attempt has not said how it ends: then the run
# before a restart speaks for it (a failed, stalled or waiting attempt speaks for itself, unless
# all it says is the downloader's exit code: that is how the run before ended).
_UNDECIDED = frozenset({ModelState.DOWNLOADING, ModelState.PENDING, ModelState.UNKNOWN})


@dataclass(frozen=True)
class Download:
    """A file that failed validation right after its run downloaded it, not one found in the
    cache: the source (MODEL_URL) does not match MODEL_CHECKSUM, so a new download will most
    likely fail the same way."""

    size: int | None = None  # bytes, when the log says
    expected: str | None = None  # the sha256 asked for (hex), when the log says
    actual: str | None = None  # the sha256 the download had (hex), when the log says
    # The bad file stays at its final path (a server that validates after downloading); the
    # bundled downloader discards a mismatching download and places nothing.
    kept: bool = True
    # The run before the container's last restart, when it downloaded and mismatched too.
    before: Download | None = None

    @property
    def twice(self) -> bool:
        """Two runs downloaded the same wrong bytes: the source's fault is certain."""
        return bool(self.before and self.actual and self.before.actual == self.actual)


@dataclass(frozen=True)
class Finding:
    signal: str
    quote: str  # the evidence, as written (shortened)
    holder: str | None = None  # the lock holder's host, for WAITING
    # Said by the run before the container's last restart, which this names: "container X
    # restarted 2 times; the last run failed"; '' for the current attempt.
    previous_run: str = ""
    download: Download | None = None  # for CHECKSUM: the run had just downloaded the file


@dataclass(frozen=True)
class Attempt:
    """What the latest attempt in one run's log said: its findings (newest first), and whether
    it ended well (the download done, or the server ready)."""

    findings: tuple[Finding, ...] = ()
    ended_well: bool = False

    @property
    def undecided(self) -> bool:
        """Neither failed nor done: how it ends is not known yet."""
        return not self.findings and not self.ended_well


@dataclass(frozen=True)
class ContainerLog:
    """The recent log of one container, its current run kept apart from the run before its last
    restart: only that says which run a failure belongs to."""

    container: str
    current: str = ""
    previous: str = ""  # '' when it never restarted (or the kubelet keeps no earlier run)
    restarts: int = 0
    init: bool = False
    exited: str | None = None  # how the run before ended (lastState): "exit code 6 (Error)"

    def history(self) -> tuple[Finding, ...]:
        """The failures of the run before the last restart, each saying it comes from there;
        none when the container never restarted."""
        if not self.restarts and not self.previous:
            return ()
        said = [*self._said_before, *filter(None, [read_line(self.exited or "")])]
        times = max(self.restarts, 1)
        who = f"{'init container' if self.init else 'container'} {self.container}"
        run = f"{who} restarted {times} time{'s' if times != 1 else ''}; the last run failed"
        return tuple(dataclasses.replace(f, previous_run=run) for f in said if f.signal != WAITING)

    @functools.cached_property
    def _said_before(self) -> tuple[Finding, ...]:
        """The run before's log, read once for both its history and its download."""
        return tuple(read_log(self.previous))

    def attempt(self) -> Attempt:
        """The current run's latest attempt. A download that failed validation is set beside
        the run before's: the same wrong sha256 twice leaves no doubt about the source."""
        now = read_attempt(self.current)
        fetched = downloaded(now.findings)
        before = downloaded(self._said_before) if fetched and self.previous else None
        if fetched is None or before is None:
            return now
        both = dataclasses.replace(fetched, before=before)
        return dataclasses.replace(now, findings=_with_download(now.findings, both))


def as_logs(log: str | Sequence[ContainerLog]) -> tuple[ContainerLog, ...]:
    """A bare text is one container's current run, with no history known."""
    return (ContainerLog("", current=log),) if isinstance(log, str) else tuple(log)


def _patterns(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# A full volume and a wrong checksum are read as the collectors read them (failures.py); what
# only our downloader says of having no room, its cache cap and exit codes 6 and 7, is read here.
_NO_ROOM_TEXT = _patterns(
    r"\bcache[ _]full\b",
    r"\bcache (?:size )?cap\b",
    r"\bexit(?:ed)?(?: with)?(?: code)?:? [67]\b",
)
_UNRESUMABLE_TEXT = _patterns(
    r"\bvalidator changed\b",
    r"\betag changed\b",
    r"\bchanged on the server\b",
    r"\brange (?:is )?not satisfiable\b",
    r"\bignor(?:ed|es) (?:the )?range\b",
    r"\bsupport byte ranges\b",  # curl: "HTTP server doesn't seem to support byte ranges"
    r"\bnot resumable\b",
    r"\bcan(?:not|'t) resume\b",
    r"\bcorrupt partial\b",
    r"\bpartial is corrupt\b",
)
_FAILED_TEXT = _patterns(r"\bvalidation failed\b", r"\bcorrupt(?:ed)? (?:model|file|download)\b")
# An HTTP status where a tool prints one: "HTTP 416", "HTTP/1.1 403", "ERROR 403:",
# "returned error: 416", "status 416", "(416)", aws's "(403) when calling".
_STATUS = _patterns(r"\b(?:https?(?:/[\d.]+)?|status|error):? (\d{3})\b", r"\((\d{3})\)")
_UNRESUMABLE_STATUS = frozenset({"416"})
_REFUSED_STATUS = frozenset({"401", "403", "404", "410"})
# The bundled downloader (or a text line that passes its reason on) dropping the partial
# itself: the file starts again from zero, so the partial is no longer a problem.
_STARTS_OVER = _patterns(r"\bstarting over\b")
# The bundled downloader's words for a mismatching download: "it was discarded and nothing
# was placed at …".
_NOTHING_PLACED = _patterns(r"\bnothing was placed\b")
_HOLDER = _patterns(r"\bon (?:host )?([a-z0-9][a-z0-9.-]*)")
_HELD_BY = _patterns(r"\bheld by (?:pid \d+ )?on (?:host )?([a-z0-9][a-z0-9.-]*)")
# A refusal that is ours, not the server's: the downloader's "the TLS certificate of HOST is
# not trusted (…)", or OpenSSL's own words.
_UNTRUSTED_CERTIFICATE = _patterns(
    r"\bTLS certificate of \S+ is not trusted\b", r"\bcertificate verify failed\b"
)


def read_line(line: str) -> Finding | None:
    """The finding in one line of evidence, or None when it tells nothing (or is malformed)."""
    text = line.strip()
    if text.startswith("{"):
        # The downloader's JSON: read as an event, or not at all (a torn or unknown line).
        return _from_event(parse_segment(text))
    return _from_text(text)


def read_log(log: str) -> tuple[Finding, ...]:
    """The findings of the log's latest attempt, newest first (see ``read_attempt``)."""
    return read_attempt(log).findings


def read_attempt(log: str) -> Attempt:
    """The log's latest attempt.

    A line that starts the download again, or says it is done or the server ready, makes what
    came before it in the same run history: an earlier attempt's failure, retried, no longer
    says what is wrong now. A checksum mismatch that follows the attempt's own download (its
    start or progress lines) carries what the log says of that download (``Download``).
    """
    found: list[Finding] = []
    ended_well = False
    fetch = _Fetch()
    for line in log.splitlines()[-MAX_LOG_LINES:]:
        text = line.strip()
        update = parse_segment(text)  # any format: to see where the latest attempt began
        if update is not None:
            if update.kind in _FRESH_START:
                found.clear()
                ended_well = update.kind in _ENDED_WELL
            fetch = fetch.after(update)
        finding = _from_event(update) if text.startswith("{") else _from_text(text)
        if finding is not None:
            found.append(finding)
            if finding.signal == CHECKSUM:
                fetch = fetch.mismatched(text, update)
    findings = tuple(reversed(found))
    download = fetch.download()
    if download is not None:
        findings = _with_download(findings, download)
    return Attempt(findings, ended_well and not found)


@dataclass(frozen=True)
class _Fetch:
    """What the latest attempt has said of its own download so far, line by line."""

    downloading: bool = False  # a start, or bytes moving, since the attempt began
    size: int | None = None
    expected: str | None = None
    actual: str | None = None
    discarded: bool = False
    mismatch: bool = False  # a checksum mismatch after the download

    def after(self, update: base.Update) -> _Fetch:
        """A start begins a download; bytes moving show one. The download's end ("Model
        downloaded") keeps it: a server validates after it. The server ready, or a file found
        done with no download under way (a cache hit), ends it."""
        if update.kind == "start":
            return _Fetch(True, update.total)
        if update.kind == "progress" and update.done is not None:
            return dataclasses.replace(self, downloading=True, size=update.total or self.size)
        if update.kind == "done" and self.downloading:
            return dataclasses.replace(self, size=update.total or self.size)
        if update.kind in _ENDED_WELL:
            return _Fetch()
        return self

    def mismatched(self, text: str, update: base.Update | None) -> _Fetch:
        """A checksum mismatch: what it says of the hashes and of the file it left."""
        if not self.downloading:
            return self
        said = (update.message or "") if text.startswith("{") and update else text
        expected, actual = mismatch_hashes(said)
        # The bundled downloader's error event: its download was discarded, never placed.
        bundled = update is not None and update.source == "bundled" and update.kind == "error"
        return dataclasses.replace(
            self,
            mismatch=True,
            expected=expected or self.expected,
            actual=actual or self.actual,
            discarded=self.discarded or bundled or bool(_NOTHING_PLACED.search(said)),
        )

    def download(self) -> Download | None:
        if not self.mismatch:
            return None
        return Download(self.size, self.expected, self.actual, kept=not self.discarded)


def _with_download(findings: tuple[Finding, ...], download: Download) -> tuple[Finding, ...]:
    return tuple(
        dataclasses.replace(f, download=download) if f.signal == CHECKSUM else f for f in findings
    )


def downloaded(found: Iterable[Finding]) -> Download | None:
    """The download a checksum mismatch followed, if any of ``found`` says so."""
    return next((f.download for f in found if f.signal == CHECKSUM and f.download), None)


_SHA256 = re.compile(r"(?<![0-9a-f])(?:sha256:)?([0-9a-f]{64})(?![0-9a-f])", re.IGNORECASE)
# What introduces each hash, with a word between at most ("expected checksum E").
_EXPECTED = _patterns(r"\bexpected\W+(?:\w+\W+)?$")
_ACTUAL = _patterns(r"\b(?:has|had|got|actual|calculated|computed)\W+(?:\w+\W+)?$")


def mismatch_hashes(text: str) -> tuple[str | None, str | None]:
    """(expected, actual) sha256 hex as a mismatch message gives them: "expected E but the
    download has A", "Expected checksum E did not match calculated checksum: A". Each is the
    hash its words introduce; two hashes with no such words are read in that order."""
    found = [
        (m.group(1).lower(), text[max(0, m.start() - 40) : m.start()])
        for m in _SHA256.finditer(text)
    ]
    expected = next((h for h, before in found if _EXPECTED.search(before)), None)
    actual = next((h for h, before in found if _ACTUAL.search(before)), None)
    if expected is None and actual is None and len(found) == 2:
        return found[0][0], found[1][0]
    return expected, actual


def _from_event(update: base.Update | None) -> Finding | None:
    if update is None:
        return None
    if update.kind == "error":
        code = update.code or base.DOWNLOAD_FAILED
        if code in _NOT_A_FAILURE:
            return None
        quote = _quote(f"{code}: {update.message}" if update.message != code else code)
        return Finding(_CODES.get(code, FAILED), quote)
    if update.kind == "wait":
        holder = _HOLDER.search(update.message or "")
        return Finding(
            WAITING,
            _quote(f"waiting for the lock held by {update.message or 'another process'}"),
            holder.group(1).lower() if holder else None,
        )
    # start, progress, retry (the downloader handles it), stall, verify, done, evict.
    return None


def _from_text(text: str) -> Finding | None:
    if not text:
        return None
    statuses = {a or b for a, b in _STATUS.findall(text)}
    if CHECKSUM_MISMATCH_TEXT.search(text):
        return Finding(CHECKSUM, _quote(text))
    if NO_SPACE_TEXT.search(text) or _NO_ROOM_TEXT.search(text):
        return Finding(NO_SPACE, _quote(text))
    if (
        _UNRESUMABLE_TEXT.search(text) or statuses & _UNRESUMABLE_STATUS
    ) and not _STARTS_OVER.search(text):
        return Finding(UNRESUMABLE, _quote(text))
    held = _HELD_BY.search(text)
    if held:
        return Finding(WAITING, _quote(text), held.group(1).lower())
    if statuses & _REFUSED_STATUS:
        return Finding(REFUSED, _quote(text))
    if _FAILED_TEXT.search(text):
        return Finding(FAILED, _quote(text))
    return None


def _quote(text: str) -> str:
    return text.strip()[:_QUOTE_LENGTH]


def pod_findings(
    snapshot: ClusterSnapshot, pod: PodInfo, log: str | Sequence[ContainerLog] = ""
) -> tuple[Finding, ...]:
    """Everything known about the pod's download, read: the collectors' evidence first, then
    its recent ``log`` (newest first), its progress, its containers and the events about it;
    last, the downloader's exit codes, which say what failed but not how.

    When none of it but an exit code tells of a failure and the current attempt has not ended,
    a container that restarted speaks through its run before: a crash loop caught while it
    downloads again has not failed this time yet, but its last run did (and this one likely
    will); and a run that ended 6 said how much room it lacked, which its code does not. The
    same when the snapshot itself carries the last run's failure (``CARRIED_NOTE``): its log
    says more than the failure's words (whether that run downloaded the file it found bad),
    and the carried words stand only when that log is gone."""
    logs = as_logs(log)
    attempts = [c.attempt() for c in logs]
    codes = {c.name: c.exit_code for c in pod.containers if c.exit_code in DOWNLOADER_EXIT_CODES}
    endings = {exit_note(name, code) for name, code in codes.items()}
    carried = CARRIED_NOTE in pod.evidence
    said = _read([line for line in pod.evidence if line not in endings])
    found = [] if carried else said
    for attempt in reversed(attempts):  # the cache container's (read last) first
        found.extend(attempt.findings)
    lines = [pod.progress.message] if pod.progress is not None and pod.progress.message else []
    for c in pod.containers:
        lines.extend(x for x in (c.reason, c.message) if x)
    lines.extend(
        e.message for e in snapshot.events if e.object_kind == "Pod" and e.object_name == pod.name
    )
    found.extend(_read(lines))
    ended = _read([line for line in pod.evidence if line in endings])
    ended.extend(
        Finding(NO_SPACE, exit_note(name, code))
        for name, code in codes.items()
        if code in _NO_SPACE_EXITS
    )
    if not found:
        for container, attempt in reversed(list(zip(logs, attempts, strict=True))):
            its_run_ended = container.container in codes
            if attempt.undecided and (pod.model_state in _UNDECIDED or its_run_ended or carried):
                found.extend(container.history())
        if not found and carried:
            found = said
    return (*found, *ended)


def _read(lines: Iterable[str]) -> list[Finding]:
    return [f for f in map(read_line, lines) if f is not None]


def distrusts_certificate(text: str) -> bool:
    """Whether a refusal is the downloader not trusting the server's TLS certificate."""
    return _UNTRUSTED_CERTIFICATE.search(text) is not None


def first(found: Iterable[Finding], signal: str) -> Finding | None:
    return next((f for f in found if f.signal == signal), None)
