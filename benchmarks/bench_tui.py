"""Benchmark of the dashboard: first frame, first full data, key latency while downloads
stream, CPU when nothing changes, and memory growth over a streaming run.

Run by hand (not part of the test run), from the repository root:

    .venv/bin/python -m benchmarks.bench_tui [--pods 300] [--downloading 20] [--keys 300]
        [--minutes 2]

The data comes from a synthetic feed shaped like the ``scale`` scenario (300 pods on 30 nodes,
30 volumes, 20 downloads moving), published from a thread four times a second as the live
feed does at most, plus 100 log lines a second for the pod whose detail is open. The app runs
headless (Textual's test driver), so rendering is done but not written to a terminal; it is
built as ``asr-cache-tui`` builds it (same redraw pacing, same heap settling).

Key latency: ``--keys`` presses of j/k on the pods table while the feed streams, each measured
from the key event to the frame that shows the moved cursor, with a random pause (20 to 120 ms,
fixed seed) between presses so that they land at every point of the redraw cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import threading
import time
from collections.abc import Callable, Sequence

from textual.strip import Strip

from collectors.feed import FeedSink
from collectors.model import (
    CacheFile,
    ClusterSnapshot,
    ContainerInfo,
    DownloadPhase,
    DownloadProgress,
    LogLine,
    ModelSettings,
    ModelState,
    PodInfo,
    RolloutInfo,
    VolumeInfo,
    VolumeUsage,
)
from tui.app import AsrCacheApp
from tui.screens.detail import PodDetailScreen
from tui.screens.overview import OverviewScreen
from tui.widgets.pods import PodsTable

GiB = 2**30
PUBLISH_INTERVAL = 0.25
LOG_LINES_PER_SECOND = 100


class SyntheticFeed:
    """A ``ClusterFeed`` with ``pods`` pods of which ``downloading`` move every publish."""

    def __init__(self, pods: int, downloading: int) -> None:
        self.n_pods = pods
        self.n_downloading = downloading
        self.sink: FeedSink | None = None
        self.streaming = threading.Event()
        self.streaming.set()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.started_at = time.time()
        self.followed: str | None = None
        self.published = 0

    def _pods(self, now: float) -> tuple[PodInfo, ...]:
        elapsed = now - self.started_at
        out = []
        for i in range(self.n_pods):
            name = f"lightning-asr-7d9f8c6b5-{i:05d}"
            moving = i < self.n_downloading
            progress = None
            state = ModelState.READY
            if moving:
                total = 24 * GiB
                rate = 80e6 + i * 1e6
                done = int(min(total - 1, rate * elapsed + i * 1e8))
                progress = DownloadProgress(
                    DownloadPhase.DOWNLOADING,
                    "bundled",
                    done,
                    total,
                    rate,
                    (total - done) / rate,
                    1,
                    "model.bin",
                    updated_at=now,
                )
                state = ModelState.DOWNLOADING
            out.append(
                PodInfo(
                    name=name,
                    namespace="smallest",
                    uid=f"uid-{i}",
                    node=f"node-{i % 30:02d}",
                    phase="Running",
                    ready=not moving,
                    restarts=0,
                    created_at=self.started_at - 3600,
                    owner="ReplicaSet/lightning-asr-7d9f8c6b5",
                    release="lightning-asr",
                    containers=(
                        ContainerInfo("lightning-asr", False, "asr:1", "running", not moving),
                    ),
                    model=ModelSettings(version="v1", cache_dir="/app/models"),
                    cache_claim=f"models-{i % 30:02d}",
                    cache_kind="pvc",
                    model_state=state,
                    progress=progress,
                )
            )
        return tuple(out)

    def snapshot(self) -> ClusterSnapshot:
        now = time.time()
        volumes = tuple(
            VolumeInfo(
                name=f"models-{v:02d}",
                kind="pvc",
                access_modes=("ReadWriteMany",),
                pods=tuple(f"lightning-asr-7d9f8c6b5-{i:05d}" for i in range(v, self.n_pods, 30)),
                usage=VolumeUsage("kubelet", 20 * GiB, 100 * GiB, 80 * GiB, now),
            )
            for v in range(30)
        )
        return ClusterSnapshot(
            context="bench",
            namespace="smallest",
            server="http://127.0.0.1:1",
            taken_at=now,
            pods=self._pods(now),
            volumes=volumes,
            rollouts=(
                RolloutInfo(
                    "lightning-asr",
                    self.n_pods,
                    self.n_pods,
                    self.n_pods - self.n_downloading,
                    self.n_pods - self.n_downloading,
                    serving=True,
                ),
            ),
        )

    def _run(self) -> None:
        sink = self.sink
        assert sink is not None
        line_no = 0
        while not self.stop_event.is_set():
            if self.streaming.is_set():
                sink.snapshot_ready(self.snapshot())
                self.published += 1
                pod = self.followed
                if pod is not None:
                    n = int(LOG_LINES_PER_SECOND * PUBLISH_INTERVAL)
                    lines = [
                        LogLine(
                            pod,
                            "lightning-asr",
                            f"model.bin {line_no + k} 42% 10.1 GiB/24.0 GiB 85 MiB/s",
                            "progress",
                            time.time(),
                        )
                        for k in range(n)
                    ]
                    line_no += n
                    sink.log_lines_received(pod, lines)
            self.stop_event.wait(PUBLISH_INTERVAL)

    def start(self, sink: FeedSink) -> None:
        self.sink = sink
        self.thread = threading.Thread(target=self._run, name="synthetic-feed", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(2)

    def follow_pod(self, pod: str) -> None:
        self.followed = pod

    def unfollow_pod(self, pod: str) -> None:
        if self.followed == pod:
            self.followed = None

    def recent_log(self, pod: str) -> Sequence[LogLine]:
        return ()

    def cache_files(self, pod: str) -> Sequence[CacheFile]:
        return [CacheFile("v1/model.bin.part", 10 * GiB, time.time(), partial=True)]

    def disk_usage(self, pod: str) -> VolumeUsage:
        return VolumeUsage("df", 20 * GiB, 100 * GiB, 80 * GiB, time.time())

    def refresh_volumes(self, names: Sequence[str]) -> None:
        pass


def _settle(shown: asyncio.Future[float]) -> None:
    """Record the end of the frame that showed the move (once; a cancelled wait stays so)."""
    if not shown.done():
        shown.set_result(time.perf_counter())


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (y per x)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points) or 1.0
    return sum((x - mx) * (y - my) for x, y in points) / var


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll the app's state from outside (what a user would see), every 5 ms."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the dashboard did not get there in time")
        await asyncio.sleep(0.005)


class KeyProbe:
    """Times key presses on the pods table: from the key event to the end of the first frame
    in which the table drew its lines again after the cursor moved (the frame showing it).

    A poller waiting for the move would share the event loop with the redraw it waits
    behind, see the move late and count one frame more than the user waits; asking for "the
    next refresh" right at the move could be answered before the table's repaint reached the
    screen, counting one frame less. So the probe watches the cursor, then the table's line
    drawing; a frame is drawn in one step of the event loop, so a callback queued from inside
    it runs as soon as that frame is out. (Pilot.press is not used: it also waits for the
    whole process, feed thread included, to go idle.)
    """

    def __init__(self, app: AsrCacheApp, table: PodsTable) -> None:
        self.app = app
        self.table = table
        self._before = -1
        self._shown: asyncio.Future[float] | None = None
        self._moved = False
        app.watch(table, "cursor_coordinate", self._cursor_changed, init=False)
        draw_line = table.render_line

        def render_line(y: int) -> Strip:
            shown = self._shown
            if self._moved and shown is not None:  # inside the first frame that has the move
                self._shown, self._moved = None, False
                asyncio.get_running_loop().call_soon(_settle, shown)
            return draw_line(y)

        setattr(table, "render_line", render_line)  # noqa: B010  (the instance only)

    def _cursor_changed(self, _old: object, _new: object) -> None:
        if self._shown is not None and self.table.cursor_row != self._before:
            self._moved = True

    async def press(self, key: str) -> float:
        self._before = self.table.cursor_row
        shown = self._shown = asyncio.get_running_loop().create_future()
        self._moved = False
        start = time.perf_counter()
        self.app.simulate_key(key)
        try:
            return await asyncio.wait_for(shown, 5) - start
        except asyncio.TimeoutError:  # not yet the builtin TimeoutError on Python 3.10
            raise TimeoutError(f"key {key!r} not answered in 5 s") from None


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q=1.0 is the maximum)."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def bench(
    pods: int, downloading: int, keys: int, minutes: float
) -> list[tuple[str, str, str]]:
    feed = SyntheticFeed(pods, downloading)
    app = AsrCacheApp(feed, None, read_only=True, context="bench", namespace="smallest")
    rows: list[tuple[str, str, str]] = []
    t0 = time.perf_counter()
    async with app.run_test(size=(150, 42)) as pilot:
        await until(lambda: isinstance(app.screen, OverviewScreen) and app.screen.ready)
        first_frame = time.perf_counter() - t0
        table = app.screen.query_one(PodsTable)
        await until(lambda: table.row_count >= pods)
        await pilot.pause()
        full_data = time.perf_counter() - t0
        rows.append(("first frame", f"{first_frame * 1000:.0f} ms", "≤ 1000 ms"))
        rows.append((f"first full data ({pods} pods)", f"{full_data * 1000:.0f} ms", "≤ 2000 ms"))

        await asyncio.sleep(2)  # let streaming settle
        gaps = random.Random(7)
        probe = KeyProbe(app, table)
        latencies = []
        redraws, received, t_keys = app.redraws, app.snapshots_received, time.perf_counter()
        for i in range(keys):
            latencies.append(await probe.press("j" if i % 20 < 10 else "k"))
            await asyncio.sleep(gaps.uniform(0.02, 0.12))
        t_keys = time.perf_counter() - t_keys
        latencies.sort()
        rows.append(
            (
                f"key press while {downloading} downloads stream "
                f"(median / p95 / max of {len(latencies)})",
                " / ".join(f"{percentile(latencies, q) * 1000:.0f}" for q in (0.5, 0.95, 1.0))
                + " ms",
                "≤ 50 ms",
            )
        )
        rows.append(
            (
                "meanwhile: snapshots taken in / redraws, per second",
                f"{(app.snapshots_received - received) / t_keys:.1f} / "
                f"{(app.redraws - redraws) / t_keys:.1f}",
                "-",
            )
        )

        feed.streaming.clear()
        await asyncio.sleep(1.5)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(10)
        idle = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
        rows.append(("CPU when nothing changes (10 s)", f"{idle:.1f}% of one core", "< 5%"))

        cpu0, wall0 = time.process_time(), time.perf_counter()
        feed.streaming.set()
        await asyncio.sleep(10)
        busy = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
        rows.append(
            (f"CPU while {downloading} downloads stream (10 s)", f"{busy:.1f}% of one core", "-")
        )

        await pilot.press("home", "enter")  # the detail of a downloading pod: its log streams
        await until(lambda: isinstance(app.screen, PodDetailScreen))
        samples: list[tuple[float, float]] = []
        start = time.perf_counter()
        end = start + minutes * 60
        while time.perf_counter() < end:
            await asyncio.sleep(2)
            samples.append((time.perf_counter() - start, rss_bytes() / 2**20))
        third = samples[len(samples) * 2 // 3 :]
        growth = slope(third) * 3600 if len(third) >= 2 else float("nan")
        trail = []
        for fraction in (0.1, 0.25, 0.5, 0.75, 1.0):
            at = min(samples, key=lambda s: abs(s[0] - fraction * minutes * 60))
            trail.append(f"{at[1]:.0f} MiB at {at[0] / 60:.1f} min")
        rows.append(
            (
                f"RSS while streaming (detail open, {LOG_LINES_PER_SECOND} log lines/s)",
                ", ".join(trail),
                "≤ 250 MiB after 1 h",
            )
        )
        rows.append(
            (
                "RSS growth over the last third (extrapolated per hour)",
                f"{growth:+.1f} MiB/h",
                "flat",
            )
        )
        rows.append(
            (
                "snapshots published / taken in by the app / redraws (whole run)",
                f"{feed.published} / {app.snapshots_received} / {app.redraws}",
                "-",
            )
        )
        await pilot.press("q")
    feed.stop()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_tui", description=__doc__)
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--downloading", type=int, default=20)
    parser.add_argument("--keys", type=int, default=300, help="key presses timed (default 300)")
    parser.add_argument(
        "--minutes", type=float, default=2.0, help="length of the memory run (default 2)"
    )
    args = parser.parse_args(argv)
    rows = asyncio.run(bench(args.pods, args.downloading, args.keys, args.minutes))
    print(
        f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}.\n"
    )
    print("| measure | result | target |\n| --- | --- | --- |")
    for measure, result, target in rows:
        print(f"| {measure} | {result} | {target} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
