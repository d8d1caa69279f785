"""Fixtures for the collectors' tests: the simulator fixtures are shared with simcluster's
tests (imported, not duplicated), plus a feed running against a simulated cluster."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from collectors.cluster import Cluster, ConnectionSettings, connect
from collectors.live import LiveFeed
from collectors.model import ClusterSnapshot, LogLine
from collectors.snapshot import FeedOptions
from tests.scenarios.conftest import start  # noqa: F401 - shared fixtures
from tests.simcluster.conftest import make_sim, sim  # noqa: F401 - shared fixtures


class Recorder:
    """A ``FeedSink`` that keeps every snapshot and log line, and can wait for a condition."""

    def __init__(self) -> None:
        self.snapshots: list[ClusterSnapshot] = []
        self.lines: dict[str, list[LogLine]] = {}
        self._cond = threading.Condition()

    def snapshot_ready(self, snapshot: ClusterSnapshot) -> None:
        with self._cond:
            self.snapshots.append(snapshot)
            self._cond.notify_all()

    def log_lines_received(self, pod: str, lines: Sequence[LogLine]) -> None:
        with self._cond:
            self.lines.setdefault(pod, []).extend(lines)

    @property
    def last(self) -> ClusterSnapshot | None:
        with self._cond:
            return self.snapshots[-1] if self.snapshots else None

    def wait(
        self, predicate: Callable[[ClusterSnapshot], bool], timeout: float, what: str
    ) -> ClusterSnapshot:
        """The first snapshot, from the latest one on, for which ``predicate`` holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            index = max(0, len(self.snapshots) - 1)
            while True:
                while index < len(self.snapshots):
                    snap = self.snapshots[index]
                    index += 1
                    if predicate(snap):
                        return snap
                left = deadline - time.monotonic()
                if left <= 0:
                    last = self.snapshots[-1] if self.snapshots else None
                    states = (
                        [(p.name, p.model_state.value, p.evidence[:2]) for p in last.pods]
                        if last
                        else None
                    )
                    raise AssertionError(f"timed out waiting for {what}; last: {states}")
                self._cond.wait(min(left, 0.5))


def sim_cluster_handle(sim_cluster, tmp: Path, user: str = "admin", **settings) -> Cluster:
    path = sim_cluster.write_kubeconfig(tmp / f"kubeconfig-{user}-{sim_cluster.port}", user=user)
    return connect(ConnectionSettings(kubeconfig=str(path), **settings))


@pytest.fixture
def start_feed(tmp_path: Path) -> Iterator[Callable[..., tuple[LiveFeed, Recorder]]]:
    """``start_feed(sim, stall_after=3)`` -> (feed, recorder); stopped after the test."""
    feeds: list[LiveFeed] = []

    def begin(sim_cluster, **options) -> tuple[LiveFeed, Recorder]:
        cluster = sim_cluster_handle(sim_cluster, tmp_path, request_timeout=5.0)
        feed = LiveFeed(cluster, FeedOptions(**options), owns_cluster=True)
        recorder = Recorder()
        feed.start(recorder)
        feeds.append(feed)
        return feed, recorder

    yield begin
    for feed in feeds:
        feed.stop()


def feed_threads() -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.name.startswith("asr-cache-tui") and t.is_alive()
    ]
