"""A download whose bytes stopped coming shows no rate and no ETA, long before it is stalled.

The bundled downloader reports a smoothed average every second; once the server stops
sending it decays for a minute ("5.1 MiB/s ETA 30s", then "613.8 KiB/s ETA 4m17s", then
"50.5 KiB/s ETA 51m58s") while ``done`` stays put. Those numbers describe the past.
"""

from __future__ import annotations

import json

from collectors.model import ClusterSnapshot, DownloadPhase, ModelState, PodInfo
from collectors.pods import pod_info
from collectors.progress import ProgressTracker
from collectors.state import IDLE_AFTER, model_state
from tests.collectors.podfactory import make_pod
from tui.format import progress_cell, progress_fit
from tui.health import health

MiB = 1024**2
TOTAL = 256 * MiB
STUCK = 107_059_200  # 102.1 MiB
STALL = 60.0


def _line(done: int, rate: float) -> str:
    eta = (TOTAL - done) / rate
    return json.dumps(
        {"v": 1, "event": "progress", "file": "model.bin", "done": done, "total": TOTAL,
         "rate": rate, "eta": eta, "workers": 1}
    )  # fmt: skip


def _stuck_tracker() -> ProgressTracker:
    """Bytes every second up to STUCK at t=10, then the same count with a decaying rate."""
    tracker = ProgressTracker()
    for t in range(11):
        tracker.feed_text(_line(STUCK * t // 10, 10 * MiB), 1000.0 + t)
    rate = 10.0 * MiB
    for t in range(11, 40):
        rate *= 0.7
        tracker.feed_text(_line(STUCK, rate), 1000.0 + t)
    return tracker


def _decide(tracker: ProgressTracker, now: float):
    return model_state(pod_info(make_pod()), tracker.facts(), None, now, STALL)


def test_no_new_bytes_for_a_few_progress_intervals_means_no_rate_and_no_eta() -> None:
    tracker = _stuck_tracker()
    moving = _decide(tracker, 1012.0)  # two seconds since the last bytes: one line's gap
    assert moving.state is ModelState.DOWNLOADING and moving.progress is not None
    assert moving.progress.rate and moving.progress.eta_seconds is not None
    assert moving.progress.idle_for is None

    idle = _decide(tracker, 1010.0 + IDLE_AFTER + 3)
    p = idle.progress
    assert idle.state is ModelState.DOWNLOADING and p is not None
    assert (p.rate, p.eta_seconds, p.idle_for) == (0.0, None, IDLE_AFTER + 3)
    assert (p.bytes_done, p.bytes_total) == (STUCK, TOTAL)
    assert idle.evidence[0] == "no new bytes for 8 s at 102.1 MiB of 256.0 MiB"
    # What the row and the header draw of it.
    cell = progress_cell(p, idle.state, width=8).plain
    assert cell.endswith("102.1/256.0 MiB no new bytes for 8 s"), cell
    assert "ETA" not in cell and "/s" not in cell
    narrow = progress_fit(p, idle.state, 30).plain
    assert narrow.endswith("idle 8 s") and "ETA" not in narrow, narrow
    info = pod_info(make_pod())
    pod = PodInfo(**{**info.__dict__, "model_state": idle.state, "progress": p})
    snap = ClusterSnapshot("ctx", "smallest", "https://api", 0.0, pods=(pod,))
    assert "ETA" not in health(snap).text, health(snap).text
    # Then, at the stall threshold, stalled as before.
    stalled = _decide(tracker, 1010.0 + STALL)
    assert stalled.state is ModelState.STALLED and stalled.progress is not None
    assert stalled.progress.phase is DownloadPhase.STALLED
    assert (stalled.progress.rate, stalled.progress.eta_seconds) == (0.0, None)


def test_a_format_whose_byte_counts_come_further_apart_is_not_called_idle_between_them() -> None:
    """wget's dot lines at a low speed: one every 6 s. A gap like the ones before is no stop."""
    tracker = ProgressTracker()
    tracker.feed_text("Length: 268435456 (256M) [application/octet-stream]", 1000.0)
    for i in range(5):
        offset = i * 3 * MiB
        dots = " ".join(["." * 16] * 3)
        tracker.feed_text(f"{offset // 1024:>8}K {dots} {i:3d}% 512K 6s", 1000.0 + 6 * i)
    last = 1000.0 + 6 * 4
    between = _decide(tracker, last + 7)
    assert between.progress is not None and between.progress.idle_for is None, between
    quiet = _decide(tracker, last + 19)
    assert quiet.progress is not None and quiet.progress.idle_for == 19, quiet


def test_a_download_the_server_stopped_feeding_loses_its_eta_within_seconds(
    start, start_feed
) -> None:
    """stalled-download, with the dashboard's own 60 s stall threshold: the server stops
    sending at 40 %; within a few seconds the row and the header promise nothing."""
    world = start("stalled-download", speed=1 * MiB)
    _feed, rec = start_feed(world.cluster, stall_after=STALL, refresh=1)
    idle = rec.wait(
        lambda s: any(p.progress and p.progress.idle_for for p in s.pods),
        20,
        "the download shown without new bytes",
    )
    (pod,) = idle.pods
    assert pod.model_state is ModelState.DOWNLOADING and pod.progress is not None
    assert (pod.progress.rate, pod.progress.eta_seconds) == (0.0, None)
    assert pod.evidence[0].startswith("no new bytes for "), pod.evidence
    assert "ETA" not in health(idle).text, health(idle).text
    stuck = pod.progress.bytes_done
    first = min(
        s.taken_at for s in rec.snapshots if s.pods and s.pods[0].progress
        and s.pods[0].progress.bytes_done == stuck
    )  # fmt: skip
    later = [
        s for s in rec.snapshots
        if s.taken_at - first > IDLE_AFTER + 1 and s.pods and s.pods[0].progress
    ]  # fmt: skip
    promised = [
        (s.pods[0].progress.eta_seconds, health(s).text)
        for s in later
        if s.pods[0].progress.eta_seconds is not None or "ETA" in health(s).text
    ]
    assert not promised, promised
    assert idle.taken_at - first <= IDLE_AFTER + 2
