"""ETAs that mean something: none while nothing moves, none past a week, none for a stalled
download, and ``status`` writes them as the dashboard does (``15h07m``, not ``54450s``)."""

from __future__ import annotations

import io
import time

import pytest

from collectors.model import DownloadPhase, DownloadProgress
from collectors.progress import MAX_ETA, ProgressTracker
from tui.cli import build_parser
from tui.status_cmd import _progress_text
from tui.status_cmd import run as run_status

KiB = 1024
MiB = 1024**2


def test_no_eta_at_near_zero_rate_nor_past_a_week() -> None:
    tracker = ProgressTracker()
    line = (
        '{{"v": 1, "event": "progress", "ts": "2026-11-27T18:17:55.865Z", "file": "model.bin", '
        '"done": 106870764, "total": 268435456, "rate": {rate}, "eta": {eta}, "workers": 1}}'
    )
    tracker.feed_text(line.format(rate=8388608, eta=19.3), 1.0)
    p = tracker.progress()
    assert p is not None and p.eta_seconds == pytest.approx(19.3)
    tracker.feed_text(line.format(rate=351, eta=460241.0), 2.0)  # 5 days: still an ETA
    p = tracker.progress()
    assert p is not None and p.eta_seconds == 460241.0
    tracker.feed_text(line.format(rate=14.0, eta=11405192.0), 3.0)  # 132 days
    p = tracker.progress()
    assert p is not None and p.eta_seconds is None and MAX_ETA == 7 * 86400
    tracker.feed_text(line.format(rate=0.4, eta=5.0), 4.0)  # nothing moves: no promise
    p = tracker.progress()
    assert p is not None and p.eta_seconds is None
    tracker.feed_text(line.format(rate=0.0, eta="null"), 5.0)
    p = tracker.progress()
    assert p is not None and p.eta_seconds is None


def test_status_table_writes_etas_like_the_dashboard() -> None:
    p = DownloadProgress(
        DownloadPhase.DOWNLOADING, "bundled", 40 * MiB, 256 * MiB, rate=2.9 * KiB, eta_seconds=54450
    )
    assert _progress_text(p) == "16% 40.0 MiB/256.0 MiB 2.9 KiB/s ETA 15h07m"
    too_far = DownloadProgress(
        DownloadPhase.DOWNLOADING, "bundled", 40 * MiB, 256 * MiB, rate=14.0, eta_seconds=1e10
    )
    assert "ETA" not in _progress_text(too_far)
    stalled = DownloadProgress(
        DownloadPhase.STALLED, "bundled", 40 * MiB, 256 * MiB, rate=2.9 * KiB, eta_seconds=54450
    )
    assert _progress_text(stalled) == "16% 40.0 MiB/256.0 MiB stalled"


def _status(kubeconfig: str, *argv: str) -> str:
    args = build_parser().parse_args(["status", "--kubeconfig", kubeconfig, *argv])
    out, err = io.StringIO(), io.StringIO()
    run_status(args, out=out, err=err)
    return out.getvalue()


def test_status_of_a_stalled_download_promises_no_eta(start) -> None:
    world = start("stalled-download", speed=1 * MiB)
    kubeconfig = str(world.kubeconfig)
    deadline = time.monotonic() + 30
    row = ""
    while time.monotonic() < deadline:
        table = _status(kubeconfig, "--stall-after", "2")
        row = next((line for line in table.splitlines() if " stalled " in line), "")
        if row:
            break
        time.sleep(0.5)
    assert row, table
    assert "ETA" not in row and "/s" not in row, row
