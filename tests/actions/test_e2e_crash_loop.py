"""A crash loop caught while it downloads again -> fix names the last run's failure.

stalled-download's one pod downloads over one connection. Here the model server fails every
run of its container (a 403, or a copy whose bytes do not match MODEL_CHECKSUM), so the kubelet
restarts it again and again. Once it has restarted, the server holds every response half way:
the next run is caught downloading, with nothing failed yet -- the moment on-call presses `f`
on a pod that shows "downloading" and a growing restart count.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from actions import fix, registry
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from simcluster.scenarios.spec import Size
from tests.actions.variants import faulted
from tests.actions.world import NS, World
from tui.action_cmds import EXIT_REFUSED, run
from tui.cli import build_parser
from tui.format import relapsing
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
    world.wait_snapshot(lambda s: (p := _pod(s)) and p.restarts, 30, "a run failed and restarted")
    world.on_loop(world.runtime.set_faults, "v1", held)
    snap = world.wait_snapshot(_downloading_again, 30, "a later run downloading")
    pod = _downloading_again(snap)
    assert pod is not None
    # The dashboard shows the run under way; the failure is the run before's, kept apart.
    assert pod.previous_run and cause in pod.previous_run, pod.previous_run
    assert fix.diagnose(snap, pod).kind == fix.NOTHING, "the snapshot alone tells of no failure"
    # ...but the dashboard marks it as a crash loop caught between crashes.
    assert relapsing(pod) and "1 ↻ after a failed run" in health(snap).text

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
