"""A container fails with a telling line, the kubelet restarts it, and the new run downloads: for
the dashboard the failure belongs to the run before, and is history; for fix, which must say what
to do before the new run ends, it is the evidence until that run says otherwise -- named as the
last run's.

corrupt-model's pods find a corrupt copy on the claim, log the checksum mismatch and crash-loop.
Here the bad copy goes away behind their back (no pod is replaced), so the next run of the same
containers downloads a good one. The model server holds every response half way and the
downloader uses one connection, so "downloading" (and, for the other pod, "waiting for the
lock") stays on screen for as long as the test looks.
"""

from __future__ import annotations

from collections.abc import Callable

from actions import fix, registry
from collectors.model import ClusterSnapshot, ModelState, PodInfo
from tests.actions.variants import held, with_env
from tests.actions.world import World

FILE = ("v1", "model.bin")
AFTER = (ModelState.DOWNLOADING, ModelState.WAITING)
ONE_CONN = {"MODEL_DOWNLOAD_WORKERS": "1"}  # one response, held half way: no race to the end


def _corrupt(snap: ClusterSnapshot) -> list[PodInfo]:
    return [
        p
        for p in snap.pods
        if p.model_state == ModelState.CORRUPT
        and any("checksum mismatch" in line for line in p.evidence)
    ]


def _rerun(snap: ClusterSnapshot, before: dict[str, int]) -> list[PodInfo]:
    """The pods of ``before`` (name -> restarts) in a later run, downloading or waiting."""
    pods = [snap.pod(name) for name in before]
    return [
        p for p in pods if p is not None and p.restarts > before[p.name] and p.model_state in AFTER
    ]


def _fetching(pod: PodInfo) -> bool:
    """Downloading, with bytes received (the server holds the response half way)."""
    done = pod.progress.bytes_done if pod.progress else None
    return pod.model_state == ModelState.DOWNLOADING and bool(done)


def _mentions_the_mismatch(text: str | None) -> bool:
    return bool(text) and ("checksum" in str(text).lower() or "mismatch" in str(text).lower())


def test_a_restarted_container_downloading_again_shows_its_run_and_is_fixed_by_the_last(
    start: Callable[..., World],
) -> None:
    scenario = with_env(held("corrupt-model", "v1", at_percent=50), "lightning-asr", **ONE_CONN)
    world = start(scenario)
    world.watch()
    snap = world.wait_snapshot(lambda s: len(_corrupt(s)) == 2, 30, "both pods corrupt")
    before = {p.name: p.restarts for p in _corrupt(snap)}
    for name in before:
        pod = snap.pod(name)
        assert pod is not None
        assert fix.diagnose(snap, pod).kind == fix.CORRUPT

    world.claim_dir().joinpath(*FILE).unlink()
    snap = world.wait_snapshot(
        lambda s: (
            sorted(p.model_state for p in _rerun(s, before)) == sorted(AFTER)
            and any(_fetching(p) for p in _rerun(s, before))
        ),
        30,
        "the same pods in a later run: one downloading, the other waiting for its lock",
    )
    for pod in _rerun(snap, before):
        where = f"{pod.name}: {pod.model_state.value} {pod.evidence} {pod.progress}"
        # The verdict is the new run's: nothing of the mismatch in its evidence or progress...
        assert not any(_mentions_the_mismatch(line) for line in pod.evidence), where
        assert pod.progress is None or not _mentions_the_mismatch(pod.progress.message), where
        # ...which is kept apart, as history.
        assert pod.previous_run and "checksum mismatch" in pod.previous_run, pod.previous_run
        # From the snapshot alone (the new run's words), fix does not pick the old cause.
        assert fix.diagnose(snap, pod).kind != fix.CORRUPT, where
    downloading = next(p for p in _rerun(snap, before) if _fetching(p))
    waiting = next(p for p in _rerun(snap, before) if p.model_state == ModelState.WAITING)
    assert fix.diagnose(snap, downloading).kind == fix.NOTHING

    # With the logs of both runs (what the service reads): the downloading run has not failed
    # yet, so its last run's mismatch is the evidence, and the plan says whose it is.
    plan = world.plan(registry.FIX, downloading.name, on=snap)
    assert plan.decision == fix.CORRUPT, plan.describe()
    n = downloading.restarts  # held half way: no restart between the snapshot and the plan
    restarted = f"container lightning-asr restarted {n} time{'s' if n > 1 else ''}"
    assert plan.summary.startswith(f"Evidence: {restarted}; the last run failed: "), plan.summary
    assert "checksum mismatch" in plan.summary, plan.summary
    assert fix.MISMATCH_BEFORE_RESTART in plan.warnings, plan.warnings
    # The run waiting for the lock speaks for itself: nothing to change there.
    plan = world.plan(registry.FIX, waiting.name, on=snap)
    assert plan.decision in (fix.LOCK_HELD, fix.LOCK_RELEASED), plan.describe()
    assert not plan.steps, "nothing to change: " + plan.describe()
