"""stalled-download -> fix: the pod is restarted and the download goes on, from its partial when
the cache outlives the pod.

The scenario's model server stops one connection at ~40% and the pod's downloader waits an hour
before giving up on it, so the stuck connection stays stuck, as a dead peer's would: only the
fix (a new pod, a new connection) moves the download on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from actions import registry
from collectors.model import ModelState, PodInfo
from tests.actions.conftest import MODEL
from tests.actions.variants import cache_in_emptydir
from tests.actions.world import World


def _stalled(world: World) -> PodInfo:
    world.watch()
    snap = world.wait_snapshot(
        lambda s: any(p.model_state == ModelState.STALLED for p in s.pods), 30, "a stalled pod"
    )
    pod = next(p for p in snap.pods if p.model_state == ModelState.STALLED)
    assert pod.progress is not None and pod.progress.bytes_done is not None
    assert 0 < pod.progress.bytes_done <= 0.45 * MODEL, "stuck at about 40%"
    assert world.stats("v1").stalls == 1
    return pod


def test_stalled_download_on_the_shared_claim_is_fixed_and_resumes_from_its_partial(
    start: Callable[..., World],
) -> None:
    world = start("stalled-download", stall_after=1.5)
    stuck = _stalled(world)
    done = stuck.progress.bytes_done if stuck.progress else None
    assert done is not None
    sent_before = world.stats("v1").bytes_sent
    plan = world.plan(registry.FIX, stuck.name)
    assert plan.runnable and plan.decision == "stalled-resumable", plan.describe()
    assert "kept and resumed" in plan.summary and not plan.warnings
    result = world.execute(plan)
    assert result.ok, result.message
    assert result.details["decision"] == "stalled-resumable"
    (new,) = result.details["ready_pods"]
    assert new != stuck.name and new in world.wait_ready("lightning-asr", 1)
    # Resumed: after the fix the server sent only the rest of the file, from a Range that
    # starts where the partial ended -- no request from zero for the whole file.
    stats = world.stats("v1")
    resumed = [r for r in stats.recent if r.range and not r.range.startswith("bytes=0-")]
    assert resumed, stats.recent
    start_at = int(resumed[-1].range.split("=")[1].split("-")[0])
    assert start_at >= done
    assert resumed[-1].status == 206 and resumed[-1].bytes_sent == MODEL - start_at
    assert stats.bytes_sent - sent_before < MODEL, "not a second whole file"
    on_claim = world.claim_dir() / "model.bin"
    assert hashlib.sha256(on_claim.read_bytes()).hexdigest() == world.model("v1").sha256
    world.assert_recorded("fix", "AsrCacheTuiFix", f"pod/{stuck.name}")
    assert world.audit_lines()[-1]["plan"]["decision"] == "stalled-resumable"


def test_stalled_download_on_an_emptydir_restarts_from_zero_and_the_plan_says_so(
    start: Callable[..., World],
) -> None:
    """Cached on an emptyDir instead, a restart cannot keep the partial."""
    world = start(cache_in_emptydir("stalled-download"), stall_after=1.5)
    stuck = _stalled(world)
    assert stuck.cache_kind == "emptyDir"
    sent_before = world.stats("v1").bytes_sent
    plan = world.plan(registry.FIX, stuck.name)
    assert plan.runnable and plan.decision == "stalled-resumable", plan.describe()
    assert "kept and resumed" not in plan.summary and "downloads from zero" in plan.summary
    assert any("emptyDir" in w and "from zero" in w for w in plan.warnings)
    result = world.execute(plan)
    assert result.ok, result.message
    (new,) = result.details["ready_pods"]
    assert new in world.wait_ready("lightning-asr", 1)
    # As the plan said: the whole file again.
    assert world.stats("v1").bytes_sent - sent_before >= MODEL
    world.assert_recorded("fix", "AsrCacheTuiFix", f"pod/{stuck.name}")
