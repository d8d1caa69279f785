"""Benchmark of the bundled downloader against curl, curl + openssl, aria2c and sha256sum.

Run by hand (not part of the test run), from the repository root:

    .venv/bin/python -m benchmarks.bench_download [--runs 5] [--size 1GiB] [--only uncapped,...]

It starts the model servers in separate processes (uncapped, or capping every connection at
50 MB/s, or that and one straggling connection per run at 10 MB/s; plain HTTP, or HTTPS with a
self-signed certificate that every tool is told to trust), then for each scenario runs every
tool in turn, round after round
(alternating, so slow phases of a noisy machine hit every tool alike), to tmpfs and to disk,
and prints a markdown table of medians. Throughput is the file size over the wall time of
the whole command, start-up included. Peak memory is the child's own ru_maxrss (wait4). The
`startup` scenario times a 4 KiB download (launch to exit): the fixed cost every row pays.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from collectors.units import format_bytes, parse_size

ROOT = Path(__file__).resolve().parents[1]
CAP = 50_000_000  # bytes/s per connection, as S3 and CDNs cap them
# One connection per run this slow (the first ranged response, a probe's one byte aside): real
# S3/CDN connections differ 3x in speed, and the download must not wait for the slowest one.
STRAGGLER = 10_000_000
SCENARIOS = ("uncapped", "checksum", "capped", "verify", "https", "straggler", "startup")
STARTUP_FILE = 4096  # bytes: the whole command is its fixed cost
STARTUP_RUNS = 20


@dataclass
class Server:
    url: str
    sha256: str
    proc: subprocess.Popen[str]
    ca: str | None = None  # the certificate to trust, when it serves HTTPS

    def reset(self) -> None:
        """Restart the server's fault counts (its next ranged response is the slow one)."""
        assert self.proc.stdout is not None
        self.proc.send_signal(signal.SIGUSR1)
        if self.proc.stdout.readline().strip() != "reset":
            raise SystemExit("the model server did not reset its faults")


@contextmanager
def model_server(
    size: int, rate_limit: int | None, tls_dir: Path | None = None, slow_rate: int | None = None
) -> Iterator[Server]:
    """The model server in its own process, so it does not share our GIL."""
    argv = [sys.executable, "-m", "simcluster.modelserver", "--size", str(size), "--port", "0"]
    if rate_limit:
        argv += ["--rate-limit", str(rate_limit)]
    if slow_rate:
        argv += ["--slow-rate", str(slow_rate), "--slow-requests", "1"]
    if tls_dir is not None:
        argv += ["--tls-dir", str(tls_dir)]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().removeprefix("url=")
        sha = proc.stdout.readline().strip().removeprefix("sha256=")
        if not url.startswith("http") or len(sha) != 64:
            raise SystemExit(f"the model server did not start: {url!r} {sha!r}")
        ca = proc.stdout.readline().strip().removeprefix("ca=") if tls_dir else None
        yield Server(url, sha, proc, ca)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


@dataclass
class Tool:
    label: str
    argv: Callable[[Path], list[str]]  # output dir -> command
    check: Callable[[Path], None] | None = None
    prepare: Callable[[], None] | None = None  # before every run, untimed


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)


def run_once(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and the child's peak RSS (KiB) of one command, which must succeed."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {' '.join(argv)}\n{err}")
    return elapsed, usage.ru_maxrss


def ours(url: str, *extra: str) -> Callable[[Path], list[str]]:
    return lambda out: [
        sys.executable,
        "-m",
        "actions.downloader",
        url,
        "--cache-dir",
        str(out),
        "--progress",
        "none",
        "--max-cache-size",
        "none",
        *extra,
    ]


def curl(url: str, *extra: str) -> Callable[[Path], list[str]]:
    return lambda out: ["curl", "-sSf", *extra, "-o", str(out / "model.bin"), url]


def trusting(ca: str, command: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    """The command with SSL_CERT_FILE naming the model server's self-signed certificate."""
    return lambda out: ["env", f"SSL_CERT_FILE={ca}", *command(out)]


def curl_then_sync(url: str, *extra: str) -> Callable[[Path], list[str]]:
    """curl, then fsync of the file (coreutils `sync FILE`): durable, as ours is before the
    rename -- `curl -o` alone returns with the file still in the page cache."""
    script = 'f="$1/model.bin"; shift; curl -sSf "$@" -o "$f" && sync "$f"'
    return lambda out: ["sh", "-c", script, "sh", str(out), *extra, url]


def curl_then_openssl(url: str) -> Callable[[Path], list[str]]:
    script = 'curl -sSf -o "$1/model.bin" "$2" && openssl dgst -sha256 "$1/model.bin" >/dev/null'
    return lambda out: ["sh", "-c", script, "sh", str(out), url]


def aria2c(url: str, n: int, *extra: str) -> Callable[[Path], list[str]]:
    return lambda out: [
        "aria2c",
        "-q",
        f"-x{n}",
        f"-s{n}",
        "-k1M",
        "--file-allocation=none",
        "--allow-overwrite=true",
        *extra,
        "-d",
        str(out),
        "-o",
        "model.bin",
        url,
    ]


def verify_tools(model: str, sha256: str) -> list[Tool]:
    """Three ways to checksum the same cached file."""
    ours_verify = [sys.executable, "-m", "actions.downloader", "verify", model]
    ours_verify += ["--checksum", f"sha256:{sha256}", "--progress", "none"]
    return [
        Tool("openssl dgst -sha256", lambda _o: ["openssl", "dgst", "-sha256", model]),
        Tool("ours verify", lambda _o: ours_verify),
        Tool("sha256sum", lambda _o: ["sha256sum", model]),
    ]


def measure(tools: list[Tool], target: Path, runs: int) -> dict[str, Samples]:
    """Every tool once per round, `runs` rounds; a fresh empty directory for every run.

    Each round starts with the next tool (no tool always runs after the same one), and every
    run starts on a quiet disk: the previous run's file is deleted and the deletion synced,
    untimed -- else one tool's dirty pages or freed blocks are written back during the next
    tool's run (measured: the run after curl's was up to 2x slower on disk)."""
    results = {tool.label: Samples() for tool in tools}
    for round_no in range(runs):
        shift = round_no % len(tools)
        for tool in tools[shift:] + tools[:shift]:
            out = Path(tempfile.mkdtemp(prefix="bench-", dir=target))
            os.sync()
            if tool.prepare:
                tool.prepare()
            try:
                seconds, rss = run_once(tool.argv(out))
                if tool.check:
                    tool.check(out)
            finally:
                shutil.rmtree(out, ignore_errors=True)
                os.sync()
            results[tool.label].seconds.append(seconds)
            results[tool.label].rss_kib.append(rss)
    return results


def mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    versions = []
    for tool in (["curl", "--version"], ["aria2c", "--version"], ["openssl", "version"]):
        if shutil.which(tool[0]):
            first = subprocess.run(tool, capture_output=True, text=True).stdout.splitlines()
            versions.append(first[0].split(" (")[0] if first else tool[0])
    return (
        f"{cpu}, {os.cpu_count()} cores, {format_bytes(mem)} RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}; {', '.join(versions)}"
    )


def compile_packages() -> None:
    """Write the bytecode of our packages first, as an installed package has it: a source
    tree may have none (PYTHONDONTWRITEBYTECODE, or edits since the last run), and every run
    would compile the changed modules again (a few ms each, counted as start-up)."""
    for package in ("actions", "collectors"):
        if not compileall.compile_dir(ROOT / package, quiet=1):
            raise SystemExit(f"cannot compile {package}/")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="rounds per scenario (median of these)")
    p.add_argument("--size", default="1GiB")
    p.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    p.add_argument("--tmpfs", default="/dev/shm", help="a tmpfs directory")
    p.add_argument("--disk", default="/var/tmp", help="a directory on disk")
    args = p.parse_args(argv)
    size = parse_size(args.size)
    only = set(args.only.split(","))
    targets = {"tmpfs": Path(args.tmpfs), "disk": Path(args.disk)}
    have_aria = shutil.which("aria2c") is not None
    compile_packages()
    rows: list[str] = []
    rss_peak: list[int] = []

    def verified(sha: str) -> Callable[[Path], None]:
        def check(out: Path) -> None:
            got = subprocess.run(
                ["openssl", "dgst", "-sha256", "-r", str(out / "model.bin")],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[0]
            if got != sha:
                raise SystemExit(f"wrong file downloaded: {got} != {sha}")

        return check

    def table(title: str, tools: list[Tool], baseline: str | float) -> None:
        """One markdown table; ratios are to the baseline tool's median or to a rate."""
        against = baseline if isinstance(baseline, str) else f"{baseline:,.0f} MB/s"
        rows.append(f"\n**{title}** (MB/s, median of {args.runs}; in brackets: vs {against})\n")
        rows.append("| tool | " + " | ".join(targets) + " | peak RSS |")
        rows.append("| --- |" + " --- |" * len(targets) + " --- |")
        per_target = {name: measure(tools, path, args.runs) for name, path in targets.items()}
        for tool in tools:
            cells = []
            rss = 0
            for name in targets:
                samples = per_target[name][tool.label]
                med = statistics.median(mbps(size, s) for s in samples.seconds)
                if isinstance(baseline, str):
                    base = statistics.median(
                        mbps(size, s) for s in per_target[name][baseline].seconds
                    )
                else:
                    base = baseline
                ratio = "" if tool.label == baseline else f" ({med / base:.0%})"
                cells.append(f"{med:,.0f}{ratio}")
                rss = max(rss, *samples.rss_kib)
            if tool.label.startswith("ours"):
                rss_peak.append(rss)
            rows.append(f"| {tool.label} | " + " | ".join(cells) + f" | {rss / 1024:.0f} MiB |")
        print("\n".join(rows[-len(tools) - 3 :]), flush=True)

    with model_server(size, None) as fast:
        check = verified(fast.sha256)
        if "uncapped" in only:
            table(
                f"Uncapped loopback, {format_bytes(size)}",
                [
                    Tool("curl -o", curl(fast.url), check),
                    Tool("curl -o, then sync", curl_then_sync(fast.url), check),
                    Tool(
                        "ours, 1 worker", ours(fast.url, "--workers", "1", "--no-validate"), check
                    ),
                    Tool(
                        "ours, 4 workers", ours(fast.url, "--workers", "4", "--no-validate"), check
                    ),
                ],
                "curl -o",
            )
        if "checksum" in only:
            sha = f"sha256:{fast.sha256}"
            table(
                "Download + sha256 in one command",
                [
                    Tool("curl, then openssl dgst", curl_then_openssl(fast.url)),
                    Tool(
                        "ours --checksum, 1 worker",
                        ours(fast.url, "--workers", "1", "--checksum", sha),
                    ),
                    Tool(
                        "ours --checksum, 4 workers",
                        ours(fast.url, "--workers", "4", "--checksum", sha),
                    ),
                ],
                "curl, then openssl dgst",
            )
        if "verify" in only:
            rows.append(
                f"\n**Verify a cached {format_bytes(size)} file** (MB/s, median of {args.runs})\n"
            )
            rows.append("| tool | " + " | ".join(targets) + " |")
            rows.append("| --- |" + " --- |" * len(targets))
            cells: dict[str, list[str]] = {
                "openssl dgst -sha256": [],
                "ours verify": [],
                "sha256sum": [],
            }
            for path in targets.values():
                work = Path(tempfile.mkdtemp(prefix="bench-", dir=path))
                try:
                    run_once(curl(fast.url)(work))
                    model = str(work / "model.bin")
                    tools = verify_tools(model, fast.sha256)
                    res = measure(tools, path, args.runs)
                    base = statistics.median(
                        mbps(size, s) for s in res["openssl dgst -sha256"].seconds
                    )
                    for label, samples in res.items():
                        med = statistics.median(mbps(size, s) for s in samples.seconds)
                        ratio = "" if label.startswith("openssl") else f" ({med / base:.0%})"
                        cells[label].append(f"{med:,.0f}{ratio}")
                        if label == "ours verify":
                            rss_peak.append(max(samples.rss_kib))
                finally:
                    shutil.rmtree(work, ignore_errors=True)
            for label, values in cells.items():
                rows.append(f"| {label} | " + " | ".join(values) + " |")
            print("\n".join(rows[-len(cells) - 3 :]), flush=True)

    if "https" in only:
        with (
            tempfile.TemporaryDirectory(prefix="bench-tls-") as tls_dir,
            model_server(size, None, Path(tls_dir)) as secure,
        ):
            assert secure.ca is not None
            check = verified(secure.sha256)
            table(
                f"HTTPS over loopback, {format_bytes(size)}",
                [
                    Tool("curl -o", curl(secure.url, "--cacert", secure.ca), check),
                    Tool(
                        "curl -o, then sync",
                        curl_then_sync(secure.url, "--cacert", secure.ca),
                        check,
                    ),
                    Tool(
                        "ours, 1 worker",
                        trusting(secure.ca, ours(secure.url, "--workers", "1", "--no-validate")),
                        check,
                    ),
                    Tool(
                        "ours, 4 workers",
                        trusting(secure.ca, ours(secure.url, "--workers", "4", "--no-validate")),
                        check,
                    ),
                ],
                "curl -o",
            )
        with (
            tempfile.TemporaryDirectory(prefix="bench-tls-") as tls_dir,
            model_server(size, CAP, Path(tls_dir)) as secure,
        ):
            assert secure.ca is not None
            check = verified(secure.sha256)
            n = 8
            tools = [
                Tool(
                    f"ours, {n} workers",
                    trusting(secure.ca, ours(secure.url, "--workers", str(n), "--no-validate")),
                    check,
                )
            ]
            if have_aria:
                ca_flag = f"--ca-certificate={secure.ca}"
                tools.append(Tool(f"aria2c -x{n} -s{n}", aria2c(secure.url, n, ca_flag), check))
            table(
                f"HTTPS, {CAP / 1e6:.0f} MB/s per connection, {n} connections "
                f"(ideal {n * CAP / 1e6:,.0f} MB/s: S3 or a CDN, nearly)",
                tools,
                n * CAP / 1e6,
            )

    if "capped" in only:
        with model_server(size, CAP) as slow:
            check = verified(slow.sha256)
            for n in (1, 4, 8):
                tools = [
                    Tool(
                        f"ours, {n} worker{'s' if n > 1 else ''}",
                        ours(slow.url, "--workers", str(n), "--no-validate"),
                        check,
                    )
                ]
                if have_aria:
                    tools.append(Tool(f"aria2c -x{n} -s{n}", aria2c(slow.url, n), check))
                if n == 1:
                    tools.append(Tool("curl -o", curl(slow.url), check))
                ideal = n * CAP / 1e6
                table(
                    f"{CAP / 1e6:.0f} MB/s per connection, {n} connection{'s' if n > 1 else ''} "
                    f"(ideal {ideal:,.0f} MB/s)",
                    tools,
                    min(ideal, 1e9),
                )

    if "straggler" in only:
        with model_server(size, CAP, slow_rate=STRAGGLER) as straggling:
            check = verified(straggling.sha256)
            for n in (4, 8):
                tools = [
                    Tool(
                        f"ours, {n} workers",
                        ours(straggling.url, "--workers", str(n), "--no-validate"),
                        check,
                        straggling.reset,
                    )
                ]
                if have_aria:
                    tools.append(
                        Tool(
                            f"aria2c -x{n} -s{n}",
                            aria2c(straggling.url, n),
                            check,
                            straggling.reset,
                        )
                    )
                ideal = n * CAP / 1e6
                table(
                    f"{CAP / 1e6:.0f} MB/s per connection but one at {STRAGGLER / 1e6:.0f} MB/s, "
                    f"{n} connections (ideal nearly {ideal:,.0f} MB/s)",
                    tools,
                    ideal,
                )

    if "startup" in only:
        with model_server(STARTUP_FILE, None) as tiny:
            check = verified(tiny.sha256)
            tools = [
                Tool("curl -o", curl(tiny.url), check),
                Tool("ours, 1 worker", ours(tiny.url, "--workers", "1", "--no-validate"), check),
                Tool("ours, 8 workers", ours(tiny.url, "--workers", "8", "--no-validate"), check),
                Tool(
                    "ours --checksum, 1 worker",
                    ours(tiny.url, "--workers", "1", "--checksum", f"sha256:{tiny.sha256}"),
                    check,
                ),
            ]
            if have_aria:
                tools.insert(1, Tool("aria2c -x8 -s8", aria2c(tiny.url, 8), check))
            rows.append(
                f"\n**Fixed cost: a {format_bytes(STARTUP_FILE)} file, launch to exit** "
                f"(ms, median of {STARTUP_RUNS})\n"
            )
            rows.append("| tool | " + " | ".join(targets) + " |")
            rows.append("| --- |" + " --- |" * len(targets))
            per_target = {
                name: measure(tools, path, STARTUP_RUNS) for name, path in targets.items()
            }
            for tool in tools:
                medians = [
                    f"{statistics.median(per_target[name][tool.label].seconds) * 1000:.0f}"
                    for name in targets
                ]
                rows.append(f"| {tool.label} | " + " | ".join(medians) + " |")
            print("\n".join(rows[-len(tools) - 3 :]), flush=True)

    print("\n## Results\n")
    print(f"Machine: {machine()}.")
    print(f"File: {format_bytes(size)} from simcluster.modelserver (separate process), loopback.")
    if rss_peak:
        print(f"Peak RSS of the downloader over every run: {max(rss_peak) / 1024:.0f} MiB.")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
