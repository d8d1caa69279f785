"""A crash loop caught while it downloads again -> fix names the last run's failure.

stalled-download's one pod downloads over one connection. Here the model server fails every
run of its container (a 403, or a copy whose bytes do not match MODEL_CHECKSUM), so the kubelet
restarts it again and again. Once it has restarted, the server holds every response half way:
the next run is caught downloading, with nothing failed yet -- the moment on-call presses `f`
on a pod that shows "downloading" and a growing restart count.

When every download mismatches, a purge would only download the model again to fail the same
way, and the bundled downloader leaves nothing to delete: fix refuses, and says what to check.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

import pytest

from actions import fix, registry
from actions.plan import ActionPlan
from actions.purge import NOT_KNOWN_CORRUPT
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from collectors.report import attention
from collectors.state import relapsing
from simcluster.scenarios.spec import Size
from tests.actions.variants import faulted
from tests.actions.world import NS, World
from tests.polling import wait_until
from tui.action_cmds import EXIT_REFUSED, run
from tui.cli import build_parser
from tui.health import health

HALF_WAY = {"stall_after": Size(percent=50)}
# The server flips one byte of every download: the source does not match MODEL_CHECKSUM.
CORRUPT_AT = Size(percent=75)
EVERY_DOWNLOAD_MISMATCHES = {"corrupt_byte_at": CORRUPT_AT}
FAILURES = pytest.mark.parametrize(
    ("failing", "held", "decision", "cause", "exit_code"),
    [
        # The URL is refused: nothing a restart can change (the server is made to hold the next
        # run instead of refusing it, so that it is caught downloading).
        pytest.param(
            {"fail_status": 403},
            HALF_WAY,
            fix.URL_REFUSED,
            "403",
            EXIT_REFUSED,
            id="http-403",
        ),
        # Every download fails validation; the next one is held before the bad byte. The last
        # run downloaded the file and discarded it: nothing a purge or a restart can fix.
        pytest.param(
            EVERY_DOWNLOAD_MISMATCHES,
            {**EVERY_DOWNLOAD_MISMATCHES, **HALF_WAY},
            fix.SOURCE_MISMATCH,
            "mismatch",
            EXIT_REFUSED,
            id="checksum-mismatch",
        ),
    ],
)


def _pod(snap: ClusterSnapshot) -> PodInfo | None:
    return next((p for p in snap.pods if p.release == "lightning-asr" and not p.deleting), None)


def _downloading_again(snap: ClusterSnapshot) -> PodInfo | None:
    """The pod in a later run of its container, with bytes coming in (held half way)."""
    pod = _pod(snap)
    done = pod.progress.bytes_done if pod and pod.progress else None
    if pod and pod.restarts and pod.model_state == ModelState.DOWNLOADING and done:
        return pod
    return None


def _cli_fix(world: World, pod: str) -> tuple[int, str]:
    """``asr-cache-tui fix POD`` with no terminal to confirm on: it plans and prints."""
    argv = ["fix", pod, "--kubeconfig", str(world.kubeconfig), "-n", NS, "-l", world.selector]
    out, err = io.StringIO(), io.StringIO()
    code = run(build_parser().parse_args(argv), stdin=io.StringIO(), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


@FAILURES
def test_fix_during_a_crash_loops_next_download_names_the_last_runs_failure(
    start: Callable[..., World],
    failing: dict[str, Any],
    held: dict[str, Any],
    decision: str,
    cause: str,
    exit_code: int,
) -> None:
    world = start(faulted("stalled-download", "v1", **failing))
    world.watch()
    # Held from the third run on: the first restart is immediate (as a kubelet's is), so the
    # failed run's last lines and the next run's start can share a second, and a log line's
    # timestamp against a startedAt of whole seconds cannot say which run wrote it (a limit
    # of the collectors, not what this test is about); from the second restart on, the
    # back-off keeps a second between them.
    world.wait_snapshot(
        lambda s: (p := _pod(s)) and p.restarts >= 2, 30, "two runs failed and restarted"
    )
    world.on_loop(world.runtime.set_faults, "v1", held)
    snap = world.wait_snapshot(_downloading_again, 30, "a later run downloading")
    pod = _downloading_again(snap)
    assert pod is not None
    # The dashboard shows the run under way; the failure is the run before's, kept apart.
    assert pod.previous_run and cause in pod.previous_run, pod.previous_run
    # (What the pod showed, should this ever fail: a restart seen late by the log stream.)
    shown = (pod.evidence, pod.progress, pod.previous_run, pod.containers)
    assert fix.diagnose(snap, pod).kind == fix.NOTHING, ("the snapshot tells of no failure", shown)
    # ...but the dashboard marks it as a crash loop caught between crashes.
    assert relapsing(pod) and "1 ↻ after a failed run" in health(snap).text
    again = f"pod {pod.name}: downloading again after"
    listed = [a for a in attention(snap) if a.startswith(again)]
    assert listed and cause in listed[0], attention(snap)  # `status` exits 1 for it

    n = pod.restarts  # no restart while the run is held
    last_run = f"container lightning-asr restarted {n} time{'s' if n > 1 else ''}; the last run"
    plan = world.plan(registry.FIX, pod.name, on=snap)
    said = plan.refused if plan.refused else plan.summary
    assert plan.decision == decision, plan.describe()
    assert said and f"{last_run} failed: " in said.lower() and cause in said, said
    assert plan.diagnosis == fix.DIAGNOSES[decision], plan.diagnosis

    # The CLI says the same on its own snapshot, taken while the held run still downloads.
    code, printed = _cli_fix(world, pod.name)
    assert code == exit_code, printed
    assert f"{last_run} failed: " in printed.lower() and cause in printed, printed
    assert world.snapshot().pod(pod.name) is not None, "nothing was run"


def _between_crashes(snap: ClusterSnapshot) -> PodInfo | None:
    """The pod after a second failed run, waiting to be started again: its log and its
    previous log are both that run's, as a kubelet answers them during the back-off."""
    pod = _pod(snap)
    main = next((c for c in pod.containers if not c.init), None) if pod else None
    if pod and pod.restarts and main and main.reason == "CrashLoopBackOff":
        return pod
    return None


def _restarts_while_waiting(world: World, name: str) -> int | None:
    """The container's restart count, read now; None when it runs (a run is under way)."""
    obj = world.cluster.core.read_namespaced_pod(name, NS, _request_timeout=5)
    status = (obj.status.container_statuses or [None])[0]
    if status is None or status.state.waiting is None:
        return None
    return int(status.restart_count)


def _served_with_the_bad_byte(world: World) -> str:
    """The sha256 of what the server sends for v1: its bytes with one of them flipped."""
    model = world.model("v1")
    data = bytearray(model.read(0, model.size))
    data[CORRUPT_AT.of(model.size)] ^= 0xFF
    return hashlib.sha256(data).hexdigest()


def test_fix_when_every_download_mismatches_refuses_and_says_what_to_check(
    start: Callable[..., World],
) -> None:
    world = start(faulted("stalled-download", "v1", **EVERY_DOWNLOAD_MISMATCHES))
    world.watch()
    actual = _served_with_the_bad_byte(world)
    claim = world.claim_dir()

    def planned_between_crashes() -> (
        tuple[PodInfo, ActionPlan, ActionPlan, int, str, list[str]] | None
    ):
        snap = world.wait_snapshot(_between_crashes, 60, "a second failed run, waiting")
        pod = _between_crashes(snap)
        assert pod is not None
        plan = world.plan(registry.FIX, pod.name, on=snap)
        by_hand = world.plan(registry.PURGE, pod.name, on=snap)
        code, printed = _cli_fix(world, pod.name)
        files = sorted(p.name for p in claim.iterdir())
        if _restarts_while_waiting(world, pod.name) != pod.restarts:
            return None  # it started again meanwhile: what was read may be another run's
        return pod, plan, by_hand, code, printed, files

    pod, plan, by_hand, code, printed, files = wait_until(
        planned_between_crashes, 120, "a fix planned between two crashes"
    )
    # A purge asked for by hand (d) is not refused, but says the same before it is confirmed.
    assert by_hand.runnable, by_hand.refused
    warned = " ".join(by_hand.warnings)
    # Between two crashes the kubelet shows the run that just failed, plain and as previous:
    # the run before it cannot be read, so one failure is all that is claimed.
    assert "failed validation" in warned and actual in warned and "twice" not in warned, warned
    assert "which will most likely fail the same way" in warned, warned
    assert "Check first that MODEL_CHECKSUM" in warned and NOT_KNOWN_CORRUPT not in warned
    # The bundled downloader placed nothing and kept no partial: there is nothing to delete.
    assert "model.bin" not in files and "model.bin.part" not in files, files
    assert world.stats("v1").requests >= 2, "both runs downloaded the model"

    assert plan.decision == fix.SOURCE_MISMATCH and not plan.runnable and not plan.steps
    said = plan.refused or ""
    model = world.model("v1")
    for words in (
        "The file was downloaded in this run and failed validation.",
        f"the download had sha256 {actual}",
        "a new download of 4.0 MiB would most likely fail the same way",
        "nothing a restart can fix",
        f"Check first that MODEL_CHECKSUM (sha256:{model.sha256}) is the sha256 of the file at "
        "MODEL_URL (http://",
    ):
        assert words in said, said
        # The CLI prints the same, and runs nothing.
        assert words in printed, printed
    assert code == EXIT_REFUSED, printed
    assert world.audit_lines() == [] and not world.events("AsrCacheTuiFix")
    assert world.snapshot().pod(pod.name) is not None
