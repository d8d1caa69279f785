"""Benchmark the simulated API server at the scale the issue asks for (run by hand).

    .venv/bin/python -m benchmarks.bench_simcluster [--pods 300] [--nodes 30] [--rate 1000]

A child process runs SimCluster with N nodes (kubelets included) and P running pods; this
process measures, over real loopback HTTP: a full pod list (JSON and kubectl's Table form),
and 5 watchers receiving pod changes made at R changes/s by a driver on the server's loop
(delivered rate and end-to-end latency). The server's memory is read from /proc. Prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import httpx

NS = "smallest"
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _rss_mib(pid: int) -> tuple[float, float]:
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    kib = lambda k: int(fields[k].split()[0]) / 1024  # noqa: E731
    return kib("VmRSS"), kib("VmHWM")


def _stamp(obj: dict[str, Any], value: str) -> None:
    obj["metadata"].setdefault("annotations", {})["bench/t"] = value


def _server(conn: Connection, pods: int, nodes: int) -> None:
    """Child: run the cluster, answer commands from the parent until told to stop."""
    import asyncio

    from simcluster.cluster import SimCluster

    root = tempfile.mkdtemp(prefix="bench-sim-")
    with SimCluster.run_in_thread(root, nodes=nodes, timeout=300) as cluster:
        objs = [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"asr-{i:03d}",
                    "namespace": NS,
                    "labels": {"app": "lightning-asr"},
                },
                "spec": {
                    "containers": [
                        {"name": "main", "image": "busybox", "command": ["sleep", "86400"]}
                    ]
                },
            }
            for i in range(pods)
        ]
        cluster.apply(objs)

        def running() -> bool:
            items = cluster.store.list(
                "pods", NS, field_selector="status.phase=Running", copy=False
            )[0]
            return len(items) == pods

        cluster.run(
            cluster.wait_for(lambda: cluster.call(running), timeout=240, what="pods running"),
            timeout=300,
        )
        conn.send({"url": cluster.url, "token": cluster.admin_token, "pid": os.getpid()})

        async def churn(rate: int, seconds: float) -> dict[str, float]:
            store = cluster.store
            names = [f"asr-{i:03d}" for i in range(pods)]
            tick = 0.01
            per_tick = max(1, round(rate * tick))
            loop = asyncio.get_running_loop()
            start = loop.time()
            done = 0
            n = 0
            while loop.time() - start < seconds:
                stamp = repr(time.time())
                for _ in range(per_tick):
                    name = names[n % len(names)]
                    n += 1
                    store.mutate("pods", NS, name, functools.partial(_stamp, value=stamp))
                    done += 1
                target = start + (done / rate)
                await asyncio.sleep(max(0.0, target - loop.time()))
            return {"changes": done, "seconds": loop.time() - start}

        while True:
            cmd = conn.recv()
            if cmd[0] == "churn":
                conn.send(cluster.run(churn(cmd[1], cmd[2]), timeout=cmd[2] + 60))
            elif cmd[0] == "stop":
                conn.send("bye")
                return


def _watch(url: str, token: str, rv: str, seconds: float, out: dict[str, Any]) -> None:
    latencies: list[float] = []
    count = 0
    first = last = 0.0
    with httpx.stream(
        "GET",
        f"{url}/api/v1/namespaces/{NS}/pods",
        params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": str(int(seconds))},
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(10, read=seconds + 10),
    ) as r:
        for line in r.iter_lines():
            if not line:
                continue
            ev = json.loads(line)
            stamp = (ev["object"]["metadata"].get("annotations") or {}).get("bench/t")
            if ev["type"] != "MODIFIED" or stamp is None:
                continue
            now = time.time()
            count += 1
            first = first or now
            last = now
            latencies.append(now - float(stamp))
    out.update(count=count, span=max(1e-9, last - first), latencies=latencies)


def _timed(fn: Any, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--nodes", type=int, default=30)
    parser.add_argument("--rate", type=int, default=1000, help="pod changes per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--watchers", type=int, default=5)
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_server, args=(child, args.pods, args.nodes), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    if not parent.poll(300):
        raise SystemExit("the simulated cluster did not come up within 300 s")
    info = parent.recv()
    startup = time.perf_counter() - t0
    url, token, pid = info["url"], info["token"], info["pid"]
    rss_idle, _ = _rss_mib(pid)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=30) as http:
        list_url = f"{url}/api/v1/namespaces/{NS}/pods"
        body = http.get(list_url)
        assert len(body.json()["items"]) == args.pods
        json_ms = _timed(lambda: http.get(list_url).raise_for_status(), 30)
        table_ms = _timed(
            lambda: http.get(list_url, headers={"Accept": TABLE_ACCEPT}).raise_for_status(), 30
        )
        rv = body.json()["metadata"]["resourceVersion"]
    results: list[dict[str, Any]] = [{} for _ in range(args.watchers)]
    threads = [
        threading.Thread(
            target=_watch, args=(url, token, rv, args.seconds + 3, results[i]), daemon=True
        )
        for i in range(args.watchers)
    ]
    for t in threads:
        t.start()
    time.sleep(0.5)
    parent.send(("churn", args.rate, args.seconds))
    churned = parent.recv()
    rss_busy, rss_peak = _rss_mib(pid)
    for t in threads:
        t.join(args.seconds + 30)
    parent.send(("stop",))
    parent.recv()
    proc.join(30)

    made = churned["changes"] / churned["seconds"]
    delivered = [r["count"] / args.seconds for r in results]
    lat = [x * 1000 for r in results for x in r["latencies"]]
    complete = all(r["count"] == churned["changes"] for r in results)
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    med = statistics.median
    lost = "none lost" if complete else "SOME LOST"
    rows = [
        (
            f"full pod list, JSON ({len(body.content) // 1024} KiB)",
            f"median {med(json_ms):.1f} ms, p95 {_p(json_ms, 0.95):.1f} ms",
            "< 100 ms",
        ),
        (
            "full pod list, Table (kubectl get)",
            f"median {med(table_ms):.1f} ms, p95 {_p(table_ms, 0.95):.1f} ms",
            "< 100 ms",
        ),
        (
            "pod changes made on the server",
            f"{made:,.0f} /s for {churned['seconds']:.0f} s",
            "1,000 /s",
        ),
        (
            f"delivered to each of {args.watchers} watchers",
            f"{min(delivered):,.0f}-{max(delivered):,.0f} /s, {lost}",
            "1,000 /s each",
        ),
        (
            "change-to-watcher latency",
            f"median {med(lat):.1f} ms, p99 {_p(lat, 0.99):.1f} ms",
            "-",
        ),
        (
            "server memory (RSS) idle / under load / peak",
            f"{rss_idle:.0f} / {rss_busy:.0f} / {rss_peak:.0f} MiB",
            "< 300 MB",
        ),
    ]
    print(f"Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"Cluster: {args.pods} running pods on {args.nodes} nodes (kubelets included); "
        f"start-up {startup:.1f} s\n"
    )
    print("| measure | result | target |")
    print("| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
