"""What the collectors cost, measured by hand (not part of the test run):

    .venv/bin/python -m benchmarks.bench_collectors [--pods 300] [--nodes 30] [--seconds 20]

1. the progress parsers on generated logs of every format (lines per second, parse only and
   the whole path: bytes -> segments -> parser -> per-pod tracker);
2. against the simulator's ``scale`` scenario (300 pods on 30 nodes, 30 claims, 20 pods
   downloading at once; run in a child process, so this process holds only the collectors):
   the time to the first full snapshot (live feed, and ``status``'s one-shot collect), list
   requests after the initial lists while nothing changes, stats/summary requests per node
   per refresh interval, and this process's memory while the 20 downloading pods' logs stream.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collectors.lines import LineAssembler
from collectors.progress import ProgressTracker, parse_segment

MiB = 1024**2
NS = "smallest"


# -- 1. parsers ---------------------------------------------------------------------------------


def _bundled(i: int) -> str:
    done = i * 262_144 + random.randint(0, 4096)
    obj = {
        "v": 1,
        "event": "progress",
        "ts": f"2026-11-27T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
        "file": "model.bin",
        "done": done,
        "total": 25_000_000_000,
        "rate": round(random.uniform(8e7, 1.2e8), 1),
        "eta": round(random.uniform(10, 300), 1),
        "workers": 4,
    }
    return json.dumps(obj)


def _wget(i: int) -> str:
    return (
        f"{i * 50:>8}K .......... .......... .......... .......... .......... "
        f"{i * 50 * 100 // 24_414_062:>2}% {random.uniform(80, 130):.1f}M {random.randint(1, 900)}s"
    )


def _curl(i: int) -> str:
    pct = i % 100
    return (
        f"{pct:>3} 23.2G  {pct:>3} {i % 23000 + 1}M    0     0   {random.randint(90, 130)}M      0"
        f"  0:03:10  0:0{i % 10}:{i % 60:02d}  0:02:{i % 60:02d}  {random.randint(90, 130)}M"
    )


def _aria(i: int) -> str:
    return (
        f"[#2089b0 {i % 23000 + 1}MiB/23GiB({i % 100}%) CN:4 DL:{random.randint(90, 130)}MiB "
        f"ETA:{random.randint(1, 59)}m{random.randint(1, 59)}s]"
    )


def _aws(i: int) -> str:
    return (
        f"Completed {i * 0.25:.1f} MiB/23.2 GiB ({random.uniform(50, 130):.1f} MiB/s) "
        "with 1 file(s) remaining"
    )


def _tqdm(i: int) -> str:
    return (
        f"model.safetensors:  {i % 100:>2}%|████▏     | {i % 2300 / 100:.2f}G/23.2G "
        f"[00:{i % 60:02d}<03:{i % 60:02d}, {random.randint(90, 130)}MB/s]"
    )


def _lightning(i: int) -> str:
    return random.choice(
        [
            "INFO: Downloading model from URL...",
            "WARNING: Download attempt 1 failed: Connection timeout",
            "INFO: Model downloaded: 23.5GB",
            f"INFO: request {i} handled in 12 ms",
            "INFO: Server ready on port 2269",
        ]
    )


FORMATS: dict[str, tuple[Callable[[int], str], bytes]] = {
    "bundled JSON": (_bundled, b"\n"),
    "wget dots": (_wget, b"\n"),
    "curl meter (\\r)": (_curl, b"\r"),
    "aria2c": (_aria, b"\n"),
    "aws s3 cp (\\r)": (_aws, b"\r"),
    "tqdm (\\r)": (_tqdm, b"\r"),
    "Lightning lines": (_lightning, b"\n"),
}


def _best(runs: int, measure: Callable[[], float]) -> float:
    """Best of several runs: the machine is shared, the fastest run is the code's speed."""
    return max(measure() for _ in range(runs))


def _parse_rate(texts: list[str]) -> float:
    start = time.perf_counter()
    for t in texts:
        parse_segment(t)
    return len(texts) / (time.perf_counter() - start)


def bench_parsers(lines: int = 100_000, runs: int = 5) -> list[tuple[str, float, float]]:
    random.seed(1)
    rows = []
    mixed: list[bytes] = []
    for name, (make, sep) in FORMATS.items():
        texts = [make(i) for i in range(lines)]
        parse_rate = _best(runs, lambda texts=texts: _parse_rate(texts))  # type: ignore[misc]
        data = sep.join(t.encode() for t in texts) + b"\n"
        mixed.append(data[: len(data) // len(FORMATS)])
        rows.append((name, parse_rate, _best(runs, lambda d=data: _full_path(d, lines))))  # type: ignore[misc]
    blob = b"".join(mixed)
    count = blob.count(b"\n") + blob.count(b"\r")
    rows.append(("all formats mixed", 0.0, _best(runs, lambda: _full_path(blob, count))))
    return rows


def _full_path(data: bytes, lines: int) -> float:
    asm = LineAssembler()
    tracker = ProgressTracker()
    start = time.perf_counter()
    at = 0.0
    for i in range(0, len(data), 65536):
        for seg in asm.feed(data[i : i + 65536]):
            at += 0.001
            tracker.feed_text(seg.text, at)
    return lines / (time.perf_counter() - start)


# -- 2. a simulated cluster in a child process -----------------------------------------------


def _sim_child(conn: Any, root: str, scenario: str) -> None:
    """The simulated cluster, in a process of its own: the ``scale`` scenario (300 pods on
    30 nodes, 30 EFS-class claims, 20 pods downloading at once)."""
    from simcluster.cluster import SimCluster
    from simcluster.scenarios.runner import start_scenario

    with SimCluster.run_in_thread(Path(root), nodes=0) as sim:
        start_scenario(sim, scenario, timeout=300)
        expected = conn.recv()

        def running() -> bool:
            items = sim.store.list("pods", NS)[0]
            return len(items) >= expected and all(
                (p.get("status") or {}).get("phase") == "Running" for p in items
            )

        sim.run(sim.wait_for(running, timeout=300), timeout=320)
        conn.send(str(sim.write_kubeconfig(Path(root) / "kubeconfig")))
        conn.recv()  # stop when the parent says so


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _Sink:
    def __init__(self) -> None:
        self.first_full: float | None = None
        self.lines = 0
        self.want = 0
        self._lock = threading.Lock()

    def snapshot_ready(self, snapshot: Any) -> None:
        if self.first_full is None and len(snapshot.pods) >= self.want:
            self.first_full = time.perf_counter()

    def log_lines_received(self, pod: str, lines: Any) -> None:
        with self._lock:
            self.lines += len(lines)


def bench_cluster(
    scenario: str, pods: int, nodes: int, seconds: float, refresh: float
) -> dict[str, Any]:
    from collectors.cluster import ConnectionSettings, connect
    from collectors.live import LiveFeed
    from collectors.snapshot import FeedOptions

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    with tempfile.TemporaryDirectory() as root:
        proc = ctx.Process(target=_sim_child, args=(child, root, scenario))
        proc.start()
        try:
            parent.send(pods)
            kubeconfig = parent.recv()
            results: dict[str, Any] = {}
            # `status`: one-shot collect.
            cluster = connect(ConnectionSettings(kubeconfig=kubeconfig))
            start = time.perf_counter()
            snap = LiveFeed(cluster, FeedOptions(refresh=refresh), owns_cluster=True).collect()
            results["status collect (s)"] = time.perf_counter() - start
            results["status pods"] = len(snap.pods)
            # The live feed.
            cluster = connect(ConnectionSettings(kubeconfig=kubeconfig))
            feed = LiveFeed(cluster, FeedOptions(refresh=refresh), owns_cluster=True)
            sink = _Sink()
            sink.want = pods
            start = time.perf_counter()
            feed.start(sink)
            while sink.first_full is None and time.perf_counter() - start < 30:
                time.sleep(0.01)
            results["first full snapshot (s)"] = (sink.first_full or float("nan")) - start
            time.sleep(2.0)  # streams open (the pods still downloading), first volume poll done
            lists = cluster.counters.requests("list")
            proxy = cluster.counters.requests("get", "nodes/proxy")
            polls = feed.poller.summary_requests
            lines_before = sink.lines
            t0 = time.perf_counter()
            time.sleep(seconds)
            elapsed = time.perf_counter() - t0
            results["list requests, initial"] = lists
            results["list requests after, idle"] = cluster.counters.requests("list") - lists
            made = cluster.counters.requests("get", "nodes/proxy") - proxy
            intervals = elapsed / refresh
            results["stats/summary per node per interval"] = made / nodes / intervals
            results["summary requests counted by the poller"] = feed.poller.summary_requests - polls
            results["log streams"] = len(feed._streams)
            results["log lines/s received"] = (sink.lines - lines_before) / elapsed
            results["RSS of this process (MiB)"] = _rss_mib()
            results["requests"] = cluster.counters.snapshot()
            feed.stop()
            return results
        finally:
            parent.send("stop")
            proc.join(60)
            if proc.is_alive():
                proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="scale")
    ap.add_argument("--pods", type=int, default=300, help="pods the scenario makes")
    ap.add_argument("--nodes", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--refresh", type=float, default=5.0)
    ap.add_argument("--skip-cluster", action="store_true")
    args = ap.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print("\n| format | parse only (lines/s) | bytes -> tracker (lines/s) |\n| --- | --- | --- |")
    for name, parse_rate, full in bench_parsers():
        shown = f"{parse_rate:,.0f}" if parse_rate else "-"
        print(f"| {name} | {shown} | {full:,.0f} |")
    if args.skip_cluster:
        return
    results = bench_cluster(args.scenario, args.pods, args.nodes, args.seconds, args.refresh)
    print(f"\n| {args.pods} pods on {args.nodes} nodes | value |\n| --- | --- |")
    for key, value in results.items():
        if key == "requests":
            continue
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"| {key} | {shown} |")
    print("\nrequests:", json.dumps(results["requests"], indent=1))


if __name__ == "__main__":
    main()
