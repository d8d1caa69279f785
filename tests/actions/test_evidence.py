"""Fix's diagnosis from the evidence: the downloader's JSON events by type and code, other
tools' lines by precise patterns, and never a port or a byte count read as an HTTP status."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from actions import evidence
from actions.fix import MISMATCH_BEFORE_RESTART, Diagnosis, diagnose, plan_fix
from actions.options import ActionOptions
from actions.purge import NOT_KNOWN_CORRUPT
from collectors.model import DownloadPhase, DownloadProgress, EventInfo, ModelState
from tests.actions.builders import pod, snapshot, stalled

URL = "http://127.0.0.1:41627/models/v1/model.bin"


def event(kind: str, **fields: Any) -> str:
    """One line of ``--progress json``, as the downloader writes it."""
    record = {"v": 1, "event": kind, "ts": "2026-11-27T10:32:10.340Z", "file": "model.bin"}
    return json.dumps({**record, **fields})


def error(code: str, message: str, exit_code: int = 3) -> str:
    return event("error", code=code, exit=exit_code, message=message)


def kind_of(log: str, state: ModelState = ModelState.UNKNOWN, **kw: Any) -> str:
    snap = snapshot(pod("asr-a", state=state, **kw))
    return diagnose(snap, snap.pods[0], log).kind


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # After the run's own start: the download itself mismatched (test_source_mismatch.py).
        ("checksum_mismatch", "source-mismatch"),
        ("disk_full", "disk-full"),
        ("cache_full", "disk-full"),
        ("download_failed", "failed-retry"),
        ("http_refused", "url-refused"),
        ("timeout", "failed-retry"),
        ("interrupted", "nothing"),  # a pod being stopped, not a failed download
    ],
)
def test_an_error_event_is_diagnosed_by_its_code(code: str, expected: str) -> None:
    log = "\n".join([event("start", url=URL, total=10, resumed_from=0), error(code, "it broke")])
    assert kind_of(log) == expected


def test_the_code_decides_not_the_words_of_the_message() -> None:
    """A message that mentions a 416 or no space does not override what the code says."""
    log = error("download_failed", "bytes 0-9 gone (416); no space left was not the cause")
    assert kind_of(log) == "failed-retry"
    log = error("disk_full", "model.bin: ETag changed (416)", exit_code=6)
    assert kind_of(log) == "disk-full"


def test_a_disk_full_event_gives_its_sentence_for_the_plan() -> None:
    message = (
        "no space left for model.bin in /app/models: 4.0 MiB more needed, 2.0 MiB free; "
        "the partial download is kept for a later resume"
    )
    snap = snapshot(pod("asr-a", state=ModelState.FAILED))
    d = diagnose(snap, snap.pods[0], error("disk_full", message, exit_code=6))
    assert d.kind == "disk-full"
    assert "4.0 MiB more needed, 2.0 MiB free" in d.why and "{" not in d.why


LOOKALIKES = "\n".join(
    [
        # The model server's port and byte counts that contain 416 and 403.
        event("start", url=URL, total=41_640_300, resumed_from=4_160_403, workers=4),
        event("progress", done=4_164_030, total=41_640_300, rate=416_403.0, eta=403.0),
        event("stall", done=4_164_030, after=416.0),
        event("retry", attempt=2, of=6, reason="HTTP 503 Service Unavailable", delay=0.41),
        # The downloader dropping a partial by itself: the partial is no longer a problem.
        event(
            "retry",
            attempt=3,
            of=6,
            reason="model.bin no longer has bytes 0-9 (416); starting over",
            delay=0.0,
        ),
        # Other tools' text with the same numbers.
        "Connecting to 127.0.0.1:41603... connected.",
        "Length: 41640300 (40M) [application/octet-stream]",
        "416K .......... .......... 403K 41.6M 0s",
        "Completed 416.0 MiB/403.0 MiB (41.6 MiB/s) with 1 file(s) remaining",
    ]
)


@pytest.mark.parametrize(
    ("state", "progress", "expected"),
    [
        (ModelState.DOWNLOADING, None, "nothing"),
        (ModelState.STALLED, stalled(), "stalled-resumable"),
    ],
)
def test_ports_and_byte_counts_with_416_or_403_do_not_mislead_it(
    state: ModelState, progress: DownloadProgress | None, expected: str
) -> None:
    assert kind_of(LOOKALIKES, state, progress=progress) == expected


@pytest.mark.parametrize(
    ("line", "signal"),
    [
        (
            "HTTP request sent, awaiting response... 416 Requested Range Not Satisfiable",
            evidence.UNRESUMABLE,
        ),
        ("curl: (22) The requested URL returned error: 416", evidence.UNRESUMABLE),
        (
            "curl: (33) HTTP server doesn't seem to support byte ranges. Cannot resume.",
            evidence.UNRESUMABLE,
        ),
        ("model.bin no longer has bytes 0-9 (416)", evidence.UNRESUMABLE),
        ("ERROR 403: Forbidden.", evidence.REFUSED),
        (
            "fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden",
            evidence.REFUSED,
        ),
        ("Cannot write to 'model.bin' (No space left on device).", evidence.NO_SPACE),
        ("WARNING: Download attempt 1 failed: downloader exited with code 7", evidence.NO_SPACE),
        ("ERROR: Model validation failed: checksum mismatch", evidence.CHECKSUM),
        ("model.bin: sha256 mismatch, expected ab… but the download has cd…", evidence.CHECKSUM),
        ("errorCode=32 Checksum validation failed.", evidence.CHECKSUM),
        ("download failed: s3://m/model.bin to x [Errno 28] No space left", evidence.NO_SPACE),
        ("log: waiting for the lock (held by pid 7 on host asr-b)", evidence.WAITING),
        # The downloader dropped that partial itself (as the collectors retell its retry).
        (
            "log: download attempt 3 of 6 failed: model.bin no longer has bytes 0-9 (416); "
            "starting over",
            None,
        ),
        # Look-alikes: no status, no finding.
        ("Connecting to models.example:41627... connected.", None),
        ("Saving to: 'model.bin' 416 MiB at 403 KiB/s", None),
        ("download: s3://bucket/v1/model.bin to ./model.bin (4160403 bytes)", None),
        ("INFO: exit 60 requested by supervisor", None),
        ("checksum verified, 3 GiB", None),
        ("--checksum flag given", None),
    ],
)
def test_other_tools_lines_are_matched_by_precise_patterns(line: str, signal: str | None) -> None:
    finding = evidence.read_line(line)
    assert (finding.signal if finding else None) == signal


MALFORMED = {
    "torn": '{"v": 1, "event": "error", "code": "disk_fu',
    "brace": "{",
    "event-not-a-string": '{"v": 1, "event": ["error"], "code": "checksum_mismatch"}',
    "holder-not-a-string": '{"v": 1, "event": "wait", "holder": 42}',
    "unknown-event": '{"v": 1, "event": "no-such-event", "code": "disk_full"}',
    "fields-of-the-wrong-type": '{"v": 1, "event": "progress", "done": "lots", "total": null}',
    "single-quotes": "{\"v\": 1, 'event': 'error'}",
    "binary": "\x00\ufffd{\x1b[31m",
    "too-deep-for-json": '{"v": 1, "event": "error", "code": ' + "[" * 5000 + "]" * 5000 + "}",
}


@pytest.mark.parametrize("line", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_line_is_ignored(line: str) -> None:
    finding = evidence.read_line(line)
    assert finding is None or finding.signal == evidence.WAITING  # a wait with no holder
    assert kind_of(line, ModelState.STALLED, progress=stalled()) == "stalled-resumable"


def test_malformed_lines_among_good_ones_do_not_hide_them() -> None:
    log = "\n".join([*MALFORMED.values(), error("checksum_mismatch", "expected ab…, got cd…", 5)])
    assert kind_of(log) == "corrupt"


def test_a_new_attempt_makes_the_previous_failure_history() -> None:
    """An attempt ended in no space; the same run (no restart) started again and downloads."""
    failed = error("disk_full", "no space left on device", exit_code=6)
    again = event("start", url=URL, total=100, resumed_from=10)
    moving = event("progress", done=20, total=100, rate=1.0, eta=80.0)
    assert kind_of(failed, ModelState.FAILED) == "disk-full"
    assert kind_of("\n".join([failed, again, moving]), ModelState.DOWNLOADING) == "nothing"
    lightning_again = "INFO: Downloading model from URL..."
    assert kind_of("\n".join([failed, lightning_again]), ModelState.DOWNLOADING) == "nothing"


FULL = error("disk_full", "no space left for model.bin: 4.0 MiB more needed, 2.0 MiB free", 6)
AGAIN = "\n".join(
    [
        event("start", url=URL, total=100, resumed_from=10),
        event("progress", done=20, total=100, rate=1.0, eta=80.0),
    ]
)


def runs(current: str, previous: str = "", restarts: int = 0, **kw: Any) -> evidence.ContainerLog:
    return evidence.ContainerLog("lightning-asr", current, previous, restarts, **kw)


def diagnosed(state: ModelState, *logs: evidence.ContainerLog) -> Diagnosis:
    snap = snapshot(pod("asr-a", state=state))
    return diagnose(snap, snap.pods[0], logs)


def test_a_crash_loop_caught_downloading_again_is_judged_by_its_last_run() -> None:
    d = diagnosed(ModelState.DOWNLOADING, runs(AGAIN, previous=FULL, restarts=2))
    assert d.kind == "disk-full" and d.previous_run
    assert d.why.startswith("container lightning-asr restarted 2 times; the last run failed: ")
    assert d.why.endswith(
        "disk_full: no space left for model.bin: 4.0 MiB more needed, 2.0 MiB free"
    )
    # A run that has not written a line yet has not said how it ends either.
    assert diagnosed(ModelState.UNKNOWN, runs("", previous=FULL, restarts=1)).kind == "disk-full"


def test_without_a_restart_an_attempt_under_way_has_nothing_to_fix() -> None:
    """The failure and the new start are one run's (the server retried by itself)."""
    in_one_run = "\n".join([FULL, AGAIN])
    assert diagnosed(ModelState.DOWNLOADING, runs(in_one_run)).kind == "nothing"
    assert evidence.ContainerLog("lightning-asr", AGAIN).history() == ()


def test_the_current_attempts_own_failure_wins_over_the_last_runs() -> None:
    refused = "\n".join([AGAIN, error("http_refused", "403 Forbidden", 4)])
    d = diagnosed(ModelState.DOWNLOADING, runs(refused, previous=FULL, restarts=2))
    # Disk full would come first among the rules: only the current attempt's words count.
    assert d.kind == "url-refused" and not d.previous_run
    assert "403 Forbidden" in d.why and "restarted" not in d.why
    # Also when another container's current attempt is the one that failed.
    fetch = evidence.ContainerLog("fetch-model", refused, init=True)
    d = diagnosed(ModelState.DOWNLOADING, fetch, runs(AGAIN, previous=FULL, restarts=2))
    assert d.kind == "url-refused" and not d.previous_run


@pytest.mark.parametrize(
    ("state", "current", "expected"),
    [
        # Done, or the server ready: nothing is pending, whatever the last run did...
        (ModelState.VERIFYING, "\n".join([AGAIN, event("done", sha256="ab")]), "nothing"),
        # ...also when the snapshot was taken before the download ended.
        (ModelState.DOWNLOADING, "\n".join([AGAIN, event("done", sha256="ab")]), "nothing"),
        (ModelState.READY, "INFO: Server ready on port 2269", "nothing"),
        # A stalled or waiting attempt speaks for itself.
        (ModelState.STALLED, AGAIN, "stalled-resumable"),
        (ModelState.WAITING, event("wait", holder="pid 7 on host asr-b"), "lock-released"),
    ],
)
def test_an_attempt_that_said_how_it_stands_is_not_judged_by_the_last_run(
    state: ModelState, current: str, expected: str
) -> None:
    assert diagnosed(state, runs(current, previous=FULL, restarts=3)).kind == expected


def test_the_last_runs_exit_code_speaks_when_its_log_is_gone() -> None:
    fetch = runs("", restarts=1, init=True, exited="exit code 6 (Error)")
    fetch = dataclasses.replace(fetch, container="fetch-model")
    d = diagnosed(ModelState.PENDING, fetch, runs(""))
    assert d.kind == "disk-full"
    assert (
        d.why
        == "init container fetch-model restarted 1 time; the last run failed: exit code 6 (Error)"
    )
    # Exit code 1 tells nothing by itself.
    generic = runs(AGAIN, restarts=1, exited="exit code 1 (Error)")
    assert diagnosed(ModelState.DOWNLOADING, generic).kind == "nothing"


def test_the_plan_says_the_refusal_was_the_last_runs() -> None:
    refused = "\n".join(["ERROR 403: Forbidden.", "ERROR: Download failed after 1 attempts"])
    snap = snapshot(pod("asr-a", state=ModelState.DOWNLOADING))
    logs = (runs(AGAIN, previous=refused, restarts=4),)
    plan = plan_fix(snap, "asr-a", ActionOptions(), log=logs)
    assert plan.decision == "url-refused" and not plan.runnable
    assert (plan.refused or "").startswith(
        "Container lightning-asr restarted 4 times; the last run failed: the model server "
        "refuses the URL (ERROR 403: Forbidden.)"
    ), plan.refused
    # A plain failure is restarted, with the last run's words, not the snapshot's.
    failed = error("download_failed", "connection reset after 3 retries")
    snap = snapshot(pod("asr-a", state=ModelState.DOWNLOADING, evidence=("log: downloading",)))
    plan = plan_fix(snap, "asr-a", ActionOptions(), log=(runs(AGAIN, failed, 1),))
    assert plan.decision == "failed-retry" and plan.runnable
    assert plan.summary.startswith(
        "Evidence: container lightning-asr restarted 1 time; the last run failed: "
        "download_failed: connection reset after 3 retries."
    ), plan.summary


@pytest.mark.parametrize(
    ("holder", "expected"), [("asr-gone", "lock-released"), ("asr-b", "lock-held")]
)
def test_the_lock_holder_comes_from_the_wait_events_field(holder: str, expected: str) -> None:
    waiting = DownloadProgress(phase=DownloadPhase.WAITING, source="bundled")
    snap = snapshot(
        pod("asr-a", state=ModelState.WAITING, progress=waiting),
        pod("asr-b", state=ModelState.DOWNLOADING),
    )
    log = "\n".join(
        [
            event("wait", holder="pid 7 on host asr-old", waited=5.0),
            event("wait", holder=f"pid 9 on host {holder}", waited=10.0),  # the latest word
        ]
    )
    d = diagnose(snap, snap.pods[0], log)
    assert d.kind == expected and holder in d.why


def test_only_a_lock_holder_is_read_as_one() -> None:
    """Any "on <word>" once named the holder: "present on machine" made "machine" one."""
    waiting = DownloadProgress(phase=DownloadPhase.WAITING, source="bundled")
    pulled = 'Container image "smallest/lightning-asr:1" already present on machine'
    snap = snapshot(
        pod("asr-a", state=ModelState.WAITING, progress=waiting),
        events=(EventInfo("Pod", "asr-a", "Normal", "Pulled", pulled, 1, 0.0),),
    )
    d = diagnose(snap, snap.pods[0], event("wait", holder=None, waited=5.0))
    assert d.kind == "lock-released" and "machine" not in d.why


def test_a_downloader_container_that_exited_6_is_out_of_space() -> None:
    assert kind_of("", ModelState.FAILED, running=False, exit_code=6) == "disk-full"
    assert kind_of("", ModelState.FAILED, running=False, exit_code=60) == "failed-retry"


def test_a_mismatch_from_the_last_run_is_not_called_unreported() -> None:
    """Purge warns that no log reports a mismatch; here the last run's log did."""
    mismatch = "ERROR: Model validation failed: checksum mismatch"
    snap = snapshot(pod("asr-a", state=ModelState.DOWNLOADING))
    plan = plan_fix(snap, "asr-a", ActionOptions(), log=(runs(AGAIN, mismatch, 1),))
    assert plan.decision == "corrupt" and plan.runnable, plan.describe()
    assert MISMATCH_BEFORE_RESTART in plan.warnings
    assert NOT_KNOWN_CORRUPT not in plan.warnings


def test_a_run_that_ended_6_is_explained_by_its_own_words_when_the_next_has_begun() -> None:
    """The snapshot knows only the exit code (its log stream follows the new instance, which
    has said nothing yet); the run that ended 6 said how much room it lacked, and the plan
    needs that to evict no more than enough."""
    ended = "container lightning-asr exited 6 (no space left on device)"
    snap = snapshot(
        pod("asr-a", state=ModelState.FAILED, running=False, exit_code=6, evidence=(ended,))
    )
    log = runs(AGAIN, previous=FULL, restarts=2, exited="exit code 6 (Error)")
    d = diagnose(snap, snap.pods[0], (log,))
    assert d.kind == "disk-full" and d.previous_run, d
    assert "4.0 MiB more needed, 2.0 MiB free" in d.why, d.why
    # With no words from any run, the exit code still says what failed.
    assert diagnose(snap, snap.pods[0], (runs(AGAIN, restarts=2),)).why == ended
