"""What can go wrong on one served path (Faults), and what the server counted (FileStats).

Faults are values set per path at run time; the counters that decide "the first K requests"
live in PathState, guarded by one lock, so tests can set faults and read stats from any
thread while the server's loop runs in another.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

_RECENT = 256  # bounded log of recent requests per path


@dataclass(frozen=True)
class Faults:
    """Misbehaviour for one path. Every field is optional; `Faults()` means a healthy server.

    Counts ("the first K requests") start when the faults are set.
    """

    rate_limit: int | None = None
    """Bytes per second per response (so per connection)."""
    slow_rate: int | None = None
    """Bytes per second for the slow responses (see slow_requests), instead of rate_limit:
    one straggling connection among fast ones."""
    slow_requests: int | None = None
    """How many responses are slow: those to the first K requests whose Range asks for more
    than one byte (a downloader's one-byte probe, bytes=0-0, is not counted; None: all)."""
    stall_after: int | None = None
    """Stop sending after this many body bytes, until release_stalls() or the client leaves."""
    stall_requests: int | None = None
    """How many responses stall (None: every one that reaches stall_after)."""
    drop_after: int | None = None
    """Close the TCP connection after this many body bytes (a short body)."""
    drop_requests: int | None = None
    """How many responses are dropped (None: every one that reaches drop_after)."""
    fail_status: int | None = None
    """Answer this status (e.g. 500, 503, 429, 403) instead of the file."""
    fail_first: int | None = None
    """Only the first K requests fail (None: all of them)."""
    retry_after: float | None = None
    """Seconds sent in Retry-After with fail_status."""
    ignore_range: bool = False
    """Answer 200 with the whole body even when a Range was asked."""
    change_etag_after_requests: int | None = None
    """Requests after the first K see a new ETag and Last-Modified (same content)."""
    wrong_content_length: int = 0
    """Declared Content-Length = real body length + this delta; the connection closes after."""
    corrupt_byte_at: int | None = None
    """The byte at this file offset is served flipped (xor 0xff)."""
    redirect_to: str | None = None
    """Answer 302 to this path (or absolute URL) instead of the file."""

    def __post_init__(self) -> None:
        for name in (
            "rate_limit",
            "slow_rate",
            "slow_requests",
            "stall_after",
            "stall_requests",
            "drop_after",
            "drop_requests",
            "fail_first",
            "change_etag_after_requests",
            "corrupt_byte_at",
        ):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"Faults.{name} must be a non-negative int, got {value!r}")
        if self.rate_limit == 0:
            raise ValueError("Faults.rate_limit must be positive (None means uncapped)")
        if self.slow_rate == 0:
            raise ValueError("Faults.slow_rate must be positive (None means no slow responses)")
        if self.fail_status is not None and not 300 <= self.fail_status <= 599:
            raise ValueError(
                f"Faults.fail_status must be an HTTP status 300-599, got {self.fail_status!r}"
            )
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError(f"Faults.retry_after must not be negative, got {self.retry_after!r}")
        if self.redirect_to is not None and not (
            self.redirect_to.startswith("/") or self.redirect_to.startswith(("http://", "https://"))
        ):
            raise ValueError(
                f"Faults.redirect_to must be a path or an http(s) URL: {self.redirect_to!r}"
            )


@dataclass(frozen=True)
class RequestRecord:
    """One answered request, as kept in FileStats.recent."""

    method: str
    range: str | None
    status: int
    bytes_sent: int
    slow: bool = False
    """Sent at Faults.slow_rate."""


@dataclass(frozen=True)
class FileStats:
    """What the server did for one path since the last reset_stats()."""

    requests: int = 0
    """Every request to the path (GET, HEAD, others), answered or not."""
    bytes_sent: int = 0
    """Body bytes written to the socket (bytes still queued when a client vanished excluded)."""
    range_requests: int = 0
    """Requests that carried a Range header (honoured or not)."""
    statuses: dict[int, int] = field(default_factory=dict)
    """Histogram of response statuses."""
    head_requests: int = 0
    stalls: int = 0
    """Responses that stalled (stall_after reached)."""
    drops: int = 0
    """Connections closed mid-body by drop_after."""
    active: int = 0
    """Responses being sent right now."""
    max_active: int = 0
    """Most responses in flight at once (a measure of client parallelism)."""
    recent: tuple[RequestRecord, ...] = ()
    """The last few requests, oldest first (bounded)."""


@dataclass
class _Counters:
    """FileStats's fields, mutable: what a PathState counts under its lock."""

    requests: int = 0
    bytes_sent: int = 0
    range_requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    head_requests: int = 0
    stalls: int = 0
    drops: int = 0
    active: int = 0
    max_active: int = 0
    recent: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=_RECENT))


@dataclass(frozen=True)
class RequestPlan:
    """The faults that apply to one request, decided once when it arrives."""

    faults: Faults
    ordinal: int
    fail: bool
    changed_validators: bool


class PathState:
    """Faults, fault counters and stats for one path; all methods are thread-safe."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.faults = Faults()
        self._seen = 0  # requests since faults were set
        self._stalled = 0
        self._dropped = 0
        self._slowed = 0
        self._c = _Counters()

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._seen = self._stalled = self._dropped = self._slowed = 0

    def begin(self, method: str, has_range: bool) -> RequestPlan:
        """Count a new request and decide which request-level faults it gets."""
        with self._lock:
            f = self.faults
            self._seen += 1
            c = self._c
            c.requests += 1
            c.head_requests += method == "HEAD"
            c.range_requests += has_range
            within = f.fail_first is None or self._seen <= f.fail_first
            fail = f.fail_status is not None and within
            changed = (
                f.change_etag_after_requests is not None
                and self._seen > f.change_etag_after_requests
            )
            return RequestPlan(f, self._seen, fail, changed)

    def start_body(self) -> None:
        with self._lock:
            self._c.active += 1
            self._c.max_active = max(self._c.max_active, self._c.active)

    def end_body(self) -> None:
        with self._lock:
            self._c.active -= 1

    def finish(
        self, method: str, range_header: str | None, status: int, sent: int, slow: bool = False
    ) -> None:
        with self._lock:
            c = self._c
            c.statuses[status] = c.statuses.get(status, 0) + 1
            c.recent.append(RequestRecord(method, range_header, status, sent, slow))

    def add_bytes(self, n: int) -> None:
        with self._lock:
            self._c.bytes_sent += n

    def take_stall(self, limit: int | None) -> bool:
        """True when this response should stall now (and counts it)."""
        with self._lock:
            if limit is not None and self._stalled >= limit:
                return False
            self._stalled += 1
            self._c.stalls += 1
            return True

    def take_slow(self, limit: int | None) -> bool:
        """True when this response should be sent at slow_rate (and counts it)."""
        with self._lock:
            if limit is not None and self._slowed >= limit:
                return False
            self._slowed += 1
            return True

    def take_drop(self, limit: int | None) -> bool:
        """True when this response should be dropped now (and counts it)."""
        with self._lock:
            if limit is not None and self._dropped >= limit:
                return False
            self._dropped += 1
            self._c.drops += 1
            return True

    def snapshot(self) -> FileStats:
        with self._lock:
            c = self._c
            return FileStats(**{**vars(c), "statuses": dict(c.statuses), "recent": tuple(c.recent)})

    def reset_stats(self) -> None:
        with self._lock:
            active = self._c.active
            self._c = _Counters(active=active, max_active=active)
