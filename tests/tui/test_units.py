"""Pure pieces of the dashboard: formatting, health, the registry, the bridge, rate history."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from textual.message import Message

from collectors.model import (
    DownloadPhase,
    LogLine,
    ModelState,
    ProbeDeadline,
    ProbeKill,
    ProbeSpec,
    RolloutInfo,
    StartBlocker,
)
from collectors.state import relapsing
from tests.tui.fakes import NOW, GiB, MiB, pod, progress, sample_snapshot, sample_volumes
from tui import actions_port, commands
from tui.bridge import FeedBridge
from tui.format import (
    PROGRESS_FULL,
    bar,
    blocker_cell,
    deadline_cell,
    evicted_cell,
    failure_gist,
    format_age,
    format_eta,
    format_pair,
    progress_cell,
    progress_fit,
    state_cell,
    usage_cell,
)
from tui.health import health
from tui.history import RateHistory
from tui.messages import LogLinesReceived, SnapshotUpdated
from tui.screens.detail import failures_text, rate_label, summary_text
from tui.screens.prompts import namespace_error
from tui.widgets.pods import PodsTable, _cells, matches, pod_order


def test_ages_read_like_kubectl() -> None:
    assert [format_age(s) for s in (0, 59, 60, 3599, 3600, 3660, 86399, 90000)] == [
        "0s",
        "59s",
        "1m",
        "59m",
        "1h",
        "1h1m",
        "23h59m",
        "1d",
    ]
    assert format_age(None) == "-"
    assert format_age(-5) == "0s"  # clock skew never shows a negative age


def test_eta_and_pairs() -> None:
    assert format_eta(None) == "?"
    assert format_eta(21) == "21s"
    assert format_eta(185) == "3m05s"
    assert format_eta(3720) == "1h02m"
    assert format_pair(int(1.2 * GiB), int(2.9 * GiB)) == "1.2/2.9 GiB"
    assert format_pair(500 * MiB, 2 * GiB) == "0.5/2.0 GiB"
    assert format_pair(10, 100) == "10/100 B"
    assert format_pair(5 * MiB, None) == "5.0 MiB/?"


def test_bar_has_eighth_resolution_and_fixed_width() -> None:
    assert bar(0.0, 8) == "░" * 8
    assert bar(1.0, 8) == "█" * 8
    assert bar(0.5, 8) == "████░░░░"
    assert bar(1 / 16, 8) == "▌░░░░░░░"
    assert bar(None, 4) == "░░░░"
    assert all(len(bar(f / 100, 10)) == 10 for f in range(101))


def test_progress_cell_shows_percent_bytes_rate_eta() -> None:
    p = progress(int(0.42 * 24 * GiB), 24 * GiB, 85 * MiB)
    text = progress_cell(p, ModelState.DOWNLOADING, width=8).plain
    assert "42%" in text and "10.1/24.0 GiB" in text and "85.0 MiB/s" in text
    assert "ETA 2m48s" in text
    done_without_bytes = dataclasses.replace(p, phase=DownloadPhase.DONE, bytes_done=None)
    assert progress_cell(done_without_bytes, ModelState.READY).plain == "✓ done"
    stalled = progress(10 * GiB, 24 * GiB, 0.0, DownloadPhase.STALLED)
    assert progress_cell(stalled, ModelState.STALLED).plain.endswith("stalled")


def test_usage_is_against_the_quota_when_capacity_is_meaningless() -> None:
    efs, empty_dir = sample_volumes()
    efs_text = usage_cell(efs).plain
    # 34 GiB against the 50 GB quota, not against EFS's 8 EiB; in the quota's own units.
    assert "73%" in efs_text and "quota" in efs_text and "36.5/50.0 GB" in efs_text
    assert "2%" in usage_cell(empty_dir).plain and "cap" in usage_cell(empty_dir).plain
    unmeasured = dataclasses.replace(efs, usage=None)
    assert usage_cell(unmeasured).plain == "not measured"


def test_health_names_what_needs_attention() -> None:
    h = health(sample_snapshot())
    assert h.level == "bad"
    assert h.text.startswith("1/6 ready") and "1 stalled" in h.text and "1 corrupt" in h.text
    assert health(None).level == "unknown"
    assert health(sample_snapshot(stale_since=NOW - 30)).level == "stale"


def test_a_volume_that_needs_room_makes_the_header_red() -> None:
    efs, empty_dir = sample_volumes()
    ready = tuple(
        dataclasses.replace(p, model_state=ModelState.READY, ready=True)
        for p in sample_snapshot().pods
    )
    calm = sample_snapshot(pods=ready, volumes=(efs, empty_dir))
    assert health(calm).level == "ok" and "room" not in health(calm).text
    assert efs.usage is not None and efs.quota_bytes
    over = dataclasses.replace(
        efs, usage=dataclasses.replace(efs.usage, used_bytes=efs.quota_bytes + 1)
    )
    h = health(dataclasses.replace(calm, volumes=(over, empty_dir)))
    assert h.level == "bad" and h.text.endswith("1 volume needs room"), h.text


def test_pods_sort_by_urgency_then_name_and_filter() -> None:
    pods = sorted(sample_snapshot().pods, key=pod_order)
    assert [p.model_state for p in pods] == [
        ModelState.CORRUPT,
        ModelState.STALLED,
        ModelState.DOWNLOADING,
        ModelState.WAITING,
        ModelState.PENDING,
        ModelState.READY,
    ]
    stalled = pods[1]
    assert matches(stalled, "STALL") and matches(stalled, "node-b") and not matches(stalled, "v2")


def test_registry_has_every_key_the_issue_names() -> None:
    keys = {k for c in commands.COMMANDS for k in c.key.split(",")}
    for key in (
        "up",
        "down",
        "j",
        "k",
        "enter",
        "escape",
        "slash",
        "q",
        "l",
        "n",
        "c",
        "p",
        "v",
        "d",
        "r",
        "R",
        "f",
        "s",
        "question_mark",
    ):
        assert key in keys, key
    assert {c.id for c in commands.ACTION_COMMANDS} == set(actions_port.ACTION_IDS)
    assert len({c.id for c in commands.COMMANDS}) == len(commands.COMMANDS)
    destructive = {c.id for c in commands.COMMANDS if c.destructive}
    # Every action whose plan changes the cluster says so in help as in its dialog.
    assert destructive == {"prewarm", "purge", "restart-pod", "rollout-restart", "fix", "switch"}
    binding = commands.by_action_id("fix").binding()
    assert binding.action == "app.perform('fix')" and binding.id == "fix"


def test_namespace_names_are_checked() -> None:
    assert namespace_error("smallest") is None
    assert "empty" in (namespace_error("") or "")
    assert "DNS label" in (namespace_error("Bad_NS") or "")
    assert "63" in (namespace_error("a" * 64) or "")


def test_bridge_keeps_one_snapshot_in_flight_and_posts_the_newest() -> None:
    posted: list[Message] = []
    bridge = FeedBridge(posted.append)
    snaps = [sample_snapshot(taken_at=NOW + i) for i in range(50)]
    threads = [threading.Thread(target=bridge.snapshot_ready, args=(s,)) for s in snaps[:10]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in snaps[10:]:
        bridge.snapshot_ready(s)
    assert len(posted) == 1  # the app has not handled the first one yet
    bridge.snapshot_handled()
    assert len(posted) == 2
    last = posted[-1]
    assert isinstance(last, SnapshotUpdated) and last.snapshot is snaps[-1]
    bridge.snapshot_handled()
    assert len(posted) == 2  # nothing newer parked: nothing posted
    bridge.snapshot_ready(snaps[0])
    assert len(posted) == 3


def test_bridge_forwards_only_the_followed_pod_and_bounds_the_backlog() -> None:
    posted: list[Message] = []
    bridge = FeedBridge(posted.append, log_backlog=100)
    line = LogLine("a", "c", "x")
    bridge.log_lines_received("a", [line])
    assert posted == []  # nobody follows a
    bridge.follow("a")
    bridge.log_lines_received("a", [line])
    for _ in range(1000):
        bridge.log_lines_received("a", [line, line])
    bridge.log_lines_received("b", [line])
    assert len(posted) == 1
    bridge.logs_handled()
    batch = posted[-1]
    assert isinstance(batch, LogLinesReceived) and len(batch.lines) == 100
    bridge.logs_handled()
    assert len(posted) == 2
    bridge.close()
    bridge.snapshot_ready(sample_snapshot())
    bridge.log_lines_received("a", [line])
    assert len(posted) == 2


def test_switching_pods_keeps_one_log_batch_in_flight() -> None:
    posted: list[Message] = []
    bridge = FeedBridge(posted.append)
    bridge.follow("a")
    bridge.log_lines_received("a", [LogLine("a", "c", "from a")])
    bridge.follow("b")  # a's batch is still in the app's queue
    bridge.log_lines_received("b", [LogLine("b", "c", "from b")])
    assert len(posted) == 1, "a second log message queued beside a's"
    bridge.logs_handled()  # the app handled a's batch (and dropped it: a is closed)
    batch = posted[-1]
    assert isinstance(batch, LogLinesReceived)
    assert [(ln.pod, ln.text) for ln in batch.lines] == [("b", "from b")]
    bridge.logs_handled()
    bridge.log_lines_received("b", [LogLine("b", "c", "again")])
    assert len(posted) == 3


def test_the_bridge_forwards_every_pod_while_the_timeline_asks() -> None:
    posted: list[Message] = []
    bridge = FeedBridge(posted.append, log_backlog=100)
    bridge.follow("a")
    bridge.follow_every_pod(True)
    bridge.log_lines_received("a", [LogLine("a", "c", "x")])
    bridge.log_lines_received("b", [LogLine("b", "c", "y")])
    bridge.log_lines_received("c", [LogLine("c", "c", "z")] * 500)
    assert len(posted) == 1  # one message in flight; the rest waits, bounded
    bridge.logs_handled()
    batch = posted[-1]
    assert isinstance(batch, LogLinesReceived) and len(batch.lines) == 100
    bridge.log_lines_received("b", [LogLine("b", "c", "y")])
    bridge.follow_every_pod(False)  # the timeline closed: b's parked line goes, a's stays
    bridge.log_lines_received("a", [LogLine("a", "c", "w")])
    bridge.log_lines_received("b", [LogLine("b", "c", "not forwarded")])
    bridge.logs_handled()
    batch = posted[-1]
    assert isinstance(batch, LogLinesReceived)
    assert [(ln.pod, ln.text) for ln in batch.lines] == [("a", "w")]


def test_snapshot_messages_replace_each_other_but_not_others() -> None:
    a = SnapshotUpdated(sample_snapshot())
    b = SnapshotUpdated(sample_snapshot())
    assert b.can_replace(a)
    assert not b.can_replace(LogLinesReceived([]))


def test_rate_history_is_bounded_and_forgets_gone_pods() -> None:
    history = RateHistory(samples=5)
    snap = sample_snapshot()
    downloading = "lightning-asr-7d9f8c6b5-8mz2p"
    for i in range(20):
        pods = tuple(
            dataclasses.replace(
                p, progress=dataclasses.replace(p.progress, rate=float(i), updated_at=NOW + i)
            )
            if p.progress
            else p
            for p in snap.pods
        )
        history.update(dataclasses.replace(snap, pods=pods))
    assert history.rates(downloading) == [15.0, 16.0, 17.0, 18.0, 19.0]
    history.update(dataclasses.replace(snap, pods=pods))  # same progress: no new sample
    assert len(history.rates(downloading)) == 5
    history.update(dataclasses.replace(snap, pods=()))
    assert history.rates(downloading) == []


def test_verify_results_reach_the_feed_so_the_pod_shows_corrupt() -> None:
    from actions.plan import ActionResult
    from tests.tui.fakes import FakeActions, sample_plan
    from tui.launch import FeedAwareActions

    class Inner(FakeActions):
        def execute(self, plan, progress=None, cancel=None):
            details = {
                "verification": {
                    "path": "/app/models/v1/model.bin",
                    "expected": "sha256:aa",
                    "actual": "sha256:bb",
                    "ok": False,
                    "checked_at": NOW,
                    "message": "mismatch",
                }
            }
            return ActionResult(plan, ok=True, message="verified", details=details)

    class Feed:
        def __init__(self) -> None:
            self.recorded: list[tuple[str, Any]] = []

        def record_verification(self, pod: str, result: Any) -> None:
            self.recorded.append((pod, result))

    feed = Feed()
    actions = FeedAwareActions(Inner(), feed)
    result = actions.execute(sample_plan("verify", "pod-a"))
    assert result.message == "verified"
    assert len(feed.recorded) == 1
    pod, verification = feed.recorded[0]
    assert pod == "pod-a" and verification.ok is False
    actions.execute(sample_plan("fix", "pod-a"))  # other actions record nothing
    assert len(feed.recorded) == 1


def test_the_detail_names_how_the_run_before_a_restart_ended_after_the_evidence() -> None:
    info = dataclasses.replace(
        pod("lightning-asr-a", ModelState.DOWNLOADING, restarts=1, evidence=("log: started",)),
        previous_run="previous run ended with: checksum mismatch (exit code 1 (Error))",
    )
    lines = summary_text(info, info.name, NOW).plain.splitlines()
    assert lines[-2:] == [
        "• log: started",
        "↻ previous run ended with: checksum mismatch (exit code 1 (Error))",
    ]
    assert "↻" not in summary_text(dataclasses.replace(info, previous_run=None), "x", NOW).plain


def test_a_failed_download_shows_its_cause_not_a_question_mark() -> None:
    wrapped = (
        "Download failed after 3 attempts (no space left for model.bin in /app/models: "
        "256.0 MiB more needed, 128.0 MiB free; the partial download is kept for a later resume)"
    )
    cause = "no space left for model.bin in /app/models: 256.0 MiB more needed, 128.0 MiB free"
    assert failure_gist(wrapped) == cause
    assert failure_gist("ERROR 403: Forbidden.\n") == "ERROR 403: Forbidden."
    assert failure_gist(";") == ";"  # nothing but advice: the message as written
    unknown = dataclasses.replace(
        progress(0, 24 * GiB, None, DownloadPhase.FAILED), bytes_done=None, message=wrapped
    )
    cell = progress_fit(unknown, ModelState.FAILED, PROGRESS_FULL).plain
    assert cell == cause and "?%" not in cell
    half = dataclasses.replace(
        progress(12 * GiB, 24 * GiB, None, DownloadPhase.FAILED), message="HTTP 403"
    )
    assert (
        progress_fit(half, ModelState.FAILED, PROGRESS_FULL).plain == f"{bar(0.5, 8)}  50% HTTP 403"
    )
    assert progress_fit(half, ModelState.FAILED, 20).plain == "HTTP 403"  # no room for the bar
    silent = dataclasses.replace(half, message=None)
    assert "failed" in progress_fit(silent, ModelState.FAILED, PROGRESS_FULL).plain


def test_the_detail_shows_one_cause_once() -> None:
    cause = "no space left for model.bin in /app/models: 256.0 MiB more needed, 128.0 MiB free"
    wrapped = f"Download failed after 1 attempts ({cause}; the partial is kept)"
    failed = dataclasses.replace(
        progress(0, 256 * MiB, None, DownloadPhase.FAILED), bytes_done=None, message=wrapped
    )
    evidence = (
        f"log: {wrapped}",
        "container lightning-asr in CrashLoopBackOff (5 restarts)",
        f"log: download attempt 1 failed: {cause}; the partial is kept",
        f"log: {cause}; the partial is kept",
        "log: HTTP 503 from the server",
        "log: ready",  # too short to be taken for a part of another line ("already")
    )
    info = pod("p", ModelState.FAILED, progress=failed, evidence=evidence, restarts=5)
    info = dataclasses.replace(
        info, progress=dataclasses.replace(failed, message=wrapped + " already")
    )
    text = summary_text(info, "p", NOW).plain
    assert text.count("256.0 MiB more needed") == 1, text
    bullets = [ln for ln in text.splitlines() if ln.startswith("• ")]
    assert bullets == [
        "• container lightning-asr in CrashLoopBackOff (5 restarts)",
        "• log: HTTP 503 from the server",
        "• log: ready",
    ]
    # Without the cause on the progress line, the first line that quotes it is kept.
    quiet = dataclasses.replace(info, progress=None)
    bullets = [ln for ln in summary_text(quiet, "p", NOW).plain.splitlines() if ln[:2] == "• "]
    assert bullets[0] == f"• log: {wrapped}" and len(bullets) == 4, bullets


def test_two_failures_for_one_reason_are_one_sentence() -> None:
    assert failures_text({"df": "no pod", "listing": "no pod"}) == "df and listing failed: no pod"
    assert failures_text({"df": "a", "listing": "b"}) == "df failed: a; listing failed: b"
    assert failures_text({"listing": "b"}) == "listing failed: b"


def test_a_crash_loop_caught_between_crashes_is_marked() -> None:
    again = pod(
        "again",
        ModelState.DOWNLOADING,
        restarts=2,
        progress=progress(GiB, 24 * GiB, 50 * MiB),
    )
    again = dataclasses.replace(again, previous_run="previous run ended with: disk_full: …")
    fresh = dataclasses.replace(again, name="fresh", restarts=0, previous_run=None)
    broken = dataclasses.replace(again, name="broken", model_state=ModelState.FAILED)
    assert relapsing(again) and not relapsing(fresh) and not relapsing(broken)
    assert state_cell(ModelState.DOWNLOADING, again=True).plain == "↻ downloading"
    assert state_cell(ModelState.DOWNLOADING).plain == "↓ downloading"
    snap = dataclasses.replace(sample_snapshot(), pods=(again, fresh, broken))
    assert "1 ↻ after a failed run" in health(snap).text
    assert "↻" not in health(dataclasses.replace(snap, pods=(fresh,))).text


def test_a_pod_that_cannot_start_and_a_stuck_rollout_turn_the_header_red() -> None:
    ready = tuple(
        dataclasses.replace(p, model_state=ModelState.READY, ready=True)
        for p in sample_snapshot().pods
    )
    calm = sample_snapshot(pods=ready)
    assert health(calm).level == "ok"
    gist = 'secret "hf-token" not found'
    stuck_pod = dataclasses.replace(
        pod("asr-new", ModelState.BLOCKED, phase="Pending"),
        blocker=StartBlocker("config", f"container x cannot be created: {gist}", gist, None, True),
    )
    h = health(dataclasses.replace(calm, pods=(*ready, stuck_pod)))
    assert h.level == "bad" and "1 blocked" in h.text, h.text
    layout = tuple((key, width) for key, _, width in PodsTable.COLUMNS)
    row = _cells((stuck_pod, "1m", layout))
    assert row[7].plain == gist and row[6].plain == "⊘ blocked"
    image = "smallest/lightning-asr:v2.0-typo"
    pulling = StartBlocker("image", "…", f"cannot pull {image}", None, True)
    assert blocker_cell(pulling, ModelState.BLOCKED, 26).plain == "cannot pull …asr:v2.0-typo"
    (c,) = stuck_pod.containers[:1]
    killed = dataclasses.replace(
        pod("asr-oom", ModelState.FAILED),
        containers=(dataclasses.replace(c, last_reason="OOMKilled", memory_limit=128 * MiB),),
    )
    row = _cells((killed, "1m", layout))
    assert row[7].plain == "OOMKilled (limit 128.0 MiB)" and row[6].plain == "✗ failed"
    evicted = dataclasses.replace(
        pod("asr-gone", ModelState.FAILED, phase="Failed"),
        status_reason="Evicted",
        status_message='Usage of EmptyDir volume "models" exceeds the limit "20Gi". ',
    )
    assert _cells((evicted, "1m", layout))[7].plain == "Evicted (emptyDir over limit)"
    low = "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi."
    assert evicted_cell(low, 40).plain == "Evicted (node low on ephemeral-storage)"
    assert rate_label([], stuck_pod).plain == "download rate none (the pod has not started)"
    rollout = RolloutInfo("lightning-asr", 3, 3, 2, 2, problem="FailedCreate: exceeded quota")
    h = health(dataclasses.replace(calm, rollouts=(rollout,)))
    assert h.level == "bad" and h.text.endswith("1 rollout stuck"), h.text


def test_a_pod_its_probe_kills_says_so_in_its_row_and_the_header() -> None:
    ready = tuple(
        dataclasses.replace(p, model_state=ModelState.READY, ready=True)
        for p in sample_snapshot().pods
    )
    layout = tuple((key, width) for key, _, width in PodsTable.COLUMNS)
    liveness = ProbeSpec("liveness", "http-get http://:2269/health", initial_delay=300)
    (c,) = pod("x", ModelState.FAILED).containers
    down = dataclasses.replace(c, state="waiting", exit_code=137, probes=(liveness,))
    killed = dataclasses.replace(
        pod("asr-killed", ModelState.FAILED, restarts=2),
        containers=(down,),
        probe_kill=ProbeKill("lightning-asr", "liveness", 2, NOW - 5, spec=liveness),
    )
    row = _cells((killed, "1m", layout))
    assert row[6].plain == "✗ failed"
    assert row[7].plain == "killed by liveness probe 2 times (allows 6 min)", row[7].plain
    # Its run under way: the bar, then when the probe ends it in place of the ETA.
    deadline = ProbeDeadline("lightning-asr", "liveness", 95.0, 600.0, "…")
    doomed = dataclasses.replace(
        pod("asr-doomed", ModelState.DOWNLOADING, progress=progress(4 * GiB, 10 * GiB, 10 * MiB)),
        probe_deadline=deadline,
    )
    cell = _cells((doomed, "1m", layout))[7].plain
    assert cell.endswith(" 40% ⚠ liveness probe kills it in 95 s"), cell
    # Narrow: the warning alone, in fewer words.
    narrow = deadline_cell(deadline, doomed.progress, ModelState.DOWNLOADING, 20).plain
    assert narrow == "⚠ killed in 95 s", narrow
    h = health(sample_snapshot(pods=(*ready, doomed)))
    assert h.level == "bad" and "1 to be killed by a probe" in h.text, h.text
    unready = dataclasses.replace(ready[0], ready=False, unready_because="HTTP probe failed …")
    h = health(sample_snapshot(pods=(unready, *ready[1:])))
    assert h.level == "bad" and h.text.endswith("· 1 failing readiness"), h.text


def test_the_detail_says_how_long_a_start_may_take_before_a_probe_ends_it() -> None:
    liveness = ProbeSpec("liveness", "http-get http://:2269/health", initial_delay=300)
    downloading = pod("asr-a", ModelState.DOWNLOADING)
    (c,) = downloading.containers
    probed = dataclasses.replace(
        downloading, containers=(dataclasses.replace(c, probes=(liveness,)),)
    )
    said = summary_text(probed, probed.name, NOW).plain
    assert (
        "\nlightning-asr's liveness probe allows a start about 6 min (initialDelaySeconds 300 + "
        "failureThreshold 3 * periodSeconds 10)" in said
    ), said
    # Once Ready, the start is over: nothing to say.
    ready = dataclasses.replace(probed, ready=True, model_state=ModelState.READY)
    assert "probe allows" not in summary_text(ready, ready.name, NOW).plain


def test_a_pre_warm_pod_that_completed_reads_done_not_ready() -> None:
    """preload-wget: the Job's pod Succeeded 0/1 is no server waiting to serve."""
    job_pod = dataclasses.replace(
        pod("model-preload-6qvhj", ModelState.DONE, phase="Succeeded", release="model-preload"),
        owner="Job/model-preload",
        progress=progress(256 * MiB, 256 * MiB, 0.0),
    )
    layout = tuple((key, width) for key, _, width in PodsTable.COLUMNS)
    row = _cells((job_pod, "3m", layout))
    assert row[6].plain == "✓ done", row[6].plain
    servers = [pod(f"lightning-asr-{i}", ModelState.READY, ready=True) for i in range(2)]
    snap = sample_snapshot(pods=(*servers, job_pod))
    assert health(snap).text == "2/2 ready"
    assert [p.name for p in sorted(snap.pods, key=pod_order)][-1] == job_pod.name
