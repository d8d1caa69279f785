"""The seam between the collectors and the dashboard: a live feed of snapshots and log lines.

The collectors implement ``ClusterFeed``; the TUI consumes it. Sink methods are called from
background threads, so a sink must only hand the value over (e.g. post a Textual message).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from collectors.model import CacheFile, ClusterSnapshot, LogLine, VolumeUsage


class FeedSink(Protocol):
    def snapshot_ready(self, snapshot: ClusterSnapshot) -> None: ...

    def log_lines_received(self, pod: str, lines: Sequence[LogLine]) -> None: ...


class ClusterFeed(Protocol):
    """A running view of one namespace. ``start`` returns at once; work happens in threads."""

    def start(self, sink: FeedSink) -> None: ...

    def stop(self) -> None:
        """Stop every watch, stream and thread; returns within a couple of seconds."""

    def follow_pod(self, pod: str) -> None:
        """Make sure this pod's log is streamed (the detail view asks for it)."""

    def unfollow_pod(self, pod: str) -> None:
        """The detail view closed: stream this pod's log only if the feed would anyway (it
        may be downloading), so opened details do not take the streams of pods that are.
        Returns at once."""

    def recent_log(self, pod: str) -> Sequence[LogLine]: ...

    def cache_files(self, pod: str) -> Sequence[CacheFile]:
        """Blocking (exec in the pod): call from a worker thread."""

    def disk_usage(self, pod: str) -> VolumeUsage:
        """Blocking (``df`` via exec in the pod): call from a worker thread."""

    def refresh_volumes(self, names: Sequence[str]) -> None:
        """Measure these volumes (``VolumeInfo.name``) again now, not from a cached figure: an
        action changed them. Returns at once; the feed's own poller does the measuring."""
