"""A container killed for memory: a failure that says its limit, never taken for a bad model."""

from __future__ import annotations

import dataclasses
from typing import Any

from actions.fix import diagnose, plan_fix
from actions.options import ActionOptions
from actions.purge import plan_purge
from collectors.model import ClusterSnapshot, ModelState
from collectors.pods import pod_info
from collectors.progress import ProgressTracker
from collectors.state import model_state
from tests.actions.builders import pod, snapshot
from tests.collectors.podfactory import make_pod

LIMIT = "128Mi"


def _oom_pod(state: dict[str, Any], restarts: int = 3) -> dict[str, Any]:
    container = {
        "name": "lightning-asr",
        "image": "smallest/lightning-asr:v1",
        "env": [
            {"name": "MODEL_URL", "value": "http://models/v1/model.bin"},
            {"name": "MODEL_CACHE_DIR", "value": "/app/models"},
        ],
        "volumeMounts": [{"name": "models", "mountPath": "/app/models"}],
        "resources": {"limits": {"memory": LIMIT}},
    }
    status = {
        "name": "lightning-asr",
        "ready": False,
        "restartCount": restarts,
        "state": state,
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
    }
    return make_pod(containers=[container], statuses=[status])


BACKING_OFF = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting"}}


def test_a_container_killed_for_memory_is_failed_with_its_limit() -> None:
    info = pod_info(_oom_pod(BACKING_OFF))
    (c,) = info.containers
    assert c.oom_killed and c.memory_limit == 128 * 2**20 and c.last_reason == "OOMKilled"
    verdict = model_state(info, None, None, info.created_at + 1, 60.0)
    assert verdict.state is ModelState.FAILED
    assert verdict.evidence[0] == (
        "container lightning-asr was OOMKilled (exit 137, 3 restarts): its memory limit is "
        "128.0 MiB"
    )
    terminated = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    info = pod_info(_oom_pod(terminated, restarts=0))
    assert model_state(info, None, None, info.created_at + 1, 60.0).state is ModelState.FAILED


def test_between_two_kills_the_run_under_way_keeps_the_kill_until_it_gets_further() -> None:
    """The next run finds the model in the cache and loads it, as the one killed did: nothing
    it says is further than where the kill came, so the kill stays its state."""
    running = {"running": {"startedAt": "2026-11-27T10:01:00Z"}}
    info = pod_info(_oom_pod(running))
    now = info.created_at + 1
    tracker = ProgressTracker()
    unread = model_state(info, None, None, now, 60.0)
    for line in ("INFO: Model found in cache: /app/models/v1/model.bin", "INFO: Loading model..."):
        tracker.feed_text(line, now)
        verdict = model_state(info, tracker.facts(), None, now, 60.0)
        assert verdict.state is ModelState.FAILED, (line, verdict)
        assert verdict.evidence[0] == unread.evidence[0]
        assert verdict.evidence[0].startswith("container lightning-asr was OOMKilled")
    snap = ClusterSnapshot("ctx", "smallest", "https://api", 0.0, pods=(info,))
    assert diagnose(snap, info).kind == "out-of-memory", "the fix reads the run before"
    # Ready at last (a limit raised in place), or downloading again: judged by this run.
    tracker.feed_text("INFO: Server ready on port 2269", now + 1)
    assert model_state(info, tracker.facts(), None, now, 60.0).state is ModelState.READY
    fetching = ProgressTracker()
    fetching.feed_text("INFO: Downloading model from URL...", now)
    fetching.feed_text('{"v": 1, "event": "progress", "done": 10, "total": 100}', now + 1)
    assert model_state(info, fetching.facts(), None, now, 60.0).state is ModelState.DOWNLOADING


def test_fix_and_purge_do_not_blame_the_model() -> None:
    info = pod_info(_oom_pod(BACKING_OFF))
    verdict = model_state(info, None, None, info.created_at + 1, 60.0)
    info = dataclasses.replace(info, model_state=verdict.state, evidence=verdict.evidence)
    snap = ClusterSnapshot("ctx", "smallest", "https://api", 0.0, pods=(info,))
    plan = plan_fix(snap, info.name, ActionOptions())
    assert plan.decision == "out-of-memory" and not plan.steps
    assert "container lightning-asr's resources.limits.memory" in (plan.refused or "")
    assert "would not help" in (plan.refused or "")


def test_a_purge_says_the_pods_are_killed_for_memory_not_by_the_model() -> None:
    killed = pod("asr-a", state=ModelState.FAILED, running=False)
    (c,) = killed.containers
    killed = dataclasses.replace(
        killed,
        containers=(dataclasses.replace(c, reason="CrashLoopBackOff", last_reason="OOMKilled"),),
    )
    plan = plan_purge(snapshot(killed, pod("asr-b")), "asr-a", ActionOptions())
    assert plan.runnable, plan.describe()
    assert any(
        w.startswith("killed for memory (OOMKilled), not by a bad model: asr-a")
        for w in plan.warnings
    ), plan.warnings
