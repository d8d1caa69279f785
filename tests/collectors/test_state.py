"""The model-state rules, one situation each, from pod objects and log lines."""

from __future__ import annotations

import dataclasses
import json

from collectors.model import DownloadPhase, DownloadProgress, ModelState, VerificationResult
from collectors.pods import pod_info
from collectors.progress import LogFacts, ProgressTracker
from collectors.state import CARRIED_NOTE, DiskFacts, model_state
from tests.collectors.podfactory import make_pod, terminated, waiting

STALL = 60.0


def _log(*lines: str, start: float = 1000.0) -> LogFacts:
    t = ProgressTracker()
    for i, line in enumerate(lines):
        t.feed_text(line, start + i)
    return t.facts()


def _j(**obj: object) -> str:
    return json.dumps({"v": 1, "ts": "2026-11-27T10:00:00Z", "file": "model.bin", **obj})


def _decide(pod: dict, log: LogFacts | None = None, now: float = 1010.0, **kw):
    return model_state(pod_info(pod), log, kw.pop("disk", None), now, STALL, **kw)


def test_pod_info_reads_settings_and_cache_volume() -> None:
    pod = make_pod(
        env={
            "MODEL_CACHE_MAX_SIZE": "50GB",
            "MODEL_URL": "https://u:p@s3/m.bin?X-Amz-Signature=abc",
        }
    )
    info = pod_info(pod, {"lightning-asr-7d9f": "lightning-asr"})
    assert info.release == "lightning-asr" and info.owner == "ReplicaSet/lightning-asr-7d9f"
    assert info.model.max_cache_size == 50_000_000_000
    assert "abc" not in (info.model.url or "") and "u:p" not in (info.model.url or "")
    assert (info.cache_kind, info.cache_claim, info.cache_volume) == (
        "pvc",
        "models-aws-efs-pvc",
        "models",
    )
    # No MODEL_CACHE_DIR: the model volume's mount; an emptyDir is recognised.
    pod = make_pod(
        env={},
        containers=[
            {
                "name": "c",
                "image": "i",
                "volumeMounts": [{"name": "model-cache", "mountPath": "/smallest/models"}],
            }
        ],
        volumes=[{"name": "model-cache", "emptyDir": {}}],
    )
    info = pod_info(pod)
    assert info.model.cache_dir == "/smallest/models" and info.cache_kind == "emptyDir"
    # Nothing mounted there: the model lives in the image.
    pod = make_pod(
        containers=[
            {"name": "c", "image": "i", "env": [{"name": "MODEL_CACHE_DIR", "value": "/opt/m"}]}
        ],
        volumes=[],
    )
    assert pod_info(pod).cache_kind == "image"


def test_pending_when_not_scheduled_or_creating() -> None:
    v = _decide(make_pod(node=None, phase="Pending", statuses=[]))
    assert v.state is ModelState.PENDING and "not scheduled" in v.evidence[0]
    v = _decide(make_pod(phase="Pending", statuses=[waiting("lightning-asr", "ContainerCreating")]))
    assert v.state is ModelState.PENDING and "ContainerCreating" in v.evidence[0]


def test_waiting_on_the_lock() -> None:
    v = _decide(make_pod(), _log(_j(event="wait", holder="pid 7 on lightning-asr-a", waited=1.0)))
    assert v.state is ModelState.WAITING
    assert any("lightning-asr-a" in e for e in v.evidence)


def test_downloading_then_stalled_by_the_clock() -> None:
    log = _log(
        _j(event="start", total=1000, resumed_from=0, workers=4, version=None, url="x"),
        _j(event="progress", done=400, total=1000, rate=10.0, eta=60.0, workers=4),
    )
    v = _decide(make_pod(), log, now=1001.0 + 30)
    assert (
        v.state is ModelState.DOWNLOADING
        and v.progress is not None
        and v.progress.bytes_done == 400
    )
    v = _decide(make_pod(), log, now=1001.0 + STALL + 1)
    assert v.state is ModelState.STALLED
    assert v.evidence[0].startswith("no new bytes for 61 s at 400 B of 1000 B")
    assert v.progress is not None and v.progress.phase is DownloadPhase.STALLED
    assert v.progress.eta_seconds is None  # the downloader's last ETA no longer holds


def test_stalled_when_the_downloader_says_so() -> None:
    v = _decide(make_pod(), _log(_j(event="stall", done=400, after=30.0)))
    assert v.state is ModelState.STALLED and "stall" in v.evidence[0]


def test_verifying_and_loading() -> None:
    v = _decide(make_pod(), _log(_j(event="verify", done=10, total=100)))
    assert v.state is ModelState.VERIFYING
    v = _decide(
        make_pod(), _log("INFO: Downloading model from URL...", "INFO: Model downloaded: 23.5GB")
    )
    assert v.state is ModelState.VERIFYING and "loading" in v.evidence[0]


def test_ready_by_condition_or_log() -> None:
    assert _decide(make_pod(ready=True)).state is ModelState.READY
    v = _decide(make_pod(), _log("INFO: Server ready on port 2269"))
    assert v.state is ModelState.READY and "server ready on port 2269" in v.evidence[0]


def test_corrupt_from_log_exit_code_or_verify() -> None:
    pod = make_pod(statuses=[waiting("lightning-asr", "CrashLoopBackOff", restarts=3, last_exit=1)])
    v = _decide(pod, _log("ERROR: Model validation failed: checksum mismatch"))
    assert v.state is ModelState.CORRUPT
    assert "checksum mismatch" in v.evidence[0] and "CrashLoopBackOff (3 restarts)" in v.evidence[1]
    init = [{"name": "fetch", "image": "dl", "command": ["asr-cache-download"]}]
    pod = make_pod(
        phase="Pending",
        init_containers=init,
        init_statuses=[terminated("fetch", 5)],
        statuses=[waiting("lightning-asr", "PodInitializing")],
    )
    v = model_state(pod_info(pod), None, None, 1010.0, STALL, frozenset({"fetch"}))
    assert v.state is ModelState.CORRUPT and "exited 5" in v.evidence[0]
    info = pod_info(make_pod(ready=True))
    bad = VerificationResult("/app/models/model.bin", "aa", "bb", ok=False, checked_at=1.0)
    import dataclasses

    v = model_state(dataclasses.replace(info, verification=bad), None, None, 1010.0, STALL)
    assert v.state is ModelState.CORRUPT and "expected aa, got bb" in v.evidence[0]


def test_failed_download_disk_full_and_crash_loop() -> None:
    lines = [
        "INFO: Downloading model from URL...",
        "WARNING: Download attempt 1 failed: Connection timeout",
        "WARNING: Retrying download...",
        "ERROR: Download failed after 3 attempts",
    ]
    v = _decide(make_pod(), _log(*lines))
    assert v.state is ModelState.FAILED and "Download failed after 3 attempts" in v.evidence[0]
    assert any("attempt 1 failed: Connection timeout" in e for e in v.evidence)
    pod = make_pod(statuses=[waiting("lightning-asr", "CrashLoopBackOff", restarts=2, last_exit=1)])
    v = _decide(
        pod, _log(_j(event="error", code="disk_full", exit=6, message="no space left on device"))
    )
    assert v.state is ModelState.FAILED and "no space left" in v.evidence[0]
    # A crash loop whose log says nothing about downloads is unknown, named in the evidence.
    v = _decide(pod, _log("panic: something else"))
    assert v.state is ModelState.UNKNOWN and "CrashLoopBackOff" in v.evidence[0]


def test_a_restart_keeps_the_last_runs_failure_until_the_new_run_gets_further() -> None:
    tracker = ProgressTracker()
    first = [
        "INFO: Downloading model from URL...",
        _j(event="start", total=4000, resumed_from=0, workers=1, version=None, url="x"),
        _j(event="error", code="disk_full", exit=6, message="no space left on device"),
        "ERROR: Download failed after 1 attempts",
    ]
    for i, line in enumerate(first):
        tracker.feed_text(line, 1000.0 + i)
    looping = make_pod(statuses=[waiting("lightning-asr", "CrashLoopBackOff", 0, last_exit=1)])
    failed = _decide(looping, tracker.facts())
    assert failed.state is ModelState.FAILED

    tracker.new_run("exit code 1 (Error)")
    running = {"running": {"startedAt": "2026-11-27T10:00:09Z"}}
    restarted = make_pod(
        statuses=[{"name": "lightning-asr", "ready": False, "restartCount": 1, "state": running}]
    )
    # Before the new run gets further than the last one did, the last run's failure is the
    # latest word, said to be that run's: a crash loop does not turn "unknown" for each start.
    for i, line in enumerate(["", *first[:2]]):
        if line:
            tracker.feed_text(line, 1010.0 + i)
        v = _decide(restarted, tracker.facts(), now=1013.0)
        assert v.state is ModelState.FAILED, (line, v)
        assert v.evidence[:2] == (failed.evidence[0], CARRIED_NOTE), v.evidence
        assert v.progress is not None and "no space left" in (v.progress.message or "")
    # Bytes arriving are real progress: from then on the run is judged by itself.
    tracker.feed_text(_j(event="progress", done=400, total=4000), 1013.0)
    facts = tracker.facts()
    v = _decide(restarted, facts, now=1013.0)
    assert v.state is ModelState.DOWNLOADING, v
    assert not any("space" in e or "failed" in e for e in v.evidence), v.evidence
    assert v.progress is not None and v.progress.message is None and v.progress.bytes_done == 400
    # How the run before ended is kept apart, as history.
    assert facts.previous_run is not None
    assert facts.previous_run.startswith("previous run ended with: ")
    assert "no space left" in facts.previous_run.lower()
    assert facts.previous_run.endswith("(exit code 1 (Error))")
    # A run that got further and then ended without a failure of its own leaves none behind.
    tracker.new_run()
    assert tracker.facts().previous_run == "previous run ended with: " + facts.evidence[-1][5:]
    assert tracker.facts().failed_before is None
    assert _decide(restarted, tracker.facts()).state is ModelState.UNKNOWN


def _restarted(restarts: int = 1) -> dict:
    running = {"running": {"startedAt": "2026-11-27T10:00:09Z"}}
    status = {"name": "lightning-asr", "ready": False, "restartCount": restarts, "state": running}
    status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
    return make_pod(statuses=[status])


def test_a_cached_model_that_failed_validation_stays_corrupt_until_a_run_passes_it() -> None:
    """corrupt-model: each run hashes the cached file a while, saying nothing, then fails."""
    tracker = ProgressTracker()
    mismatch = "ERROR: Model validation failed: checksum mismatch: sha256 mismatch"
    tracker.feed_text("INFO: Starting Lightning ASR server (model cache: /app/models)", 1000.0)
    tracker.feed_text(mismatch, 1001.0)
    for run in (1, 2):  # the second run ends with nothing said: the failure stays the latest
        tracker.new_run("exit code 1 (Error)")
        tracker.feed_text("INFO: Starting Lightning ASR server (model cache: /app/models)", 1010.0)
        v = _decide(_restarted(run), tracker.facts())
        assert v.state is ModelState.CORRUPT, (run, v)
        assert v.evidence[:2] == ("log: " + mismatch[7:], CARRIED_NOTE), v.evidence
        assert v.progress is not None and "checksum mismatch" in (v.progress.message or "")
    # Validation passed this time (the file was replaced): the run is judged by itself.
    tracker.feed_text("INFO: Model found in cache: /app/models/v1/model.bin", 1011.0)
    v = _decide(_restarted(2), tracker.facts())
    assert v.state is ModelState.VERIFYING and CARRIED_NOTE not in v.evidence, v


def test_a_crash_loop_whose_log_is_not_read_yet_is_failed_not_unknown() -> None:
    """The first moments of a dashboard opened on a crash loop: the API says the last run
    failed; the log that says how is on its way."""
    looping = make_pod(statuses=[waiting("lightning-asr", "CrashLoopBackOff", 3, last_exit=1)])
    for log in (None, ProgressTracker().facts()):
        v = _decide(looping, log)
        assert v.state is ModelState.FAILED, v
        assert v.evidence == (
            "container lightning-asr in CrashLoopBackOff (3 restarts): exit code 1 (Error); "
            "its log is being read",
        )
    v = _decide(_restarted(3))
    assert v.state is ModelState.FAILED and "after a run that ended Error" in v.evidence[0]
    # First seen in a later run: the run before's lines, read late, say how it failed.
    tracker = ProgressTracker()
    tracker.new_run("exit code 1 (Error)")
    tracker.late_line(_j(event="error", code="disk_full", exit=6, message="no space left"), 990)
    v = _decide(_restarted(3), tracker.facts())
    assert v.state is ModelState.FAILED and v.evidence[1] == CARRIED_NOTE, v
    assert "no space left" in v.evidence[0]


def test_the_run_befores_last_lines_read_after_its_restart_say_how_it_ended() -> None:
    """The kubelet restarts a crashed container at once the first time: the pod's new status
    may come before the old run's last lines are read."""
    tracker = ProgressTracker()
    tracker.feed_text("INFO: Downloading model from URL...", 1000.0)
    tracker.new_run("exit code 1 (Error)")
    said = tracker.facts().previous_run
    assert said == "previous run ended with: Downloading model from URL... (exit code 1 (Error))"
    tracker.late_line("ERROR 403: Forbidden.", 1001.0)
    tracker.late_line("INFO: Retrying download...", 1001.5)  # a failure is not overwritten
    facts = tracker.facts()
    ended = "previous run ended with: HTTP 403 Forbidden. (exit code 1 (Error))"
    assert facts.previous_run == ended, facts.previous_run
    assert facts.failure is None and facts.phase is None, "never evidence of the run under way"


def test_a_late_last_line_is_read_into_the_run_it_ends_with_that_runs_cause() -> None:
    """Lightning's last word on a failed download ("Download failed after 1 attempts") names
    no cause; the cause came earlier, from the downloader. Read late, it is read into that
    run, not alone, so the run's cause stays in what it is said to have ended with."""
    tracker = ProgressTracker()
    tracker.feed_text("INFO: Downloading model from URL...", 1000.0)
    refused = "HTTP 403 Forbidden for http://models/v1/model.bin"
    error = f'{{"v": 1, "event": "error", "code": "http_refused", "message": "{refused}"}}'
    tracker.feed_text(error, 1000.5)
    tracker.new_run("exit code 1 (Error)")
    tracker.late_line("ERROR: Download failed after 1 attempts", 1001.0)
    ended = f"previous run ended with: Download failed after 1 attempts ({refused})"
    assert tracker.facts().previous_run == f"{ended} (exit code 1 (Error))"
    assert tracker.facts().failure is None, "never evidence of the run under way"


def test_lightning_only_log_uses_disk_growth() -> None:
    log = _log("INFO: Downloading model from URL...")
    v = _decide(make_pod(), log, now=1005.0)
    assert v.state is ModelState.DOWNLOADING and "no byte counts" in v.evidence[0]
    disk = DiskFacts("/app/models/model.bin.part", 5_000_000, grew_at=1004.0, checked_at=1005.0)
    v = _decide(make_pod(), log, now=1006.0, disk=disk)
    assert (
        v.state is ModelState.DOWNLOADING and v.progress is not None and v.progress.source == "disk"
    )
    v = _decide(make_pod(), log, now=1004.0 + STALL + 5, disk=disk)
    assert v.state is ModelState.STALLED and "stuck at 4.8 MiB" in v.evidence[0]
    # Two looks give the rate; with the size the log said (Lightning's "Model downloaded" or
    # another tool's total), the ETA.
    growing = dataclasses.replace(disk, rate=1_000_000.0)
    sized = _log("INFO: Downloading model from URL...")
    sized = dataclasses.replace(
        sized,
        progress=dataclasses.replace(
            sized.progress or DownloadProgress(phase=DownloadPhase.DOWNLOADING, source="lightning"),
            bytes_total=25_000_000,
        ),
    )
    v = _decide(make_pod(), sized, now=1006.0, disk=growing)
    assert v.progress is not None and (v.progress.rate, v.progress.eta_seconds) == (1e6, 20.0)
    v = _decide(make_pod(), sized, now=1004.0 + STALL + 5, disk=growing)
    assert v.state is ModelState.STALLED and v.progress is not None
    assert v.progress.eta_seconds is None


def test_running_with_silent_log_is_unknown() -> None:
    v = _decide(make_pod(), _log("hello"))
    assert v.state is ModelState.UNKNOWN and "says nothing" in v.evidence[0]


def test_running_before_its_log_is_read_is_pending_not_unknown() -> None:
    v = _decide(make_pod())
    assert v.state is ModelState.PENDING and "its log is being read" in v.evidence[0]


def test_a_job_pod_that_succeeded_is_done_not_ready() -> None:
    """A pre-warm Job's pod that completed its download serves nothing: "done", not "ready"."""
    pod = make_pod(
        phase="Succeeded",
        owner=("Job", "model-preload"),
        statuses=[terminated("lightning-asr", 0, "Completed")],
    )
    done = _log(_j(event="done", bytes=10, sha256=None, seconds=1.0, cached=False, path="m"))
    v = _decide(pod, done)
    assert v.state is ModelState.DONE and v.evidence[0] == "pod Succeeded", v
    assert v.state.settled and not v.state.needs_attention
    # While it runs it is judged by its download, however Ready its probe says it is.
    running = make_pod(owner=("Job", "model-preload"), ready=True)
    moving = _log(_j(event="progress", done=5, total=10, rate=5.0, eta=1.0, workers=1))
    assert _decide(running, moving, now=1000.5).state is ModelState.DOWNLOADING


def test_a_job_pod_that_exited_0_before_its_last_lines_were_read_is_done() -> None:
    pod = make_pod(
        phase="Succeeded",
        owner=("Job", "model-preload"),
        statuses=[terminated("lightning-asr", 0, "Completed")],
    )
    moving = _log(_j(event="progress", done=99, total=100, rate=5.0, eta=1.0, workers=1))
    v = _decide(pod, moving)
    assert v.state is ModelState.DONE and v.progress is not None
    assert (v.progress.phase, v.progress.bytes_done, v.progress.rate) == (
        DownloadPhase.DONE,
        100,
        None,
    )
