"""Line assembly (\\r updates, partial chunks, huge lines) and one pod's progress tracking."""

from __future__ import annotations

import json
import tracemalloc
from types import SimpleNamespace
from typing import cast

from collectors.cluster import Cluster
from collectors.kube import timestamp
from collectors.lines import LineAssembler, Segment
from collectors.live import LiveFeed
from collectors.model import DownloadPhase, ModelState, PodInfo
from collectors.progress import ProgressTracker
from collectors.snapshot import FeedOptions
from tests.collectors.podfactory import make_pod
from tests.collectors.test_parsers import CURL_METER, WGET_BAR, WGET_DOTS

MiB = 1024**2


def _feed_all(data: bytes, chunk: int) -> list[str]:
    asm = LineAssembler()
    out = []
    for i in range(0, len(data), chunk):
        out += [s.text for s in asm.feed(data[i : i + chunk])]
    out += [s.text for s in asm.flush()]
    return out


def test_segments_split_on_newline_and_carriage_return_across_chunks() -> None:
    data = b"one\ntwo\r\nthree\rfour\rfive\n\nsix"
    expected = ["one", "two", "three", "four", "five", "six"]
    for chunk in (1, 2, 3, 5, 100):
        assert _feed_all(data, chunk) == expected


def test_segment_flags() -> None:
    asm = LineAssembler()
    segs = asm.feed(b"TS a\rb\rc\nd\r\ne\n")
    assert [(s.text, s.line_start, s.overwritten) for s in segs] == [
        ("TS a", True, True),
        ("b", False, True),
        ("c", False, False),
        ("d", True, True),
        ("e", True, False),
    ]


def test_utf8_split_inside_a_character() -> None:
    text = "Saving to: \u2018model.bin\u2019\n".encode()
    assert _feed_all(text, 1) == ["Saving to: \u2018model.bin\u2019"]


def test_ten_megabytes_without_newline_stay_bounded() -> None:
    asm = LineAssembler(max_segment=16 * 1024)
    tracemalloc.start()
    try:
        block = b"x" * 65536
        for _ in range(160):  # 10 MiB, no separator
            assert asm.feed(block) == []
            assert asm.pending_bytes <= 16 * 1024
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 * MiB
    segs = asm.feed(b"tail\nnext line\n")
    assert segs[0].truncated and len(segs[0].text) == 16 * 1024
    assert segs[1].text == "next line" and not segs[1].truncated


def _track(lines: list[str], start: float = 1000.0, step: float = 1.0) -> ProgressTracker:
    tracker = ProgressTracker()
    for i, line in enumerate(lines):
        tracker.feed_text(line, start + i * step)
    return tracker


def test_tracker_wget_dots_total_from_header_and_dot_size_learned() -> None:
    tracker = _track(WGET_DOTS[:6])
    p = tracker.progress()
    assert p is not None and p.source == "wget" and p.phase is DownloadPhase.DOWNLOADING
    assert p.bytes_total == 314572800
    assert p.bytes_done == 150 * 1024  # third line: offset 100K + 50 dots of 1K
    tracker.feed_text(WGET_DOTS[-1], 2000.0)  # lines skipped in between: the dot size stays
    p = tracker.progress()
    assert p is not None and p.bytes_done == 307150 * 1024 + 16 * 1024


def test_tracker_wget_bar_then_saved() -> None:
    tracker = ProgressTracker()
    asm = LineAssembler()
    for i, seg in enumerate(asm.feed(WGET_BAR.encode())):
        tracker.feed_text(seg.text, 1000.0 + i)
    p = tracker.progress()
    assert p is not None and p.phase is DownloadPhase.DONE and p.bytes_done == 2 * 1024**3
    assert any("download complete" in e or "saved" in e for e in tracker.evidence)


def test_tracker_curl_carriage_returns() -> None:
    tracker = ProgressTracker()
    asm = LineAssembler()
    data = CURL_METER.encode()
    segs = asm.feed(data[: data.index(b"\r100") + 20])  # stop in the middle of the last update
    for i, seg in enumerate(segs):
        tracker.feed_text(seg.text, 1000.0 + i)
    p = tracker.progress()
    assert p is not None and p.source == "curl" and p.bytes_done == 863 * MiB
    assert p.fraction is not None and 0.4 < p.fraction < 0.43


def _j(**obj: object) -> str:
    return json.dumps({"v": 1, "ts": "2026-11-27T10:00:00Z", "file": "model.bin", **obj})


def test_tracker_bundled_lifecycle_and_rate() -> None:
    t = ProgressTracker()
    t.feed_text(_j(event="start", total=1000, resumed_from=0, workers=2, version=None, url="x"), 0)
    t.feed_text(_j(event="progress", done=100, total=1000, rate=None, eta=None, workers=2), 1)
    t.feed_text(_j(event="progress", done=300, total=1000, rate=None, eta=None, workers=2), 2)
    p = t.progress()
    assert p is not None and p.rate is not None and 100 <= p.rate <= 200
    assert p.eta_seconds is not None and p.eta_seconds > 0
    assert t.last_change_at == 2
    t.feed_text(_j(event="progress", done=300, total=1000, rate=0.0, eta=None, workers=2), 10)
    assert t.last_change_at == 2  # no new bytes: the stall clock keeps running
    t.feed_text(_j(event="retry", attempt=2, of=5, reason="connection reset", delay=1.0), 11)
    assert t.phase is DownloadPhase.RETRYING and t.attempt == 2
    assert "attempt 2 of 5 failed: connection reset" in t.evidence[-1]
    t.feed_text(_j(event="verify", done=500, total=1000), 12)
    assert t.phase is DownloadPhase.VERIFYING
    t.feed_text(_j(event="error", code="checksum_mismatch", exit=5, message="sha256 differs"), 13)
    f = t.facts()
    assert f.failure_code == "checksum_mismatch" and f.failure is not None
    assert "checksum" in f.failure
    # A new run after the failure (the container restarted) clears it.
    t.feed_text(_j(event="start", total=1000, resumed_from=0, workers=2, version=None, url="x"), 20)
    assert t.facts().failure_code is None and t.phase is DownloadPhase.DOWNLOADING


def test_tracker_wait_then_done_cached() -> None:
    t = ProgressTracker()
    t.feed_text(_j(event="wait", holder="pid 7 on pod-a", waited=1.0), 0)
    t.feed_text(_j(event="wait", holder="pid 7 on pod-a", waited=2.0), 1)
    f = t.facts()
    assert f.phase is DownloadPhase.WAITING and f.waiting_for == "pid 7 on pod-a"
    assert sum("waiting for the lock" in e for e in f.evidence) == 1
    t.feed_text(_j(event="done", bytes=1000, sha256=None, seconds=0.1, cached=True, path="m"), 2)
    assert t.phase is DownloadPhase.DONE


def test_an_error_a_retry_got_past_is_history_once_the_download_is_done() -> None:
    """flaky-network: a 503, a retry, then the whole file. The finished download (and the
    server ready after it) is not shown with "attempt 2  HTTP 503 Service Unavailable"."""

    def event(**obj: object) -> str:
        return json.dumps({"v": 1, "file": "model.bin", **obj})

    for last in (
        event(event="done", bytes=100, sha256="ab", seconds=2.0, cached=False, path="m"),
        "INFO: Server ready on port 2269",
    ):
        t = ProgressTracker()
        t.feed_text(event(event="start", total=100, resumed_from=0, workers=1, url="x"), 1.0)
        t.feed_text(event(event="progress", done=10, total=100, rate=5.0, eta=18.0), 2.0)
        t.feed_text(event(event="retry", attempt=2, of=5, reason="HTTP 503 Service Unavailable"), 3)
        moving = t.feed_text(event(event="progress", done=60, total=100, rate=5.0, eta=8.0), 4.0)
        assert moving is not None
        p = t.progress()
        assert p is not None and (p.attempt, p.message) == (2, "HTTP 503 Service Unavailable")
        t.feed_text(event(event="progress", done=100, total=100, rate=5.0, eta=0.0), 5.0)
        t.feed_text(last, 6.0)
        p = t.progress()
        assert p is not None and p.phase is DownloadPhase.DONE, p
        assert (p.attempt, p.message) == (None, None), p
        assert any("HTTP 503" in line for line in t.facts().evidence), "kept as history"


def test_tracker_lightning_only_lines_have_no_bytes() -> None:
    t = _track(["INFO: Downloading model from URL..."])
    f = t.facts()
    assert f.phase is DownloadPhase.STARTING and not f.has_bytes and f.last_change_at == 1000.0
    t.feed_text("INFO: Model downloaded: 23.5GB", 1100)
    t.feed_text("INFO: Server ready on port 2269", 1101)
    assert t.facts().ready and t.progress().bytes_done == 23_500_000_000  # type: ignore[union-attr]


def test_tracker_ignores_plain_lines() -> None:
    t = _track(["hello", "GET /healthz 200", "INFO: request handled"])
    assert t.progress() is None and t.facts().lines_seen == 3


def test_generic_failure_keeps_the_specific_cause() -> None:
    t = ProgressTracker()
    t.feed_text("INFO: Downloading model from URL...", 0)
    t.feed_text(_j(event="error", code="disk_full", exit=6, message="no space left on device"), 1)
    t.feed_text("WARNING: Download attempt 1 failed: no space left on device", 2)
    t.feed_text("ERROR: Download failed after 1 attempts", 3)
    f = t.facts()
    assert f.failure_code == "disk_full"
    assert f.failure == "log: Download failed after 1 attempts (no space left on device)"
    # A fresh run forgets it.
    t.feed_text("INFO: Downloading model from URL...", 10)
    t.feed_text("WARNING: Download attempt 1 failed: Connection timeout", 11)
    t.feed_text("ERROR: Download failed after 1 attempts", 12)
    assert t.facts().failure_code == "download_failed"


def test_evidence_never_keeps_a_signed_url() -> None:
    t = ProgressTracker()
    url = "https://bucket.s3.amazonaws.com/model.bin?X-Amz-Signature=abc123&X-Amz-Credential=AK"
    t.feed_text(f"INFO: Downloading model from {url}", 0)
    t.feed_text(f"WARNING: Download attempt 1 failed: 403 Forbidden for {url}", 1)
    t.feed_text(f"download failed: s3://b/model.bin to x An error occurred (403) {url}", 2)
    f = t.facts()
    text = " ".join(f.evidence) + (f.failure or "") + (f.progress.message or "")  # type: ignore[union-attr]
    assert "abc123" not in text and "AK" not in text and "REDACTED" in text


def _asr_pod(restarts: int, state: dict, last_exit: int | None = None) -> dict:
    status: dict = {"name": "lightning-asr", "ready": False, "restartCount": restarts}
    status["state"] = state
    if last_exit is not None:
        status["lastState"] = {"terminated": {"exitCode": last_exit, "reason": "Error"}}
    return make_pod("lightning-asr-7d9f-a", statuses=[status])


def test_feed_begins_a_pods_download_state_afresh_when_its_container_restarts() -> None:
    """The feed's own bookkeeping, without a cluster: the watch's pod objects and the log
    stream's items handed in as their threads would (the end-to-end test runs it for real)."""
    cluster = cast(Cluster, SimpleNamespace(context="t", namespace="smallest", server="http://h"))
    t0 = timestamp("2026-11-27T10:00:00Z") or 0.0
    t1 = t0 + 12  # the restarted run's startedAt
    feed = LiveFeed(cluster, FeedOptions(), clock=lambda: t1 + 5)
    name = "lightning-asr-7d9f-a"

    def lines(*items: tuple[float, str]) -> None:
        feed.log_segments(
            name,
            "lightning-asr",
            [(at, Segment(text, True, False), text, at) for at, text in items],
        )

    def pod() -> PodInfo:
        snap = feed.build_snapshot()
        found = snap.pod(name)
        assert found is not None
        return found

    feed.replaced("pods", [_asr_pod(0, {"running": {"startedAt": "2026-11-27T10:00:00Z"}})])
    mismatch = "ERROR: Model validation failed: checksum mismatch: sha256 mismatch"
    lines((t0 + 1, "INFO: Downloading model from URL..."), (t0 + 2, mismatch))
    feed.changed("pods", "MODIFIED", _asr_pod(0, {"waiting": {"reason": "CrashLoopBackOff"}}, 1))
    looping = pod()
    assert looping.model_state is ModelState.CORRUPT and looping.previous_run is None

    feed.changed(
        "pods", "MODIFIED", _asr_pod(1, {"running": {"startedAt": "2026-11-27T10:00:12Z"}}, 1)
    )
    # A late read of the run before (e.g. a stream started anew reading --previous) is shown in
    # the pod's log but is no longer evidence of anything.
    lines((t0 + 2, mismatch), (t1 + 1, "INFO: Downloading model from URL..."))
    lines((t1 + 2, json.dumps({"v": 1, "event": "progress", "file": "m", "done": 5, "total": 9})))
    again = pod()
    assert again.model_state is ModelState.DOWNLOADING, again
    assert not any("mismatch" in e for e in again.evidence), again.evidence
    assert again.progress is not None and again.progress.message is None
    assert again.previous_run == f"previous run ended with: {mismatch[7:]} (exit code 1 (Error))"
    assert sum(mismatch in line.text for line in feed.recent_log(name)) == 2
    # Each line keeps when it was written: the late read of the run before sorts before it.
    assert [line.written_at for line in feed.recent_log(name) if mismatch in line.text] == [
        t0 + 2,
        t0 + 2,
    ]
    # The same run seen again (a relist) changes nothing.
    feed.replaced("pods", [_asr_pod(1, {"running": {"startedAt": "2026-11-27T10:00:12Z"}}, 1)])
    assert pod().progress == again.progress
