"""A checksum mismatch of a file downloaded in the same run is the source's (or the checksum's)
fault, not a cached file gone bad: a purge downloads it again to fail the same way.

The log tells the two apart: the download's own lines (the bundled downloader's `start` and
`progress` events, Lightning's "Downloading model from URL..." / "Model downloaded: …") come
before the mismatch in the same attempt, or they do not.
"""

from __future__ import annotations

from typing import Any

import pytest

from actions import evidence
from actions.fix import MISMATCH_BEFORE_RESTART, SOURCE_MISMATCH, diagnose, plan_fix
from actions.options import ActionOptions
from actions.plan import ActionPlan, ExecStep
from actions.purge import NOT_KNOWN_CORRUPT, plan_purge
from collectors.model import ModelState, VerificationResult
from collectors.state import CARRIED_NOTE
from tests.actions.builders import CHECKSUM, pod, snapshot
from tests.actions.test_evidence import AGAIN, URL, error, event, runs

EXPECTED = CHECKSUM.removeprefix("sha256:")
ACTUAL = "c0" * 32
OTHER = "d1" * 32
SIZE = 4 * 2**20
FILE = "/app/models/model.bin"


def discarded(actual: str = ACTUAL) -> str:
    """The bundled downloader's words for a download that does not match (job.py)."""
    return (
        f"model.bin: sha256 mismatch, expected {EXPECTED} but the download has {actual}; it "
        f"was discarded and nothing was placed at {FILE}"
    )


def bundled_run(actual: str = ACTUAL) -> str:
    """One run of the bundled downloader (JSON progress) whose download mismatches."""
    return "\n".join(
        [
            event("start", url=URL, total=SIZE, resumed_from=0, workers=1),
            event("progress", done=SIZE // 2, total=SIZE, rate=1.0, eta=2.0),
            event("verify", done=SIZE, total=SIZE, sha256=actual),
            error("checksum_mismatch", discarded(actual), 5),
        ]
    )


# Lightning ASR downloading by itself: it validates after the download and leaves the file.
LIGHTNING = "\n".join(
    [
        "INFO: Starting Lightning ASR server (model cache: /app/models)",
        "INFO: Downloading model from URL...",
        "INFO: Model downloaded: 23.5GB",
        "ERROR: Model validation failed: checksum mismatch",
    ]
)
# Lightning's words around the bundled downloader's events (the simulated server).
WRAPPED = "\n".join(
    [
        "INFO: Downloading model from URL...",
        bundled_run(),
        "ERROR: Model validation failed: checksum mismatch",
    ]
)
# The bundled downloader with --progress human: its error as a plain line.
HUMAN = "\n".join(
    [
        "model.bin  50% 2.0 MiB/4.0 MiB  1.0 MiB/s  ETA 2s",
        f"error: {discarded()}",
    ]
)
# A cached file that fails validation: no download in the run (the corrupt-model scenario).
CACHED_LIGHTNING = "\n".join(
    [
        "INFO: Starting Lightning ASR server (model cache: /app/models)",
        f"ERROR: Model validation failed: checksum mismatch: {FILE}: sha256 mismatch, expected "
        f"{EXPECTED} but {FILE} has {ACTUAL}",
    ]
)
CACHED_BUNDLED = "\n".join(
    [
        event("verify", done=SIZE, total=SIZE, sha256=ACTUAL),
        error("checksum_mismatch", f"model.bin: sha256 mismatch, expected {EXPECTED} but …", 5),
    ]
)
# A file found in the cache after an earlier attempt's download had ended.
FOUND_IN_CACHE = "\n".join(
    [
        "INFO: Downloading model from URL...",
        "INFO: Server ready on port 2269",
        "INFO: Model found in cache: /app/models/model.bin",
        "ERROR: Model validation failed: checksum mismatch",
    ]
)


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        pytest.param(
            bundled_run(),
            evidence.Download(SIZE, EXPECTED, ACTUAL, kept=False),
            id="bundled-json",
        ),
        pytest.param(LIGHTNING, evidence.Download(23_500_000_000, kept=True), id="lightning-text"),
        pytest.param(
            WRAPPED, evidence.Download(SIZE, EXPECTED, ACTUAL, kept=False), id="lightning-wraps"
        ),
        pytest.param(
            HUMAN, evidence.Download(SIZE, EXPECTED, ACTUAL, kept=False), id="bundled-human"
        ),
        pytest.param(CACHED_LIGHTNING, None, id="cached-lightning"),
        pytest.param(CACHED_BUNDLED, None, id="cached-bundled"),
        pytest.param(FOUND_IN_CACHE, None, id="found-in-cache"),
    ],
)
def test_a_mismatch_right_after_the_runs_download_says_so(
    log: str, expected: evidence.Download | None
) -> None:
    attempt = evidence.read_attempt(log)
    assert [f.signal for f in attempt.findings][:1] == [evidence.CHECKSUM]
    assert evidence.downloaded(attempt.findings) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (discarded(), (EXPECTED, ACTUAL)),
        (
            f"Expected checksum {EXPECTED} did not match calculated checksum: {ACTUAL}",
            (EXPECTED, ACTUAL),
        ),
        (f"checksum mismatch: got sha256:{ACTUAL}, expected sha256:{EXPECTED}", (EXPECTED, ACTUAL)),
        (f"checksum mismatch {EXPECTED} != {ACTUAL}", (EXPECTED, ACTUAL)),
        (f"checksum mismatch for {EXPECTED}", (None, None)),  # which one it is, nobody says
        ("ERROR: Model validation failed: checksum mismatch", (None, None)),
    ],
)
def test_the_hashes_are_read_by_the_words_that_introduce_them(
    text: str, expected: tuple[str | None, str | None]
) -> None:
    assert evidence.mismatch_hashes(text) == expected


def test_the_same_wrong_sha256_in_two_runs_is_told_as_such() -> None:
    twice = runs(bundled_run(), previous=bundled_run(), restarts=1).attempt()
    download = evidence.downloaded(twice.findings)
    assert download is not None and download.twice and download.actual == ACTUAL
    other = runs(bundled_run(), previous=bundled_run(OTHER), restarts=1).attempt()
    download = evidence.downloaded(other.findings)
    assert download is not None and not download.twice
    assert download.before is not None and download.before.actual == OTHER
    # A run before that found the file cached tells nothing of a download.
    cached = runs(bundled_run(), previous=CACHED_LIGHTNING, restarts=1).attempt()
    download = evidence.downloaded(cached.findings)
    assert download is not None and download.before is None and not download.twice


def plan_of(
    *logs: evidence.ContainerLog, state: ModelState = ModelState.CORRUPT, **kw: Any
) -> ActionPlan:
    """Fix's plan for the pod, from its containers' logs."""
    snap = snapshot(pod("asr-a", state=state, **kw))
    return plan_fix(snap, "asr-a", ActionOptions(), log=logs)


def test_a_download_the_downloader_discarded_is_not_purged() -> None:
    """Nothing was placed and no partial is kept: a purge would only download it again."""
    plan = plan_of(runs(WRAPPED, restarts=0))
    assert plan.decision == SOURCE_MISMATCH and not plan.runnable and not plan.steps
    said = plan.refused or ""
    assert "The file was downloaded in this run and failed validation." in said, said
    assert "placed nothing, so there is nothing to delete" in said
    assert "a new download of 4.0 MiB would most likely fail the same way" in said
    assert "nothing a restart can fix" in said
    assert f"MODEL_CHECKSUM (sha256:{EXPECTED}) is the sha256 of the file at MODEL_URL" in said
    assert f"the download had sha256 {ACTUAL}" in said and "twice" not in said


def test_two_runs_with_the_same_wrong_sha256_make_it_certain() -> None:
    plan = plan_of(runs(WRAPPED, previous=WRAPPED, restarts=1))
    assert plan.decision == SOURCE_MISMATCH and not plan.runnable
    assert f"failed validation twice, the same sha256 {ACTUAL}" in (plan.refused or "")
    plan = plan_of(runs(WRAPPED, previous=bundled_run(OTHER), restarts=1))
    said = plan.refused or ""
    assert "twice" not in said and f"another sha256 ({OTHER})" in said, said


def test_a_downloaded_file_left_in_place_is_purged_with_a_warning() -> None:
    """Lightning leaves what it downloaded: only a purge gets it out of the way, but the plan
    says first that a new download will likely fail too, and what to check."""
    plan = plan_of(runs(LIGHTNING))
    assert plan.decision == SOURCE_MISMATCH and plan.runnable, plan.describe()
    rm = [s for s in plan.steps if isinstance(s, ExecStep) and s.argv[0] == "rm"]
    assert rm and rm[0].argv[2] == FILE
    first, check, *_ = plan.warnings
    assert first.startswith("the file was downloaded in this run and failed validation: ")
    assert "start a new download of 21.9 GiB, which will most likely fail the same way" in first
    assert check.startswith(f"Check first that MODEL_CHECKSUM ({CHECKSUM}) is the sha256 of ")
    assert "MODEL_URL (http://models.example/v1/model.bin)" in check
    assert NOT_KNOWN_CORRUPT not in plan.warnings
    assert plan.summary.startswith(
        "Evidence: ERROR: Model validation failed: checksum mismatch. The server left the bad "
        "download in place: only deleting it gets it out of the way"
    ), plan.summary


def test_a_bad_file_verify_saw_is_purged_even_when_the_downloader_discarded_its_own() -> None:
    seen = VerificationResult(FILE, CHECKSUM, ACTUAL, ok=False, checked_at=0.0)
    plan = plan_of(runs(WRAPPED), verification=seen)
    assert plan.decision == SOURCE_MISMATCH and plan.runnable, plan.describe()
    assert plan.warnings[0].startswith("the file was downloaded in this run")
    assert "Verify found it: only deleting it gets it out of the way" in plan.summary


def test_a_crash_loop_caught_downloading_again_names_the_last_runs_download() -> None:
    plan = plan_of(runs(AGAIN, previous=WRAPPED, restarts=2), state=ModelState.DOWNLOADING)
    said = plan.refused or ""
    assert plan.decision == SOURCE_MISMATCH and not plan.runnable
    assert said.startswith("Container lightning-asr restarted 2 times; the last run failed: ")
    assert "The file was downloaded in the last run and failed validation." in said, said
    # Left in place by Lightning: purged, with the warning that the file may have changed since.
    plan = plan_of(runs(AGAIN, previous=LIGHTNING, restarts=2), state=ModelState.DOWNLOADING)
    assert plan.decision == SOURCE_MISMATCH and plan.runnable
    assert plan.warnings[0].startswith("the file was downloaded in the last run")
    assert MISMATCH_BEFORE_RESTART in plan.warnings and NOT_KNOWN_CORRUPT not in plan.warnings


@pytest.mark.parametrize("log", [CACHED_LIGHTNING, CACHED_BUNDLED, FOUND_IN_CACHE])
def test_a_cached_file_that_fails_validation_keeps_the_purge_plan(log: str) -> None:
    seen = ("log: ERROR: Model validation failed: checksum mismatch",)
    snap = snapshot(pod("asr-a", state=ModelState.CORRUPT, evidence=seen))
    assert diagnose(snap, snap.pods[0], (runs(log),)).kind == "corrupt"
    plan = plan_fix(snap, "asr-a", ActionOptions(), log=(runs(log),))
    assert plan == plan_fix(snap, "asr-a", ActionOptions()), plan.describe()
    assert plan.decision == "corrupt" and plan.runnable


def test_a_crash_loop_whose_last_failure_the_snapshot_carries_is_read_from_its_last_run() -> None:
    """Between a restart and the new run's first bytes the snapshot keeps the last run's
    failure (state corrupt, its words, and that they are a run before's): fix still reads that
    run's log, which says whether it downloaded the file it then found bad."""
    carried = ("ERROR: Model validation failed: checksum mismatch", CARRIED_NOTE)
    plan = plan_of(runs(AGAIN, previous=WRAPPED, restarts=2), evidence=carried)
    said = plan.refused or ""
    assert plan.decision == SOURCE_MISMATCH and not plan.runnable, plan.describe()
    assert said.startswith("Container lightning-asr restarted 2 times; the last run failed: ")
    assert "The file was downloaded in the last run and failed validation." in said, said
    plan = plan_of(runs(AGAIN, previous=LIGHTNING, restarts=2), evidence=carried)
    assert plan.decision == SOURCE_MISMATCH and plan.runnable
    assert MISMATCH_BEFORE_RESTART in plan.warnings and NOT_KNOWN_CORRUPT not in plan.warnings
    # Its log gone (the dashboard came late): the snapshot's word on the run before stands.
    plan = plan_of(runs(AGAIN, restarts=2), evidence=carried)
    assert plan.decision == "corrupt" and plan.runnable, plan.describe()


def test_a_purge_of_a_model_only_a_run_before_found_bad_says_to_verify_first() -> None:
    carried = ("ERROR: Model validation failed: checksum mismatch", CARRIED_NOTE)
    snap = snapshot(pod("asr-a", state=ModelState.CORRUPT, evidence=carried))
    plan = plan_purge(snap, "asr-a", ActionOptions())
    assert plan.runnable and MISMATCH_BEFORE_RESTART in plan.warnings
    assert NOT_KNOWN_CORRUPT not in plan.warnings
    # Found bad by the run under way: no doubt to raise.
    now = snapshot(pod("asr-a", state=ModelState.CORRUPT, evidence=carried[:1]))
    assert MISMATCH_BEFORE_RESTART not in plan_purge(now, "asr-a", ActionOptions()).warnings
