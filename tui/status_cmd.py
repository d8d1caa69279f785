"""``asr-cache-tui status``: the dashboard's picture without a terminal UI.

Prints the snapshot once (``-o table``, ``json`` or ``yaml``) or, with ``--watch``, again
whenever it changes. The exit code is for cron and CI:

0  all fine
1  something needs attention (a stalled, corrupt or failed download; a volume over its
   quota or more than 90 % full; a crash-looping pod; a pod on a NotReady node; a failed
   pre-warm Job)
2  a usage or connection error, or a namespace that does not exist (one sentence on stderr)
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any, TextIO

import yaml

from collectors.cluster import ClusterError, ConnectionSettings, connect
from collectors.live import LiveFeed, options_from_args
from collectors.model import ClusterSnapshot, DownloadPhase, DownloadProgress, LogLine
from collectors.progress import MAX_ETA
from collectors.report import attention, iso, snapshot_dict, used_fraction
from collectors.state import relapsing
from collectors.units import format_bytes, written_in_decimal
from collectors.values import ValuesError
from tui.format import format_eta

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_ERROR = 2


def exit_code(snapshot: ClusterSnapshot) -> int:
    return EXIT_ATTENTION if attention(snapshot) else EXIT_OK


# -- table -------------------------------------------------------------------------------------


def _progress_text(p: DownloadProgress | None) -> str:
    if p is None:
        return "-"
    parts = []
    if p.fraction is not None:
        parts.append(f"{p.fraction:.0%}")
    if p.bytes_done is not None:
        total = f"/{format_bytes(p.bytes_total)}" if p.bytes_total else ""
        parts.append(f"{format_bytes(p.bytes_done)}{total}")
    if p.in_flight:
        # As the dashboard writes it; a stalled download has no rate or ETA worth showing.
        if p.rate:
            parts.append(f"{format_bytes(p.rate)}/s")
        eta = p.eta_seconds
        if eta and eta <= MAX_ETA and (p.fraction is None or p.fraction < 1):
            parts.append(f"ETA {format_eta(eta)}")
    elif p.phase is not DownloadPhase.DONE:
        parts.append(p.phase.value)
    if p.attempt and p.attempt > 1:
        parts.append(f"attempt {p.attempt}")
    return " ".join(parts) or p.phase.value


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    # The last column (evidence, notes) is free-running.
    widths[-1] = 0
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*headers).rstrip()] + [fmt.format(*r).rstrip() for r in rows]


def _age(now: float, ts: float | None) -> str:
    if not ts:
        return "-"
    s = max(0, int(now - ts))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def render_table(snapshot: ClusterSnapshot) -> str:
    now = snapshot.taken_at
    lines = [
        f"Context {snapshot.context}   Namespace {snapshot.namespace}   Server {snapshot.server}"
        f"   At {iso(snapshot.taken_at)}"
    ]
    if snapshot.stale:
        lines.append(
            f"STALE for {_age(now, snapshot.stale_since)}: {snapshot.error or 'API unreachable'}"
        )
    elif snapshot.error:
        lines.append(f"Note: {snapshot.error}")
    lines += [f"Note: {note}" for note in snapshot.notes]
    lines.append("")
    pod_rows = []
    for p in sorted(snapshot.pods, key=lambda p: (p.model_state.urgency, p.name)):
        main = [c for c in p.containers if not c.init]
        ready = f"{sum(c.ready for c in main)}/{len(main)}"
        pod_rows.append(
            [
                p.name,
                p.node or "-",
                f"↻ {p.model_state.value}" if relapsing(p) else p.model_state.value,
                _progress_text(p.progress),
                ready,
                str(p.restarts),
                _age(now, p.created_at),
                p.evidence[0] if p.evidence else "",
            ]
        )
    if pod_rows:
        lines += _table(
            ["POD", "NODE", "MODEL", "PROGRESS", "READY", "RESTARTS", "AGE", "EVIDENCE"],
            pod_rows,
        )
    else:
        lines.append("No ASR pods (check -n and -l).")
    if snapshot.volumes:
        lines.append("")
        rows = []
        for v in snapshot.volumes:
            u = v.usage
            denominator = v.denominator
            quota = " (quota)" if denominator and denominator == v.quota_bytes else ""
            # A quota is shown as it was written (50 GB), and the usage in the same units.
            decimal = bool(quota) and written_in_decimal(denominator or 0)
            used = format_bytes(u.used_bytes, decimal) if u and u.used_bytes is not None else "?"
            of = format_bytes(denominator, decimal) if denominator else "-"
            fraction = used_fraction(v)
            rows.append(
                [
                    v.name,
                    v.kind,
                    v.storage_class or "-",
                    ",".join(v.access_modes) or "-",
                    used,
                    f"{of}{quota}",
                    f"{fraction:.0%}" if fraction is not None else "-",
                    u.source if u else "-",
                    str(len(v.pods)),
                    (u.note or "") if u else "not measured yet",
                ]
            )
        lines += _table(
            ["VOLUME", "KIND", "CLASS", "ACCESS", "USED", "OF", "USE%", "SOURCE", "PODS", "NOTE"],
            rows,
        )
    if snapshot.rollouts:
        lines.append("")
        rows = [
            [
                r.name,
                f"{r.ready}/{r.desired}",
                str(r.updated),
                str(r.available),
                r.revision or "-",
                r.model_version or "-",
                {True: "yes", False: "no", None: "-"}[r.serving],
                r.restarted_at or "",
            ]
            for r in snapshot.rollouts
        ]
        lines += _table(
            [
                "DEPLOYMENT",
                "READY",
                "UPDATED",
                "AVAILABLE",
                "REV",
                "VERSION",
                "SERVING",
                "RESTARTED",
            ],
            rows,
        )
        if snapshot.serving_url:
            lines.append(f"api-server sends traffic to {snapshot.serving_url}")
    if snapshot.jobs:
        lines.append("")
        rows = [
            [
                j.name,
                j.kind,
                j.state,
                f"{j.active}/{j.succeeded}/{j.failed}",
                j.schedule or "-",
                _age(now, j.last_run),
                _progress_text(j.progress),
            ]
            for j in snapshot.jobs
        ]
        lines += _table(
            ["JOB", "KIND", "STATE", "ACT/OK/FAIL", "SCHEDULE", "LAST RUN", "PROGRESS"], rows
        )
    notes = attention(snapshot)
    lines.append("")
    if notes:
        lines.append("NEEDS ATTENTION")
        lines += [f"  - {n}" for n in notes]
    else:
        lines.append("All fine.")
    return "\n".join(lines) + "\n"


def render(snapshot: ClusterSnapshot, output: str, watching: bool = False) -> str:
    if output == "json":
        doc = snapshot_dict(snapshot)
        if watching:
            return json.dumps(doc, separators=(",", ":")) + "\n"
        return json.dumps(doc, indent=2) + "\n"
    if output == "yaml":
        text = yaml.safe_dump(snapshot_dict(snapshot), sort_keys=False, allow_unicode=True)
        return ("---\n" + text) if watching else text
    return render_table(snapshot)


# -- running ------------------------------------------------------------------------------------


def _fail(message: str, err: TextIO) -> int:
    err.write(f"asr-cache-tui status: {message}\n")
    return EXIT_ERROR


class _Printer:
    """The ``--watch`` sink: the printing loop prints the latest snapshot when it changed."""

    def __init__(self, output: str, out: TextIO) -> None:
        self.output = output
        self.out = out
        self.latest: ClusterSnapshot | None = None
        self.printed: str | None = None
        self.changed = threading.Event()
        self._lock = threading.Lock()

    def snapshot_ready(self, snapshot: ClusterSnapshot) -> None:
        with self._lock:
            self.latest = snapshot
        self.changed.set()

    def log_lines_received(self, pod: str, lines: Sequence[LogLine]) -> None:
        pass

    def print_latest(self) -> None:
        with self._lock:
            snapshot = self.latest
        if snapshot is None:
            return
        text = render(snapshot, self.output, watching=True)
        # Compare without the clock so an unchanged cluster prints nothing new.
        key = render(dataclasses.replace(snapshot, taken_at=0.0), self.output, True)
        if key == self.printed:
            return
        self.printed = key
        self.out.write(text if self.output != "table" else text + "\n")
        self.out.flush()


def _watch(
    feed: LiveFeed,
    output: str,
    out: TextIO,
    err: TextIO,
    timeout: float,
    duration: float | None = None,
) -> int:
    """Print until Ctrl-C/SIGTERM (or ``duration`` seconds); exit code of the last snapshot."""
    printer = _Printer(output, out)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    deadline = None if duration is None else time.monotonic() + duration
    try:
        feed.start(printer)
        if feed.wait_for_snapshot(timeout) is None:
            problem = feed.last_error or f"no answer from the cluster within {timeout:g} s."
            return _fail(problem, err)
        while not stop.is_set():
            printer.print_latest()
            if deadline is not None and time.monotonic() >= deadline:
                break
            printer.changed.wait(1.0)
            printer.changed.clear()
        last = feed.snapshot()
        return exit_code(last) if last is not None else EXIT_ERROR
    finally:
        feed.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(
    args: Any,
    out: TextIO | None = None,
    err: TextIO | None = None,
    watch_seconds: float | None = None,
) -> int:
    """Entry point of ``asr-cache-tui status`` (``tui.cli`` dispatches here)."""
    out = out or sys.stdout
    err = err or sys.stderr
    output = getattr(args, "output", "table") or "table"
    try:
        options = options_from_args(args)
        settings = ConnectionSettings.from_args(args)
        cluster = connect(settings)
    except (ClusterError, ValuesError, ValueError) as exc:
        return _fail(str(exc), err)
    if cluster.namespace_exists() is False:  # its pods list would only look empty (None: unknown)
        cluster.close()
        return _fail(
            f'namespace "{cluster.namespace}" does not exist (context {cluster.context!r}, '
            f"{cluster.server}); -n picks another.",
            err,
        )
    feed = LiveFeed(cluster, options, owns_cluster=True)
    timeout = max(10.0, settings.request_timeout * 3)
    if getattr(args, "watch", False):
        return _watch(feed, output, out, err, timeout, watch_seconds)
    try:
        snapshot = feed.collect(timeout=timeout)
    except ClusterError as exc:
        return _fail(str(exc), err)
    out.write(render(snapshot, output))
    out.flush()
    return exit_code(snapshot)
