"""The feed's sink: turns calls from collector threads into app messages, bounded.

At most one snapshot message and one log message are in the app's queue at any time: while
one waits, newer snapshots replace the parked one and log lines collect in a bounded deque.
So a fast producer can never grow the app's queue, and the screen sees the newest data.

Log lines are forwarded only for the pod whose detail is open, or for every pod while the
timeline is open: one path and one bound for both, so the timeline costs nothing while it is
closed and never more than one queued message while it is open.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence

from textual.message import Message

from collectors.model import ClusterSnapshot, LogLine
from tui.messages import LogLinesReceived, SnapshotUpdated

LOG_BACKLOG = 2000  # log lines parked while the app is busy; older ones are dropped


class FeedBridge:
    """Implements ``collectors.feed.FeedSink``; its methods are safe to call from any thread."""

    def __init__(self, post: Callable[[Message], object], log_backlog: int = LOG_BACKLOG) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._snapshot_in_flight = False
        self._parked: ClusterSnapshot | None = None
        self._following: str | None = None
        self._every_pod = False
        self._log_in_flight = False
        self._log_backlog: deque[LogLine] = deque(maxlen=log_backlog)
        self._closed = False
        self.dropped_snapshots = 0  # superseded before the app saw them (for benchmarks)

    # FeedSink -----------------------------------------------------------------------------
    def snapshot_ready(self, snapshot: ClusterSnapshot) -> None:
        with self._lock:
            if self._closed:
                return
            if self._snapshot_in_flight:
                if self._parked is not None:
                    self.dropped_snapshots += 1
                self._parked = snapshot
                return
            self._snapshot_in_flight = True
        self._post(SnapshotUpdated(snapshot, self))

    def log_lines_received(self, pod: str, lines: Sequence[LogLine]) -> None:
        with self._lock:
            if self._closed or not self._wanted(pod) or not lines:
                return
            self._log_backlog.extend(lines)
            if self._log_in_flight:
                return
            self._log_in_flight = True
            batch = tuple(self._log_backlog)
            self._log_backlog.clear()
        self._post(LogLinesReceived(batch, self))

    # Called by the app on its event loop ---------------------------------------------------
    def snapshot_handled(self) -> None:
        """The app applied a snapshot: post the parked newer one, if any."""
        with self._lock:
            parked, self._parked = self._parked, None
            if parked is None:
                self._snapshot_in_flight = False
                return
        self._post(SnapshotUpdated(parked, self))

    def logs_handled(self) -> None:
        """The app wrote a batch of log lines: post what collected meanwhile, if anything."""
        with self._lock:
            if not self._log_backlog:
                self._log_in_flight = False
                return
            batch = tuple(self._log_backlog)
            self._log_backlog.clear()
        self._post(LogLinesReceived(batch, self))

    def close(self) -> None:
        """Forward nothing more (the app switched to another feed)."""
        with self._lock:
            self._closed = True
            self._parked = None
            self._log_backlog.clear()

    def follow(self, pod: str | None) -> None:
        """Forward log lines of this pod (the one whose detail is open); None stops.

        A batch already posted stays in flight: when the app has handled it, what the new pod
        sent meanwhile follows, so even a quick switch of pods keeps one log message queued.
        """
        with self._lock:
            self._following = pod
            self._drop_unwanted()

    def follow_every_pod(self, every: bool) -> None:
        """Forward every pod's log lines (the timeline is open), or again only the followed
        pod's. Same backlog, same bound, same one message in flight."""
        with self._lock:
            self._every_pod = every
            self._drop_unwanted()

    def _wanted(self, pod: str) -> bool:
        return self._every_pod or pod == self._following

    def _drop_unwanted(self) -> None:
        """Parked lines of pods nobody looks at any more go (lock held)."""
        kept = [line for line in self._log_backlog if self._wanted(line.pod)]
        if len(kept) != len(self._log_backlog):
            self._log_backlog.clear()
            self._log_backlog.extend(kept)
